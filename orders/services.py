"""Everything that moves an order: the lifecycle state machine (one table of allowed
transitions), applying incoming transfers, expiry, the merchant's manual status changes and
deletion, and test-mode payment simulation.

Every change runs in a transaction with the order row locked, is idempotent, and writes an
append-only OrderEvent in the same transaction.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from chains.addresses import InvalidAddress, normalize_address, validate_address
from chains.uris import payment_uri
from core import fastsql
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.money import amount_text, check_decimal_places, money
from core.times import iso_utc
from orders.models import Order, OrderEvent, OrderStatus, Payment, PaymentException, PaymentStatus, SettlementMode
from wallets.models import AddressState, DepositAddress, Transfer, TransferStatus
from wallets.selectors import NO_FUNDS, Funds, OrderFunds, funds_received, funds_received_by_order
from wallets.services import deposit_address_reserve
from webhooks.models import EventType
from webhooks.services import NewEvent, event_emit, event_emitted, event_statements, events_emit

logger = logging.getLogger("fluxa.orders")

# The one table of allowed transitions (the order lifecycle).
TRANSITIONS: dict[str, frozenset[str]] = {
    OrderStatus.CREATED: frozenset({
        OrderStatus.PENDING, OrderStatus.PAID, OrderStatus.EXPIRED, OrderStatus.CANCELED, OrderStatus.FAILED}),
    # -> created: a reorg dropped every transfer seen so far.
    OrderStatus.PENDING: frozenset({
        OrderStatus.PAID, OrderStatus.EXPIRED, OrderStatus.CANCELED, OrderStatus.FAILED, OrderStatus.CREATED}),
    # -> pending / created: a reorg, or the merchant reverting a manual "paid".
    OrderStatus.PAID: frozenset({
        OrderStatus.PENDING, OrderStatus.CREATED, OrderStatus.REFUNDED, OrderStatus.PARTIALLY_REFUNDED}),
    OrderStatus.PARTIALLY_REFUNDED: frozenset({OrderStatus.REFUNDED}),
    # -> paid / pending: a late payment the merchant accepts, a payment that arrived in time
    # but was seen after the expiry, or the merchant reopening it.
    # -> refunded: a deposit refund sent everything the order received back to the payer.
    OrderStatus.EXPIRED: frozenset({OrderStatus.PAID, OrderStatus.PENDING, OrderStatus.REFUNDED}),
    OrderStatus.CANCELED: frozenset({OrderStatus.PENDING, OrderStatus.REFUNDED}),
    OrderStatus.FAILED: frozenset({OrderStatus.REFUNDED}),
    OrderStatus.REFUNDED: frozenset(),
}

PAYMENT_STATUS_FOR = {
    OrderStatus.CREATED: PaymentStatus.INITIATED,
    OrderStatus.PENDING: PaymentStatus.PROCESSING,
    OrderStatus.PAID: PaymentStatus.SUCCEEDED,
    OrderStatus.EXPIRED: PaymentStatus.EXPIRED,
    OrderStatus.CANCELED: PaymentStatus.CANCELED,
    OrderStatus.FAILED: PaymentStatus.FAILED,
}

# Orders whose payment is over: money that still arrives is recorded and announced, never
# applied to their status.
CLOSED = (OrderStatus.CANCELED, OrderStatus.FAILED, OrderStatus.REFUNDED, OrderStatus.PARTIALLY_REFUNDED)


def is_step_back(from_status: str, to_status: str) -> bool:
    """A move back along the lifecycle (a reorg, or the merchant reopening a paid order): it
    is announced as order.reverted, with the status it left and why."""
    return (from_status, to_status) in {
        (OrderStatus.PAID, OrderStatus.PENDING), (OrderStatus.PAID, OrderStatus.CREATED),
        (OrderStatus.PENDING, OrderStatus.CREATED)}


MANUAL_TARGETS = (OrderStatus.PENDING, OrderStatus.PAID, OrderStatus.CANCELED)


class InvalidTransition(Conflict):
    def __init__(self, order: Order, to_status: str):
        super().__init__(
            "invalid_status_transition",
            f"An order cannot go from {order.status} to {to_status}.",
            param="status",
        )


@dataclass
class Change:
    """What a service did to an order, for the API to report."""
    order: Order
    changed: bool
    warnings: list[dict] = field(default_factory=list)


def order_lock(order_id: str) -> Order:
    """The order row, locked (SELECT ... FOR UPDATE) until the caller's transaction ends, with
    its merchant and channel. Every change of an order starts here."""
    return Order.objects.select_for_update(of=("self",)).select_related("merchant", "channel").get(pk=order_id)


def order_transition(
    order: Order,
    to_status: str,
    *,
    actor: str,
    reason: str = "",
    exception: str | None = None,
    data: dict | None = None,
    now: datetime | None = None,
    writes: Writes | None = None,
) -> list[str]:
    """Change a LOCKED order's status (or only its payment exception); returns the fields to
    save. Raises InvalidTransition for a move the table does not allow. The audit row, the
    payment's status and the webhook events are written now, or kept in `writes` (a batch of
    orders, written together by its flush, in the same transaction)."""
    now = now or timezone.now()
    from_status, from_exception = order.status, order.payment_exception
    new_exception = from_exception if exception is None else exception
    if to_status == from_status and new_exception == from_exception:
        return []
    if to_status != from_status and to_status not in TRANSITIONS[from_status]:
        raise InvalidTransition(order, to_status)
    fields = ["status", "payment_exception", "updated_at"]
    order.status = to_status
    order.payment_exception = new_exception
    if to_status == OrderStatus.PAID and from_status != OrderStatus.PAID:
        order.paid_at = now
        fields.append("paid_at")
    elif to_status in (OrderStatus.PENDING, OrderStatus.CREATED) and order.paid_at is not None:
        order.paid_at = None
        fields.append("paid_at")
    batch = writes if writes is not None else Writes(now=now)
    batch.audit.append(OrderEvent(
        order=order,
        from_status=from_status,
        to_status=to_status,
        payment_exception=new_exception,
        actor=actor,
        reason=reason,
        data=data or {},
    ))
    if to_status != from_status and to_status in PAYMENT_STATUS_FOR:
        batch.payments[order.pk] = PAYMENT_STATUS_FOR[to_status]
    _announce(order, from_status=from_status, reason=reason,
              exception_raised=bool(new_exception) and new_exception != from_exception, writes=batch)
    if writes is None:
        batch.flush()
    return fields


class Writes:
    """What changes of orders write besides the orders themselves, kept until flush(): the
    audit rows (OrderEvent), the payments' new statuses and the webhook events, each kind in
    one statement; and, for a batch (orders_apply_transfers), the orders' changed fields and
    the payments that take their first transaction hash. Everything in the caller's
    transaction, with the orders locked; the deliveries' first attempts go out after commit."""

    def __init__(self, *, now: datetime):
        self.now = now
        self.audit: list[OrderEvent] = []
        self.payments: dict[str, str] = {}  # order id -> the payment's status (the last move's)
        self.events: list[NewEvent] = []
        self.orders: dict[str, Order] = {}  # saved with the union of their fields
        self.fields: set[str] = set()
        self.referenced: list[str] = []  # orders with live transfers: their payment's channel_ref

    def save(self, order: Order, fields: list[str]) -> None:
        self.orders[order.pk] = order
        self.fields.update(fields)

    def flush(self) -> None:
        # The orders are locked and loaded: a field saved for one order and unchanged on
        # another is written with the value it has.
        fastsql.update_many(list(self.orders.values()), sorted(self.fields))
        fastsql.insert_many(self.audit, increasing="created_at")
        by_status: dict[str, list[str]] = {}
        for order_id, status in self.payments.items():
            by_status.setdefault(status, []).append(order_id)
        for status, order_ids in sorted(by_status.items()):
            Payment.objects.filter(order_id__any=order_ids).update(status=status, updated_at=self.now)
        if self.referenced:
            first = (Transfer.objects.filter(order_id=OuterRef("order_id")).exclude(status=TransferStatus.REVERTED)
                     .order_by("detected_at", "id").values("tx_hash")[:1])
            Payment.objects.filter(order_id__any=self.referenced, channel_ref="").update(channel_ref=Subquery(first))
        events_emit(self.events)


