"""Refunds.

Custodial orders: the merchant asks, fluxa books it on the order under the row lock, and the
operator pays it out (the admin records the payout).

Deposit refunds: funds on an order's deposit address that are not the merchant's to keep (all
of a canceled, expired or failed order; the excess of an overpayment; what arrived after the
order closed) go back on-chain to a refund address, through the outgoing-transfer engine of
settlements: the chain family quotes the network cost and the net first (node reads), then
plans the transfers (a gas top-up where a token needs one), the engine stores the signed bytes
before it broadcasts them, and `refund_sync` follows them to the refund's status and its
events. See docs/refunds.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from celery import current_app
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from chains.adapters.base import ChainUnavailable
from chains.addresses import InvalidAddress, validate_address
from chains.derivation import xrpl_parse_x_address
from chains.networks import get_network
from core.errors import Conflict, Invalid, Unavailable, Unprocessable
from core.modes import Mode
from core.money import FIAT_DECIMALS, amount_text, check_decimal_places, money
from orders.models import Order, OrderStatus, PaymentException, SettlementMode
from orders.services import order_lock, order_snapshot, order_transition
from refunds.models import OPEN_DEPOSIT, Refund, RefundCause, RefundKind, RefundLeg, RefundStatus

# A deposit refund in one of these has left the deposit address, or may have.
SENT = (RefundStatus.BROADCAST, RefundStatus.CONFIRMED, RefundStatus.NEEDS_REVIEW)
from settlements import keys
from settlements.families import family_for, supported
from settlements.families.base import CannotSend, RefundQuote
from settlements.models import LegRole, OutboundStatus, Settlement, SettlementStatus
from settlements.services import batch_share, legs_status, plan_outbounds_create
from wallets.models import AddressState, DepositAddress, Transfer, TransferStatus
from webhooks.models import EventType
from webhooks.services import event_emit

logger = logging.getLogger(__name__)

ADVANCE_TASK = "refunds.tasks.advance_refund"
REFUNDABLE = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED)
# The order statuses whose every confirmed fund goes back in a deposit refund.
CLOSED_FOR_REFUND = (OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.FAILED, OrderStatus.REFUNDED)


def refund_snapshot(refund) -> dict:
    """The refund as webhook payloads and the API carry it."""
    data = {"id": refund.id, "order_id": refund.order_id, "kind": refund.kind, "amount": money(refund.amount),
            "currency": refund.currency, "reason": refund.reason, "status": refund.status,
            "tx_hash": refund.tx_hash}
    if refund.kind == RefundKind.DEPOSIT:
        data.update({
            "cause": refund.cause, "network": refund.network, "refund_address": refund.refund_address,
            "destination_tag": refund.destination_tag, "net": money(refund.net),
            "quoted_net": money(refund.quoted_net), "network_cost": money(refund.network_cost),
            "network_cost_asset": refund.network_cost_asset, "paid_by": refund.paid_by,
            "confirmations": refund.confirmations, "status_reason": refund.status_reason,
        })
    return data


# --- custodial refunds ------------------------------------------------------------------------


def _currency_decimals(order) -> int:
    return FIAT_DECIMALS.get(order.currency, order.channel.asset_decimals)


def refund_create(*, order_id: str, amount: Decimal | None, reason: str, actor: str) -> Refund:
    """Refund a custodial order: `amount` (default: all that is left) in the order's currency."""
    with transaction.atomic():
        order = order_lock(order_id)
        if order.settlement_mode != SettlementMode.CUSTODIAL:
            raise Unprocessable("refund_address_required", (
                "This order settles on-chain to your own wallet: a refund sends what is still on its deposit "
                f"address back to the payer. Give the payer's address: POST /api/v1/orders/{order.id}/refund with "
                '{"refund_address": "..."} (GET /api/v1/orders/' + order.id + '/refund_quote?refund_address=... '
                "shows what it costs first)."), param="refund_address")
        if order.status not in REFUNDABLE:
            raise Conflict("order_not_refundable", f"A {order.status} order cannot be refunded.")
        balance = order.amount - order.refunded_amount
        amount = balance if amount is None else amount
        check_decimal_places(amount, _currency_decimals(order), currency=order.currency, param="amount")
        if amount > balance:
            raise Unprocessable("refund_exceeds_balance", (
                f"Only {amount_text(balance, order.currency)} is left to refund."), param="amount")
        refund = Refund.objects.create(order=order, amount=amount, currency=order.currency, reason=reason,
                                       actor=actor)
        order.refunded_amount = order.refunded_amount + amount
        target = OrderStatus.REFUNDED if order.refunded_amount == order.amount else OrderStatus.PARTIALLY_REFUNDED
        fields = ["refunded_amount", "updated_at"]
        fields += order_transition(order, target, actor=actor,
                                   reason=f"refund {refund.id}: {amount_text(amount, order.currency)}",
                                   data={"refund_id": refund.id, "amount": money(amount)})
        order.save(update_fields=sorted(set(fields)))
        event_emit(merchant=order.merchant, mode=order.mode, type=EventType.REFUND_CREATED,
                   data={"refund": refund_snapshot(refund), "order": order_snapshot(order)})
    return refund