def order_snapshot(order) -> dict:
    """The order as webhook payloads carry it (the fields of GET /api/v1/orders/{id}'s order
    that a receiver acts on)."""
    return {
        "id": order.id,
        "merchant_order_id": order.merchant_order_id,
        "channel_code": order.channel_id,
        "network": order.network,
        "status": order.status,
        "payment_exception": order.payment_exception,
        "is_test": order.is_test,
        "amount": money(order.amount),
        "currency": order.currency,
        "asset": order.asset,
        "amount_due": money(order.amount_due),
        "amount_received": money(order.amount_received),
        "amount_confirmed": money(order.amount_confirmed),
        "refunded_amount": money(order.refunded_amount),
        "deposit_address": order.deposit_address,
        "metadata": order.metadata,
        "expires_at": iso_utc(order.expires_at),
        "paid_at": iso_utc(order.paid_at),
        "created_at": iso_utc(order.created_at),
    }


def _announce(order: Order, *, from_status: str, reason: str, exception_raised: bool, writes: Writes) -> None:
    """Webhook events, in the transaction of the change they announce: one for every status
    change (order.<new status>, or order.reverted for a step back), one for a new payment
    exception. Each carries the status the order left and why."""
    status_changed = order.status != from_status
    if not (status_changed or exception_raised):
        return
    data = {"order": order_snapshot(order), "previous_status": from_status, "reason": reason}
    if status_changed:
        kind = EventType.ORDER_REVERTED if is_step_back(from_status, order.status) else f"order.{order.status}"
        writes.events.append(NewEvent(order.merchant_id, order.mode, kind, data))
    if exception_raised:
        writes.events.append(NewEvent(order.merchant_id, order.mode, EventType.ORDER_PAYMENT_EXCEPTION, data))


def order_record_created(*, order: Order, payment: Payment, actor: str) -> None:
    """Write a new order (with its deposit address already assigned), its payment, its first
    OrderEvent and the order.created webhook event with its deliveries, inside the caller's
    transaction and in one round trip (core.fastsql)."""

    rows = [fastsql.insert(order), fastsql.insert(payment)]  # sets created_at, read by the snapshot
    first = OrderEvent(order=order, from_status="", to_status=order.status, actor=actor, reason="charge created")
    rows.append(fastsql.insert(first))
    event, emitting = event_statements(merchant_id=order.merchant_id, mode=order.mode, type=EventType.ORDER_CREATED,
                                       data={"order": order_snapshot(order)})
    delivered = fastsql.execute([*rows, *emitting])
    fastsql.mark_saved(order, payment, event)
    event_emitted([row[0] for row in delivered])


def order_record_priced(*, order: Order, actor: str, reason: str) -> None:
    """A LOCKED order that waited for the payer's channel choice got its channel, price and
    address (charges.services.charge_choose_channel): the audit row and the order.priced
    webhook event, in the caller's transaction. The status does not change."""
    data = {"channel": order.channel_id, "amount_due": str(order.amount_due)}
    OrderEvent.objects.create(order=order, from_status=order.status, to_status=order.status, actor=actor,
                              reason=reason, data=data)
    event_emit(merchant=order.merchant, mode=order.mode, type=EventType.ORDER_PRICED,
               data={"order": order_snapshot(order), "previous_status": order.status, "reason": reason})


def order_assign_deposit_address(*, order: Order, fresh: bool = False, backed_up_root: bool = False) -> list[str]:
    """Give a (locked or new) order its deposit address and payment URI, inside the caller's
    transaction; returns the fields to save. An order that still holds its address (open,
    or used because funds arrived) keeps it. `fresh`: the order is being created in this
    transaction (not inserted yet), so it holds nothing. `backed_up_root`: see
    wallets.services.deposit_address_reserve. An order still waiting for the payer's channel
    choice has no network yet, so no address either."""

    if order.channel_id is None:
        return []
    if not fresh and order.deposit_address:
        held = DepositAddress.objects.filter(order=order, network=order.network,
                                             state__in=[AddressState.ASSIGNED, AddressState.USED])
        if held.filter(address=order.deposit_address).exists():
            return []
    deposit = deposit_address_reserve(network=order.network, mode=order.mode, order=order, fresh=fresh,
                                      backed_up_root=backed_up_root)
    token = order.channel.token_contract_for(order.mode) or None
    order.deposit_address = deposit.address
    order.destination_tag = deposit.destination_tag
    order.payment_uri = payment_uri(
        network=order.network, mode=order.mode, address=deposit.address, amount=order.amount_due, token=token,
        token_decimals=order.channel.asset_decimals if token else None, destination_tag=deposit.destination_tag,
    )
    return ["deposit_address", "destination_tag", "payment_uri"]