# --- deposit refunds: what is stuck -------------------------------------------------------------


@dataclass(frozen=True)
class Stuck:
    """What a deposit refund of the order would send back now, and why it is not the
    merchant's to keep."""

    amount: Decimal
    cause: str
    deposit: DepositAddress


def _deposit_of(order: Order) -> DepositAddress | None:
    return DepositAddress.objects.filter(order=order, network=order.network).order_by("-assigned_at").first()


def _confirmed_on(order: Order, deposit: DepositAddress) -> tuple[Decimal, Decimal]:
    """(confirmed real funds, confirmed simulated funds) of the order's asset on `deposit`."""
    transfers = Transfer.objects.filter(order=order, deposit_address=deposit, asset=order.asset,
                                        status=TransferStatus.CONFIRMED)
    real = transfers.filter(simulated=False).aggregate(s=Sum("amount"))["s"] or Decimal(0)
    simulated = transfers.filter(simulated=True).aggregate(s=Sum("amount"))["s"] or Decimal(0)
    return real, simulated


def _sent_back(order: Order) -> Decimal:
    """What deposit refunds of the order took off its deposit address (or will: those in
    flight), in the asset. A failed one took nothing."""
    return (Refund.objects.filter(order=order, kind=RefundKind.DEPOSIT).exclude(status=RefundStatus.FAILED)
            .aggregate(s=Sum("amount"))["s"] or Decimal(0))


def stuck_funds(order: Order) -> Stuck:
    """What a deposit refund of `order` sends back now, or the domain error that says why
    nothing can be. Reads only the database (what was recorded on the deposit address)."""
    if order.settlement_mode != SettlementMode.DIRECT:
        raise Unprocessable("not_a_deposit_refund", (
            "fluxa holds the funds of this custodial order: refund an amount with POST "
            f"/api/v1/orders/{order.id}/refund and no refund_address."))
    if order.status in (OrderStatus.CREATED, OrderStatus.PENDING):
        raise Conflict("order_not_refundable", (
            f"The order is {order.status}: the payer may still complete it. Cancel it first (PATCH "
            f'/api/v1/orders/{order.id} with {{"status": "canceled"}}), then refund what it received.'))
    deposit = _deposit_of(order) if order.network else None
    if deposit is None:
        raise Unprocessable("nothing_to_refund", "The order has no deposit address: nothing reached fluxa.")
    real, simulated = _confirmed_on(order, deposit)
    if real <= 0 and simulated > 0:
        raise Unprocessable("nothing_to_refund", (
            f"The {amount_text(simulated, order.asset)} on this test order were simulated: no funds are on-chain "
            "to send back."))
    available = real - _sent_back(order)
    if order.status in CLOSED_FOR_REFUND:
        cause = RefundCause.AFTER_CLOSE if order.status == OrderStatus.REFUNDED else RefundCause.CLOSED
        amount = available
    else:  # paid, partially refunded: only what the payer sent beyond the amount due
        if get_network(order.network).family == "utxo":
            raise Unprocessable("nothing_to_refund", (
                f"On {order.network} the settlement sends everything the deposit address received to your "
                "wallet, the excess of an overpayment with it: refund the payer from there."))
        cause = RefundCause.OVERPAYMENT
        amount = available - order.amount_due
    if amount <= 0:
        unconfirmed = (Transfer.objects.filter(order=order, deposit_address=deposit, asset=order.asset,
                                               status=TransferStatus.SEEN).aggregate(s=Sum("amount"))["s"]
                       or Decimal(0))
        later = (f" {amount_text(unconfirmed, order.asset)} is still waiting for confirmations."
                 if unconfirmed > 0 else "")
        what = "beyond the amount due " if cause == RefundCause.OVERPAYMENT else ""
        raise Unprocessable("nothing_to_refund", (
            f"Nothing {what}is left on the deposit address {deposit.address} to refund.{later}"))
    return Stuck(amount=amount, cause=cause, deposit=deposit)