# --- incoming funds ---------------------------------------------------------------------------


def paid_threshold(order: Order) -> Decimal:
    """The least confirmed amount that counts as paid, after the merchant's tolerance."""
    tolerance = order.merchant.underpaid_tolerance_percent or Decimal(0)
    return order.amount_due * (Decimal(100) - tolerance) / Decimal(100)


def decide(
    *, status: str, due: Decimal, threshold: Decimal, received: Decimal, confirmed: Decimal,
    late: bool, accept_late: bool, in_time: Funds | None = None,
) -> tuple[str, str]:
    """The status and payment exception an order should have, given its funds (`in_time`: the
    funds that arrived before the expiry, by block time). Pure."""
    if status in (OrderStatus.CREATED, OrderStatus.PENDING, OrderStatus.PAID):
        if confirmed > 0 and confirmed >= threshold:
            return OrderStatus.PAID, PaymentException.OVERPAID if confirmed > due else PaymentException.NONE
        if received > 0:
            exception = PaymentException.UNDERPAID if received < threshold else PaymentException.NONE
            return OrderStatus.PENDING, exception
        return OrderStatus.CREATED, PaymentException.NONE
    if status == OrderStatus.EXPIRED:
        if received <= 0:
            return OrderStatus.EXPIRED, PaymentException.NONE
        if in_time is not None and in_time.received >= threshold:
            # Enough arrived before the expiry (by block time), seen only after it (a scanner
            # restart, a slow node): the order was paid in time, whatever came later.
            if in_time.confirmed >= threshold:
                return OrderStatus.PAID, PaymentException.OVERPAID if confirmed > due else PaymentException.NONE
            return OrderStatus.PENDING, PaymentException.NONE
        if late and accept_late and confirmed >= threshold:
            return OrderStatus.PAID, PaymentException.PAID_LATE
        return OrderStatus.EXPIRED, PaymentException.PAID_LATE if late else PaymentException.UNDERPAID
    return status, PaymentException.NONE  # canceled, failed, refunded: only the amounts change


APPLY_CHUNK = 500  # orders locked and written together in one transaction


def order_apply_transfers(*, order_id: str, actor: str = "system:chain") -> Change:
    """Recompute an order's funds from its Transfer rows and move it accordingly.

    Idempotent: applying the same transfers twice changes nothing the second time.
    """
    changes = orders_apply_transfers(order_ids=[order_id], actor=actor)
    if not changes:
        raise Order.DoesNotExist(f"Order {order_id} does not exist.")
    return changes[0]


def orders_apply_transfers(*, order_ids, actor: str = "system:chain") -> list[Change]:
    """order_apply_transfers for many orders (a scan pass's touched orders), each recomputed
    once, by the same rules. In chunks of APPLY_CHUNK, one transaction each: the chunk's orders
    locked in id order (so two batches never wait on each other in a cycle), their funds read
    in one aggregate, and what they write (the orders, their audit rows, payments, webhook
    events and deliveries) written one statement a kind (Writes). A chunk commits whole or not
    at all; applying again changes nothing."""
    ids = sorted(set(order_ids))
    changes: list[Change] = []
    for start in range(0, len(ids), APPLY_CHUNK):
        chunk = ids[start:start + APPLY_CHUNK]
        try:
            changes += _apply_chunk(chunk, actor=actor)
        except Exception:
            if len(ids) == 1:
                raise
            # One order that cannot be applied must not hold back the others of its chunk:
            # each again on its own; the ones that fail are left out of the result (the
            # scanner keeps them pending and the next pass tries again).
            logger.exception("applying %d orders together failed; applying them one by one", len(chunk))
            for order_id in chunk:
                try:
                    changes += _apply_chunk([order_id], actor=actor)
                except Exception:
                    logger.exception("order %s: its transfers could not be applied", order_id)
    return changes


def _apply_chunk(order_ids: list[str], *, actor: str) -> list[Change]:
    with transaction.atomic():
        # The merchants in one query, once each (a pass's orders belong to a few), not joined
        # to every locked row.
        orders = list(Order.objects.select_for_update().filter(pk__any=order_ids).order_by("pk")
                      .prefetch_related("merchant"))
        funds = funds_received_by_order(order_ids=order_ids)
        writes = Writes(now=timezone.now())
        changes = [_apply_funds(order, funds.get(order.pk, NO_FUNDS), actor=actor, writes=writes) for order in orders]
        writes.flush()
    return changes


def _apply_funds(order: Order, funds: OrderFunds, *, actor: str, writes: Writes) -> Change:
    """Move one LOCKED order by its funds; what it writes goes to `writes`."""
    now = writes.now
    received, confirmed = funds.received, funds.confirmed
    late = bool(order.expires_at and funds.late)
    fields: list[str] = []
    if _past_expiry_unpaid(order, now, in_time=funds.in_time.received):
        # The expiry job has not run yet: expire first, so that a late payment meets the
        # merchant's late-payment setting exactly as it would after the job.
        fields += _expire(order, now=now, in_time=funds.in_time.received, writes=writes)
    target, exception = decide(
        status=order.status, due=order.amount_due, threshold=paid_threshold(order),
        received=received, confirmed=confirmed, late=late,
        accept_late=order.merchant.accept_late_payments,
        in_time=funds.in_time if order.expires_at else None,
    )
    reason = f"received {amount_text(received, order.asset)}, confirmed {amount_text(confirmed)}"
    if order.status in CLOSED:
        exception = order.payment_exception
        if received > order.amount_received:
            # Money reached the address of an order that is closed (canceled, deleted,
            # failed, refunded): never silent. The order says so, the merchant is told, and
            # a deleted order shows again: what holds funds is never hidden.
            exception = PaymentException.RECEIVED_AFTER_CLOSE
            arrived = amount_text(received - order.amount_received, order.asset)
            reason = f"{arrived} arrived on a {order.status} order"
    elif order.status == OrderStatus.PAID and target != OrderStatus.PAID and not funds.reverted:
        # Paid by the merchant's hand with less on chain: only a reorg takes that back.
        target, exception = OrderStatus.PAID, order.payment_exception
    if order.deleted_at is not None and received > order.amount_received:
        order.deleted_at = None  # an order that holds funds is never hidden
        fields += ["deleted_at", "updated_at"]
        reason = f"{reason}; the deleted order shows again because funds arrived"
    # Funds that are not applied to the order (it is closed, or expired and stays so) are
    # announced every time more arrive, even when nothing else about the order changes.
    unapplied_funds = received > order.amount_received and (
        order.status in CLOSED or (order.status == OrderStatus.EXPIRED and target == OrderStatus.EXPIRED))
    if (received, confirmed) != (order.amount_received, order.amount_confirmed):
        order.amount_received, order.amount_confirmed = received, confirmed
        fields += ["amount_received", "amount_confirmed", "updated_at"]
    if is_step_back(order.status, target) and funds.reverted:
        reason = f"a chain reorganization dropped a transfer; {reason}"
    data = {"received": money(received), "confirmed": money(confirmed)}
    moved = order_transition(order, target, actor=actor, exception=exception, reason=reason, data=data,
                             now=now, writes=writes)
    if unapplied_funds and not moved:
        _announce_unapplied_funds(order, actor=actor, reason=reason, data=data, writes=writes)
    fields += moved
    if fields:
        writes.save(order, fields)
    if received > 0:  # a live transfer: the payment's first transaction hash
        writes.referenced.append(order.pk)
    return Change(order=order, changed=bool(fields))