def _checked_address(order: Order, address: str, tag: int | None) -> tuple[str, int | None]:
    if not address:
        raise Invalid("refund_address_required", (
            "Give the payer's address to send the refund to: refund_address (or set the order's refund "
            "address at charge time)."), param="refund_address")
    try:
        normal = validate_address(network=order.network, mode=order.mode, address=address)
    except InvalidAddress as error:
        raise Unprocessable("invalid_address", f"refund_address: {error.message}", param="refund_address") from None
    family = get_network(order.network).family
    if tag is not None and family != "xrpl":
        raise Invalid("invalid_destination_tag", f"{order.network} addresses take no destination tag.",
                      param="destination_tag")
    if family == "xrpl" and normal.startswith("X"):
        # An X-address carries its tag: kept as the classic account and the tag, as the
        # ledger (and the refund record, and its events) shows them.
        classic, x_tag, _test = xrpl_parse_x_address(normal)
        if x_tag is not None and tag is not None and x_tag != tag:
            raise Unprocessable("invalid_address", (
                f"refund_address carries destination tag {x_tag}, not the destination_tag {tag} given."),
                param="refund_address")
        normal, tag = classic, x_tag if x_tag is not None else tag
    if normal == order.deposit_address and tag in (None, order.destination_tag):
        raise Unprocessable("invalid_address", "refund_address is the order's own deposit address.",
                            param="refund_address")
    return normal, tag


def _family(order: Order):
    if not supported(order.network):
        raise Unprocessable("refunds_unsupported", f"Deposit refunds on {order.network} are not supported yet.")
    return family_for(order.network, order.mode)


def _quote(order: Order, stuck: Stuck, address: str, tag: int | None) -> RefundQuote:
    family = _family(order)
    try:
        return family.quote_refund(order=order, deposit=stuck.deposit, amount=stuck.amount, to_address=address,
                                   to_tag=tag)
    except CannotSend as refused:
        raise Unprocessable(refused.code, str(refused), param="refund_address"
                            if refused.code == "invalid_address" else None) from None
    except NotImplementedError as error:
        raise Unprocessable("refunds_unsupported", str(error)) from None
    except ChainUnavailable as error:  # the node is unreachable or answered nonsense: nothing was decided
        raise Unavailable("chain_unavailable", f"The {order.network} node cannot be read now: {error}") from None


@dataclass(frozen=True)
class Quote:
    order: Order
    cause: str
    refund_address: str
    destination_tag: int | None
    quote: RefundQuote

    def as_json(self) -> dict:
        q = self.quote
        return {"order_id": self.order.id, "network": self.order.network, "asset": self.order.asset,
                "cause": self.cause, "refund_address": self.refund_address, "destination_tag": self.destination_tag,
                "amount": money(q.amount), "net": money(q.net), "network_cost": money(q.network_cost),
                "network_cost_asset": q.cost_asset, "paid_by": q.paid_by, "notes": list(q.notes),
                "message": quote_text(self)}


def quote_text(quote: Quote) -> str:
    q = quote.quote
    asset = quote.order.asset
    to = quote.refund_address + (f" (destination tag {quote.destination_tag})"
                                 if quote.destination_tag is not None else "")
    if q.paid_by == "payer":
        return (f"{amount_text(q.net, asset)} reaches {to}: {amount_text(q.amount, asset)} "
                f"leaves the deposit address, less {amount_text(q.network_cost, q.cost_asset)} of network cost.")
    return (f"{amount_text(q.net, asset)} reaches {to}; the network cost, about "
            f"{amount_text(q.network_cost, q.cost_asset)}, is not taken from the refund: the operator pays it.")


def _address_given(order: Order, address: str | None, tag: int | None) -> tuple[str, int | None]:
    if address:
        return address, tag
    return order.refund_address, order.refund_destination_tag if tag is None else tag


def deposit_refund_quote(*, order_id: str, refund_address: str | None, destination_tag: int | None = None) -> Quote:
    """What a deposit refund of the order would send now: the amount, the network cost, the
    net the payer receives. Nothing is written."""
    order = Order.objects.select_related("channel", "merchant").get(pk=order_id)
    address, tag = _checked_address(order, *_address_given(order, refund_address, destination_tag))
    _refuse_in_flight(order)
    stuck = stuck_funds(order)
    return Quote(order=order, cause=stuck.cause, refund_address=address, destination_tag=tag,
                 quote=_quote(order, stuck, address, tag))


def deposit_refund_create(*, order_id: str, refund_address: str | None, destination_tag: int | None = None,
                          reason: str = "", actor: str, expected_net: Decimal | None = None) -> Refund:
    """Send the order's stuck funds back to `refund_address` (default: the order's refund
    address). The quote is read first (node reads, no lock); then, under the order's row lock,
    the funds are checked again, the refund and its transfers are planned, and `refund.created`
    goes out; the transfers are built and sent by the worker after commit. `expected_net`: the
    net a person was shown and confirmed (the portal); a quote that moved since is refused
    (409 refund_quote_changed) and nothing is written."""
    quoted = deposit_refund_quote(order_id=order_id, refund_address=refund_address, destination_tag=destination_tag)
    if expected_net is not None and quoted.quote.net != expected_net:
        asset = quoted.order.asset
        raise Conflict("refund_quote_changed", (
            f"The refund now sends {amount_text(quoted.quote.net, asset)} to {quoted.refund_address}, not the "
            f"{amount_text(expected_net, asset)} you confirmed (the network cost or the funds moved): ask again."))
    with transaction.atomic():
        order = order_lock(order_id)
        _refuse_in_flight(order)
        stuck = stuck_funds(order)
        if stuck.amount != quoted.quote.amount:
            raise Conflict("refund_quote_changed", (
                f"The deposit address holds {amount_text(stuck.amount, order.asset)} to refund now, not the "
                f"{amount_text(quoted.quote.amount, order.asset)} just quoted: ask again."))
        q = quoted.quote
        refund = Refund(order=order, kind=RefundKind.DEPOSIT, cause=stuck.cause, amount=q.amount,
                        currency=order.asset, network=order.network, refund_address=quoted.refund_address,
                        destination_tag=quoted.destination_tag, quoted_net=q.net, quoted_network_cost=q.network_cost,
                        network_cost_asset=q.cost_asset, paid_by=q.paid_by, reason=reason[:500], actor=actor)
        try:
            with transaction.atomic():
                refund.save(force_insert=True)
        except IntegrityError:
            _refuse_in_flight(order, constraint=True)
            raise
        family = _family(order)
        try:
            plan = family.plan_refund(refund=refund, order=order, deposit=stuck.deposit,
                                      to_address=refund.refund_address, to_tag=refund.destination_tag, quote=q,
                                      fee_payer_address=keys.fee_payer_address(network=order.network, mode=order.mode))
        except CannotSend as refused:  # what the quote allowed, the plan refuses (the records changed between)
            raise Unprocessable(refused.code, str(refused)) from None
        for outbound, role in plan_outbounds_create(plan, network=order.network, mode=order.mode):
            RefundLeg.objects.create(refund=refund, outbound=outbound, role=role)
        _emit(refund, EventType.REFUND_CREATED, order=order)
        transaction.on_commit(lambda: advance_enqueue(refund.id))
    return refund


def _refuse_in_flight(order: Order, *, constraint: bool = False) -> None:
    open_refund = Refund.objects.filter(order=order, kind=RefundKind.DEPOSIT, status__in=OPEN_DEPOSIT).first()
    if open_refund is not None or constraint:
        which = open_refund.id if open_refund else "another refund"
        raise Conflict("refund_in_progress", (
            f"{which} of this order is still {open_refund.status if open_refund else 'in flight'}: one deposit "
            f"refund moves an order's funds at a time (GET /api/v1/orders/{order.id} shows it)."),
            refund_id=open_refund.id if open_refund else None)