def _announce_unapplied_funds(order: Order, *, actor: str, reason: str, data: dict, writes: Writes) -> None:
    """More funds on an order whose status and exception already say so: the audit log and
    the merchant hear of each arrival all the same."""
    writes.audit.append(OrderEvent(order=order, from_status=order.status, to_status=order.status,
                                   payment_exception=order.payment_exception, actor=actor, reason=reason, data=data))
    writes.events.append(NewEvent(order.merchant_id, order.mode, EventType.ORDER_PAYMENT_EXCEPTION,
                                  {"order": order_snapshot(order), "previous_status": order.status, "reason": reason}))


def order_simulate_payment(
    *, order_id: str, amount: Decimal | None = None, confirmations: int | None = None,
    tx_hash: str | None = None, from_address: str | None = None, actor: str,
):
    """Test mode: record a simulated incoming transfer (or update the confirmations of an
    earlier one, by tx_hash) and run it through the same pipeline as a chain transfer.
    `from_address`: the payer's address it records as its sender (valid on the order's
    network, stored in the normal form the scanner records)."""

    with transaction.atomic():
        # The order row is locked before the transfer is written: a concurrent DELETE (which
        # refuses orders with funds) cannot slip between the two.
        order = order_lock(order_id)
        if not order.is_test:
            raise Forbidden("test_mode_only", "Payments can only be simulated on test orders.")
        if order.awaiting_channel:
            raise Conflict("channel_not_chosen", "The payer has not chosen a channel for this order yet.")
        required = order.channel.required_confirmations
        confirmations = required if confirmations is None else confirmations
        transfer_status = TransferStatus.CONFIRMED if confirmations >= required else TransferStatus.SEEN
        now = timezone.now()
        if tx_hash:
            transfer = (Transfer.objects.select_for_update()
                        .filter(order=order, tx_hash=tx_hash, simulated=True).first())
            if transfer is None:
                raise NotFound("not_found", f"No simulated transfer {tx_hash} on this order.", param="tx_hash")
            # Confirmations only grow (as on a chain, where only a reorg takes them back): of
            # two updates that cross, the higher count stands.
            confirmations = max(confirmations, transfer.confirmations)
            transfer_status = TransferStatus.CONFIRMED if confirmations >= required else TransferStatus.SEEN
            transfer.confirmations = confirmations
            transfer.status = transfer_status
            transfer.confirmed_at = (transfer.confirmed_at or now) if transfer_status == TransferStatus.CONFIRMED else None
            transfer.save(update_fields=["confirmations", "status", "confirmed_at", "updated_at"])
        else:
            if amount is None:  # what is still due: everything not yet received
                amount = max(order.amount_due - order.amount_received, Decimal(0))
                if amount == 0:
                    raise Invalid("parameter_invalid", "Nothing is left to pay; pass an amount to overpay.",
                                  param="amount")
            if amount <= 0:
                raise Invalid("parameter_invalid", "amount must be greater than 0.", param="amount")
            check_decimal_places(amount, order.channel.asset_decimals, currency=order.asset, param="amount",
                                 name_param=False)
            sender = "simulator"
            if from_address:
                try:
                    validate_address(network=order.network, mode=order.mode, address=from_address)
                except InvalidAddress as exc:
                    raise Invalid("invalid_address", f"from_address: {exc}", param="from_address") from None
                sender = normalize_address(network=order.network, mode=order.mode, address=from_address)
            transfer = Transfer.objects.create(
                network=order.network, mode=order.mode, tx_hash="sim_" + secrets.token_hex(30), log_index=0,
                order=order, deposit_address=order.deposit_addresses.filter(network=order.network).first(),
                asset=order.asset, amount=amount, sender=sender, confirmations=confirmations,
                status=transfer_status, simulated=True,
                confirmed_at=now if transfer_status == TransferStatus.CONFIRMED else None,
            )
        change = order_apply_transfers(order_id=order.id, actor=actor)
    return change, transfer


# --- expiry -----------------------------------------------------------------------------------


def order_expire(*, order_id: str, now: datetime | None = None) -> Change:
    """Expire one order if it is still unpaid past its expiry. Funds that arrived in time
    and only wait for confirmations keep the order pending."""
    now = now or timezone.now()
    with transaction.atomic():
        order = order_lock(order_id)
        if not _past_expiry_unpaid(order, now):
            return Change(order=order, changed=False)
        order.save(update_fields=_expire(order, now=now))
    return Change(order=order, changed=True)