# --- deposit refunds: following the transfers --------------------------------------------------

_STATUS_FROM = {
    SettlementStatus.PENDING: RefundStatus.PENDING, SettlementStatus.HELD: RefundStatus.HELD,
    SettlementStatus.BROADCAST: RefundStatus.BROADCAST, SettlementStatus.CONFIRMED: RefundStatus.CONFIRMED,
    SettlementStatus.FAILED: RefundStatus.FAILED, SettlementStatus.NEEDS_REVIEW: RefundStatus.NEEDS_REVIEW,
}
_EVENT_FOR = {RefundStatus.BROADCAST: EventType.REFUND_BROADCAST, RefundStatus.CONFIRMED: EventType.REFUND_CONFIRMED,
              RefundStatus.FAILED: EventType.REFUND_FAILED}
_RANK = {RefundStatus.PENDING: 0, RefundStatus.HELD: 0, RefundStatus.BROADCAST: 1, RefundStatus.NEEDS_REVIEW: 1,
         RefundStatus.CONFIRMED: 2, RefundStatus.FAILED: 2}


def refund_sync(*, refund_id: str) -> Refund:
    """Bring a deposit refund's status, tx hash, net, cost and confirmations in line with its
    transfers, under the order's and the refund's row locks; each status it reaches is
    announced once. Confirmed: the order is `refunded` when nothing of its asset is left on
    the deposit address, and that address is released (never handed out again)."""
    order_id = Refund.objects.values_list("order_id", flat=True).get(pk=refund_id)
    with transaction.atomic():
        order = order_lock(order_id)
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        legs = list(RefundLeg.objects.filter(refund=refund).select_related("outbound"))
        if not legs or refund.status in (RefundStatus.CONFIRMED, RefundStatus.FAILED):
            return refund
        derived, reason = legs_status(legs)
        status = _STATUS_FROM[derived]
        net = next((leg.outbound for leg in legs if leg.role == LegRole.NET), None)
        before = refund.status
        refund.status = status
        refund.status_reason = reason
        if net is not None:
            refund.tx_hash = net.txid or (net.candidates.order_by("-created_at").values_list("txid", flat=True).first()
                                          or "")
            refund.confirmations = net.confirmations
            paid = [o for o in net.paid_outputs or [] if o.get("role") == "net"]
            if paid and net.status != OutboundStatus.PLANNED:
                refund.net = sum((Decimal(o["amount"]) for o in paid), Decimal(0))
            share = batch_share(net, refund.id)
            if share is not None:
                refund.net = Decimal(share["net"])
        costs = [leg.outbound.network_cost for leg in legs if leg.outbound.network_cost is not None
                 and leg.outbound.status != OutboundStatus.PLANNED]
        if costs:
            refund.network_cost = sum(costs, Decimal(0))
        if status == RefundStatus.FAILED and (net is None or not net.candidates.filter(status="mined").exists()):
            refund.net = Decimal(0)
        if status == RefundStatus.CONFIRMED and refund.confirmed_at is None:
            refund.confirmed_at = timezone.now()
        refund.save()
        returned = (Refund.objects.filter(order=order, kind=RefundKind.DEPOSIT, status__in=SENT)
                    .aggregate(s=Sum("amount"))["s"] or Decimal(0))
        if order.amount_returned != returned:
            order.amount_returned = returned
            order.save(update_fields=["amount_returned", "updated_at"])
        if status != before and status in _EVENT_FOR and _RANK.get(status, 0) >= _RANK.get(before, 0):
            if status == RefundStatus.CONFIRMED and before in (RefundStatus.PENDING, RefundStatus.HELD):
                _emit(refund, EventType.REFUND_BROADCAST, order=order)
            if status == RefundStatus.CONFIRMED:
                _close_order(order, refund)
            _emit(refund, _EVENT_FOR[status], order=order)
    return refund


def _close_order(order: Order, refund: Refund) -> None:
    """A confirmed deposit refund: a closed order whose deposit holds nothing more of its
    asset becomes refunded, and its address leaves the order (marked used: it received funds,
    so it is never handed out again)."""
    deposit = _deposit_of(order)
    real, _ = _confirmed_on(order, deposit) if deposit else (Decimal(0), Decimal(0))
    left = real - _sent_back(order)
    if refund.cause in (RefundCause.CLOSED, RefundCause.AFTER_CLOSE) and left <= 0:
        fields = ["updated_at"]
        if order.status != OrderStatus.REFUNDED:
            fields += order_transition(order, OrderStatus.REFUNDED, actor="system:refund",
                                       reason=f"deposit refund {refund.id}: {amount_text(refund.net or 0, order.asset)}"
                                       f" sent to {refund.refund_address} ({refund.tx_hash})",
                                       data={"refund_id": refund.id, "net": money(refund.net)})
        if order.payment_exception == PaymentException.RECEIVED_AFTER_CLOSE:
            order.payment_exception = PaymentException.NONE
            fields.append("payment_exception")
        order.save(update_fields=sorted(set(fields)))
        if deposit is not None and deposit.state == AddressState.ASSIGNED:
            DepositAddress.objects.filter(pk=deposit.pk).update(state=AddressState.USED)


def _emit(refund: Refund, type: str, *, order: Order) -> None:
    event_emit(merchant=order.merchant_id, mode=order.mode, type=type,
               data={"refund": refund_snapshot(refund), "order": order_snapshot(order)})


def advance_enqueue(refund_id: str) -> None:
    try:
        current_app.send_task(ADVANCE_TASK, args=[refund_id])
    except Exception:  # broker down: the beat job advance_refunds picks it up
        logger.warning("could not enqueue refund %s; beat will advance it", refund_id)


# --- the merchant's policy ---------------------------------------------------------------------


def auto_refunds_due(*, limit: int = 100) -> list[str]:
    """Orders whose merchant refunds by themselves (Merchant.auto_refund) and that hold funds a
    refund sends back now: an overpayment's excess once the order's settlement is confirmed
    (live) or at once (test mode), a late payment the late-payment setting refused (the order
    stayed expired), funds that reached a closed order; each with a refund address. Funds of an
    order the merchant canceled wait for the merchant."""
    candidates = (Order.objects.filter(merchant__auto_refund=True, settlement_mode=SettlementMode.DIRECT)
                  .exclude(refund_address="")
                  .filter(payment_exception__in=[PaymentException.OVERPAID, PaymentException.PAID_LATE,
                                                 PaymentException.RECEIVED_AFTER_CLOSE])
                  .exclude(refunds__kind=RefundKind.DEPOSIT, refunds__status__in=OPEN_DEPOSIT)
                  .order_by("updated_at", "id").values_list("id", "status", "mode", "payment_exception"))
    due = []
    for order_id, status, mode, exception in candidates[:limit * 5]:
        earlier = set(Refund.objects.filter(order_id=order_id, kind=RefundKind.DEPOSIT).values_list("status",
                                                                                                flat=True))
        if RefundStatus.FAILED in earlier or (earlier and exception != PaymentException.RECEIVED_AFTER_CLOSE):
            continue  # one automatic refund per overpayment or late payment; a failed one waits for a person
        if exception == PaymentException.OVERPAID:
            if status != OrderStatus.PAID:
                continue
            if mode == Mode.LIVE and not Settlement.objects.filter(order_id=order_id,
                                                                    status=SettlementStatus.CONFIRMED).exists():
                continue
        elif exception == PaymentException.PAID_LATE and status != OrderStatus.EXPIRED:
            continue
        elif exception == PaymentException.RECEIVED_AFTER_CLOSE and status not in CLOSED_FOR_REFUND:
            continue
        due.append(order_id)
        if len(due) >= limit:
            break
    return due


def auto_refund(*, order_id: str) -> Refund | None:
    """The merchant's automatic refund of one order (auto_refunds_due); None with a log line
    when nothing can be sent now (the quote refused: below dust, a node down...)."""
    try:
        return deposit_refund_create(order_id=order_id, refund_address=None, actor="system:auto_refund",
                                     reason="automatic refund (merchant setting)")
    except (Unprocessable, Conflict, Invalid, Unavailable) as refused:
        logger.info("automatic refund of %s not sent: %s (%s)", order_id, refused.code, refused.message)
        return None