def _received_in_time(order: Order) -> Decimal:

    return funds_received(order=order, arrived_until=order.expires_at).received


def _past_expiry_unpaid(order: Order, now: datetime, *, in_time: Decimal | None = None) -> bool:
    """Created or pending past its expiry, without enough funds seen before it (funds that
    arrived in time and only wait for confirmations keep an order pending). `in_time`: what
    arrived by the expiry, when the caller has read it already."""
    if (order.status not in (OrderStatus.CREATED, OrderStatus.PENDING)
            or not order.expires_at or order.expires_at > now):
        return False
    in_time = _received_in_time(order) if in_time is None else in_time
    return not (in_time > 0 and in_time >= paid_threshold(order))


def _expire(order: Order, *, now: datetime, in_time: Decimal | None = None, writes: Writes | None = None) -> list[str]:
    in_time = _received_in_time(order) if in_time is None else in_time
    exception = PaymentException.UNDERPAID if in_time > 0 else PaymentException.NONE
    return order_transition(order, OrderStatus.EXPIRED, actor="system:expiry", exception=exception,
                            reason="not paid before expiry", now=now, writes=writes)


def orders_expire_due(*, now: datetime | None = None, batch: int = 500) -> int:
    """The beat job: expire every order past its expiry (served by order_expiry_idx)."""
    now = now or timezone.now()
    ids = list(
        Order.objects.filter(status__in=[OrderStatus.CREATED, OrderStatus.PENDING], expires_at__lte=now)
        .order_by("expires_at").values_list("id", flat=True)[:batch]
    )
    return sum(order_expire(order_id=order_id, now=now).changed for order_id in ids)


# --- the merchant's manual operations ----------------------------------------------------


def order_set_status(*, order_id: str, status: str, actor: str) -> Change:
    """PATCH /orders/{id}: pending (reopen), paid (marked by the merchant) or canceled."""
    if status not in MANUAL_TARGETS:
        raise Invalid("parameter_invalid", f"status must be one of {', '.join(MANUAL_TARGETS)}.",
                      param="status")
    now = timezone.now()
    with transaction.atomic():
        order = order_lock(order_id)
        if order.status == status:
            return Change(order=order, changed=False, warnings=[{
                "code": "no_change", "message": f'Order is already "{status}". No action taken.'}])
        if status not in TRANSITIONS[order.status]:
            raise InvalidTransition(order, status)
        warnings: list[dict] = []
        fields: list[str] = []
        if status == OrderStatus.PAID:
            if order.awaiting_channel:
                raise Conflict("channel_not_chosen", "The order has no price yet: the payer has not chosen "
                               "a channel.", param="status")
            reason = "marked paid by the merchant"
            if order.amount_confirmed < paid_threshold(order):
                warnings.append({"code": "no_funds_received", "message": (
                    f"Marked paid with {amount_text(order.amount_confirmed, order.asset)} confirmed of "
                    f"{amount_text(order.amount_due, order.asset)} due: there is nothing to settle for the "
                    "difference.")})
        elif status == OrderStatus.PENDING:
            reason = "reopened by the merchant"
            order.expires_at = now + timedelta(seconds=order.merchant.default_expiry_seconds)
            fields.append("expires_at")
            if order.status == OrderStatus.PAID and order.amount_confirmed >= paid_threshold(order):
                raise Conflict("order_paid_on_chain", "The payment is confirmed on chain; it cannot be reopened.",
                               param="status")
            # Reopening ensures the deposit address is assigned. One released
            # meanwhile may belong to another order now: this one gets a fresh address.
            previous_address = order.deposit_address
            fields += order_assign_deposit_address(order=order)
            if order.deposit_address != previous_address:
                warnings.append({"code": "new_deposit_address", "message": (
                    f"The old deposit address was released; pay to {order.deposit_address} instead.")})
        else:
            reason = "canceled by the merchant"
            if order.amount_received > 0:
                # Only calls that work on this order now, with its id.
                refund = (f"To send them back to the payer, quote and refund: GET /api/v1/orders/{order.id}/"
                          f"refund_quote?refund_address=<payer address>, then POST /api/v1/orders/{order.id}/refund "
                          f'with {{"refund_address": "<payer address>"}}. '
                          if order.settlement_mode == SettlementMode.DIRECT else "")
                warnings.append({"code": "funds_received", "message": (
                    f"{amount_text(order.amount_received, order.asset)} reached the deposit address "
                    f"{order.deposit_address}; the funds stay there, recorded on the order (GET "
                    f"/api/v1/orders/{order.id} lists the transfers). {refund}To accept the payment after all, "
                    f'reopen the order: PATCH /api/v1/orders/{order.id} with {{"status": "pending"}}.')})
            fields += _release_reference(order)
        if status == OrderStatus.PENDING and order.reference_released:
            fields += _reclaim_reference(order)
        fields += order_transition(order, status, actor=actor, reason=reason, now=now)
        _save_holding_reference(order, fields)
        if status == OrderStatus.PENDING and order.amount_received > 0:
            # A reopened order with funds on its address takes them as a payment now: paid when
            # enough is confirmed, rather than pending until the next transfer arrives.
            order = order_apply_transfers(order_id=order.id, actor=actor).order
    return Change(order=order, changed=True, warnings=warnings)


# --- the merchant's reference (merchant_order_id) -------------------------------------------
#
# An order holds its merchant_order_id until it is deleted or canceled; then the reference is
# released (Order.reference_released) and a new charge may use it again (the canceled order
# keeps it, for the record). Reopening a canceled order takes the reference back, unless a
# newer order holds it now. The unique constraint order_unique_merchant_order_id covers the
# orders that hold theirs: of concurrent charges with one reference exactly one wins.


def _release_reference(order: Order) -> list[str]:
    if not order.merchant_order_id or order.reference_released:
        return []
    order.reference_released = True
    return ["reference_released"]


def _reclaim_reference(order: Order) -> list[str]:
    order.reference_released = False
    return ["reference_released"]


def _save_holding_reference(order: Order, fields: list[str]) -> None:
    """Save a locked order's fields; a reference another order holds now is a conflict (the
    unique constraint decides, in a savepoint, so that the caller's transaction rolls back
    cleanly with the error)."""
    try:
        with transaction.atomic():
            order.save(update_fields=sorted(set(fields)))
    except IntegrityError:
        if "reference_released" not in fields or order.reference_released:
            raise
        holder = (Order.objects.filter(merchant_id=order.merchant_id, mode=order.mode,
                                       merchant_order_id=order.merchant_order_id, reference_released=False)
                  .exclude(pk=order.pk).values_list("id", flat=True).first())
        raise Conflict("merchant_order_id_in_use", (
            f"merchant_order_id {order.merchant_order_id!r} belongs to order {holder or 'another order'} now, "
            "and one live order holds a reference at a time: this one cannot be reopened while that one "
            "is neither canceled nor deleted."), param="merchant_order_id", order_id=holder) from None


def order_delete(*, order_id: str, actor: str) -> None:
    """DELETE /orders/{id}: only an order that never received funds, and is not paid."""
    with transaction.atomic():
        order = order_lock(order_id)
        funded = funds_received(order=order).received
        if funded:
            raise Conflict("order_has_funds", (
                f"Cannot delete: the deposit address received {amount_text(funded, order.asset)}. "
                "Cancel the order and refund the payer instead."))
        if order.status in (OrderStatus.PAID, OrderStatus.REFUNDED, OrderStatus.PARTIALLY_REFUNDED):
            raise Conflict("order_paid", f"Cannot delete a {order.status} order.")
        now = timezone.now()
        fields = ["deleted_at", "updated_at"]
        if order.status in TRANSITIONS and OrderStatus.CANCELED in TRANSITIONS[order.status]:
            fields += order_transition(order, OrderStatus.CANCELED, actor=actor, reason="deleted by the merchant",
                                       now=now)
        order.deleted_at = now
        fields += _release_reference(order)
        order.save(update_fields=sorted(set(fields)))
