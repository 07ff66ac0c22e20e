"""Settlements: planning one per paid live order, and following its outgoing transfers to
the events the merchant receives. The transfers themselves are the engine's
(settlements/engine.py); the chain's rules are the family's (settlements/families/)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone

from core.modes import Mode
from core.money import money
from merchants.models import PayoutAddress
from orders.models import Order, OrderStatus, SettlementMode
from orders.services import order_lock, order_set_status
from settlements import keys
from settlements.engine import sending_account
from settlements.families import family_for, supported
from settlements.families.base import CannotSend, Plan, cost_limits  # noqa: F401  (services.cost_limits)
from settlements.models import (
    LegRole,
    Outbound,
    OutboundStatus,
    OwedFee,
    SenderRole,
    Settlement,
    SettlementLeg,
    SettlementStatus,
)
from wallets.models import DepositAddress, Transfer, TransferStatus
from webhooks.models import EventType
from webhooks.services import event_emit

logger = logging.getLogger(__name__)

ADVANCE_TASK = "settlements.tasks.advance_settlement"


def reorg_margin(network: str) -> int:
    return int(settings.FLUXA_SETTLEMENT_REORG_MARGIN.get(network, 0))


def outbound_confirmations(network: str) -> int:
    return max(1, int(settings.FLUXA_SETTLEMENT_CONFIRMATIONS.get(network, 1)))


def platform_address(network: str) -> str | None:
    return settings.FLUXA_PLATFORM_ADDRESSES.get(network) or None


# -- planning -----------------------------------------------------------------------------------

def _due_orders():
    return Order.objects.filter(
        mode=Mode.LIVE, status=OrderStatus.PAID, settlement_mode=SettlementMode.DIRECT, settlement__isnull=True,
    )


def settlements_plan_due(*, limit: int = 200) -> list[str]:
    """Plan a settlement for every paid live order past its confirmations plus the network's
    reorg margin. Idempotent (one settlement per order, a database constraint); safe to run
    twice at once."""
    planned = []
    candidates = (_due_orders().select_related("channel").annotate(
        depth=Min("transfers__confirmations", filter=Q(transfers__status=TransferStatus.CONFIRMED)))
        .exclude(depth__isnull=True)  # marked paid without funds on the chain: nothing to settle, never in the way
        .order_by("paid_at")[:limit])
    for order in candidates:
        if not supported(order.network):
            continue
        needed = order.channel.required_confirmations + reorg_margin(order.network)
        if order.depth is None or order.depth < needed:
            continue
        settlement = settlement_start(order_id=order.id)
        if settlement is not None:
            planned.append(settlement.id)
    return planned


@dataclass(frozen=True)
class StartResult:
    settlement: Settlement | None
    warning: str = ""


def order_set_status_and_settle(*, order_id: str, status: str, actor: str):
    """The manual status change (orders.services.order_set_status) as the API and the portal
    make it: a live order marked paid starts its settlement at once, or says why it cannot.
    Returns (the change, StartResult or None)."""
    change = order_set_status(order_id=order_id, status=status, actor=actor)
    started = None
    if change.changed and change.order.status == OrderStatus.PAID and change.order.mode == Mode.LIVE:
        started = settlement_try_start(order_id=order_id)
    return change, started


def settlement_start(*, order_id: str) -> Settlement | None:
    return settlement_try_start(order_id=order_id).settlement


def settlement_try_start(*, order_id: str) -> StartResult:
    """Plan the settlement of a paid live order now (the beat job calls it past the reorg
    margin; the manual "mark paid" change calls it at once). Returns the settlement, or why
    there is none."""
    with transaction.atomic():
        order = order_lock(order_id)
        existing = Settlement.objects.filter(order=order).first()
        if existing is not None:
            return StartResult(existing)
        if order.mode != Mode.LIVE:
            return StartResult(None, "test orders never settle")
        if order.settlement_mode != SettlementMode.DIRECT:
            return StartResult(None, "custodial orders are not settled on-chain")
        if order.status != OrderStatus.PAID:
            return StartResult(None, f"the order is {order.status}, not paid")
        if not supported(order.network):
            return StartResult(None, f"settlements on {order.network} are not supported yet")
        received = sum((t.amount for t in Transfer.objects.filter(order=order, status=TransferStatus.CONFIRMED,
                                                                   asset=order.asset)), Decimal(0))
        if received <= 0:
            return StartResult(None, "no confirmed funds on the deposit address: nothing to settle")
        deposit = DepositAddress.objects.filter(order=order, network=order.network).order_by("-assigned_at").first()
        if deposit is None:
            return StartResult(None, "the order has no deposit address")
        gross = min(received, order.amount_due)
        fee = min(order.fee_amount, gross)
        payout = PayoutAddress.objects.filter(merchant_id=order.merchant_id, mode=order.mode,
                                              network=order.network).first()
        settlement = Settlement(order=order, merchant_id=order.merchant_id, mode=order.mode, network=order.network,
                                asset=order.asset, gross=gross, fee=fee, amount=gross - fee,
                                to_address=payout.address if payout else "", fee_address=platform_address(order.network)
                                or "")
        if payout is None:
            settlement.status = SettlementStatus.HELD
            settlement.reason = f"no payout address for {order.network}: set one to receive this settlement"
            settlement.save()
            return StartResult(settlement, settlement.reason)
        family = family_for(order.network, order.mode)
        try:
            plan = family.plan(settlement=settlement, order=order, deposit=deposit, payout_address=payout.address,
                               payout_tag=None, fee_address=platform_address(order.network),
                               fee_payer_address=keys.fee_payer_address(network=order.network, mode=order.mode))
        except CannotSend as error:
            settlement.status = SettlementStatus.FAILED
            settlement.amount = Decimal(0)
            settlement.reason = str(error)[:500]
            settlement.save()
            transaction.on_commit(lambda: _emit_after_commit(settlement.id, EventType.SETTLEMENT_FAILED))
            return StartResult(settlement, settlement.reason)
        _apply_plan(settlement, plan, deposit=deposit)
        transaction.on_commit(lambda: advance_enqueue(settlement.id))
        return StartResult(settlement)


def _apply_plan(settlement: Settlement, plan: Plan, *, deposit: DepositAddress) -> None:
    settlement.amount = plan.amount
    settlement.fee = plan.fee
    settlement.fee_owed = plan.fee_owed
    settlement.save()
    for outbound, leg_role in plan_outbounds_create(plan, network=settlement.network, mode=settlement.mode):
        SettlementLeg.objects.create(settlement=settlement, outbound=outbound, role=leg_role)
    if plan.fee_owed and plan.fee > 0:
        OwedFee.objects.create(settlement=settlement, merchant_id=settlement.merchant_id, network=settlement.network,
                               asset=settlement.asset, amount=plan.fee, held_at=plan.owed_held_at or deposit.address,
                               reason=plan.owed_reason[:300])


def plan_outbounds_create(plan: Plan, *, network: str, mode: str) -> list[tuple[Outbound, str]]:
    """The outbounds of a plan (a settlement's or a deposit refund's), in the caller's
    transaction: each with the leg role that links it to what it carries."""
    created: list[Outbound] = []
    legs: list[tuple[Outbound, str]] = []
    for spec in plan.outbounds:
        if spec.join is not None:  # a UTXO batch: the settlement rides on an open planned outbound
            joined = Outbound.objects.select_for_update().get(pk=spec.join)
            if joined.status != OutboundStatus.PLANNED:
                raise RuntimeError(f"{joined.id} is {joined.status}: a settlement joins planned outbounds only")
            joined.outputs = [o.as_json() for o in spec.outputs]
            joined.sources = spec.sources
            joined.save(update_fields=["outputs", "sources", "updated_at"])
            created.append(joined)
            legs.append((joined, spec.leg_role))
            continue
        role = spec.sender_role
        account = sending_account(network=network, mode=mode, address=spec.sender_address,
                                  role=role, derivation_index=spec.sender_index if role == SenderRole.DEPOSIT else None)
        outbound = Outbound.objects.create(
            network=network, mode=mode, purpose=spec.purpose, sender=account,
            sources=spec.sources, asset=spec.asset, token=spec.token, outputs=[o.as_json() for o in spec.outputs],
            depends_on=created[spec.after] if spec.after is not None else None,
            required_confirmations=outbound_confirmations(network),
            max_network_cost=spec.max_network_cost, next_try_at=spec.not_before,
        )
        created.append(outbound)
        legs.append((outbound, spec.leg_role))
    return legs


def settlements_retry_held(*, limit: int = 200) -> list[str]:
    """Held settlements that never got a plan (no payout address then): plan them now that
    the merchant may have set one."""
    done = []
    for settlement in Settlement.objects.filter(status=SettlementStatus.HELD, legs__isnull=True)[:limit]:
        if PayoutAddress.objects.filter(merchant_id=settlement.merchant_id, mode=settlement.mode,
                                        network=settlement.network).exists():
            with transaction.atomic():
                locked = Settlement.objects.select_for_update().get(pk=settlement.pk)
                if locked.legs.exists() or locked.status != SettlementStatus.HELD:
                    continue
                order_id = locked.order_id
                locked.delete()
            if settlement_start(order_id=order_id) is not None:
                done.append(order_id)
    return done


# -- following the transfers -----------------------------------------------------------------

_LEG_ORDER = {LegRole.TOPUP: 0, LegRole.NET: 1, LegRole.FEE: 2, LegRole.CLOSE: 3}


def _derived_status(settlement: Settlement, legs: list[SettlementLeg]) -> tuple[str, str]:
    return legs_status(legs, held=settlement.status == SettlementStatus.HELD, reason=settlement.reason)


def legs_status(legs, *, held: bool = False, reason: str = "") -> tuple[str, str]:
    """The status (a SettlementStatus value) of what a set of legs carries (a settlement's, a
    deposit refund's: objects with `role` and `outbound`), and the reason to show. `held`: it
    was held before any leg said so (no payout address)."""
    net_legs = [leg.outbound for leg in legs if leg.role == LegRole.NET]
    outbounds = [leg.outbound for leg in legs]
    review = [o for o in outbounds if o.status == OutboundStatus.NEEDS_REVIEW]
    if review:
        return SettlementStatus.NEEDS_REVIEW, review[0].last_error[:500]
    if any(o.status == OutboundStatus.FAILED for o in net_legs) or any(
            o.status == OutboundStatus.FAILED and o.purpose == "topup" for o in outbounds):
        failed = next(o for o in outbounds if o.status == OutboundStatus.FAILED)
        return SettlementStatus.FAILED, failed.last_error[:500]
    if net_legs and all(o.status == OutboundStatus.CONFIRMED for o in outbounds if o.status != OutboundStatus.FAILED) \
            and all(o.status == OutboundStatus.CONFIRMED for o in net_legs):
        return SettlementStatus.CONFIRMED, ""
    if any(o.status in (OutboundStatus.BROADCAST, OutboundStatus.CONFIRMING, OutboundStatus.CONFIRMED)
           and o.candidates.exists() for o in net_legs):
        return SettlementStatus.BROADCAST, ""
    waiting = [o for o in outbounds if o.status == OutboundStatus.PLANNED and o.last_error]
    if waiting and any(o.max_network_cost is not None or o.held for o in waiting) or held:
        return SettlementStatus.HELD, (waiting[0].last_error if waiting else reason)[:500]
    return SettlementStatus.PENDING, (waiting[0].last_error[:500] if waiting else "")


_EVENT_FOR = {
    SettlementStatus.BROADCAST: EventType.SETTLEMENT_BROADCAST,
    SettlementStatus.CONFIRMED: EventType.SETTLEMENT_CONFIRMED,
    SettlementStatus.FAILED: EventType.SETTLEMENT_FAILED,
}
_RANK = {SettlementStatus.PENDING: 0, SettlementStatus.HELD: 0, SettlementStatus.BROADCAST: 1,
         SettlementStatus.NEEDS_REVIEW: 1, SettlementStatus.CONFIRMED: 2, SettlementStatus.FAILED: 2}


def _owe_failed_fee(settlement: Settlement, legs: list[SettlementLeg]) -> None:
    """A fee transfer that failed (never signed, or reverted on-chain) leaves the fee where it
    was: it is recorded owed, never lost track of. Runs under the settlement's lock."""
    failed = [leg.outbound for leg in legs if leg.role == LegRole.FEE and leg.outbound.status == OutboundStatus.FAILED]
    if not failed or settlement.fee <= 0 or OwedFee.objects.filter(settlement=settlement).exists():
        return
    OwedFee.objects.create(settlement=settlement, merchant_id=settlement.merchant_id, network=settlement.network,
                           asset=settlement.asset, amount=settlement.fee, held_at=failed[0].sender.address,
                           reason=f"the fee transfer failed: {failed[0].last_error}"[:300])
    settlement.fee_owed = True


def settlement_sync(*, settlement_id: str) -> Settlement:
    """Bring the settlement's status, tx hash, cost and confirmations in line with its
    outbounds, under its row lock; each status it reaches is announced once."""
    order_id = Settlement.objects.values_list("order_id", flat=True).get(pk=settlement_id)
    with transaction.atomic():
        order = order_lock(order_id)  # the order first (the lock order of settlement_try_start)
        settlement = Settlement.objects.select_for_update().get(pk=settlement_id)
        legs = sorted(SettlementLeg.objects.filter(settlement=settlement).select_related("outbound"),
                      key=lambda leg: _LEG_ORDER.get(leg.role, 9))
        if not legs:
            return settlement
        status, reason = _derived_status(settlement, legs)
        _owe_failed_fee(settlement, legs)
        net = next((leg.outbound for leg in legs if leg.role == LegRole.NET), None)
        fields = {"status": status, "reason": reason}
        if net is not None:
            fields["tx_hash"] = net.txid or (net.candidates.order_by("-created_at").values_list("txid", flat=True)
                                             .first() or "")
            fields["confirmations"] = net.confirmations
            paid = [o for o in net.paid_outputs or [] if o.get("role") == "net"]
            if paid and net.status != OutboundStatus.PLANNED:  # what the signed transfer pays (a native net after gas)
                fields["amount"] = sum((Decimal(o["amount"]) for o in paid), Decimal(0))
        costs = [leg.outbound.network_cost for leg in legs if leg.outbound.network_cost is not None
                 and leg.outbound.status != OutboundStatus.PLANNED]
        if costs:
            fields["network_cost"] = sum(costs, Decimal(0))
            fields["network_cost_asset"] = next((leg.outbound.fee_asset for leg in legs if leg.outbound.fee_asset), "")
        share = batch_share(net, settlement.id) if net is not None else None
        if share is not None:  # one of several settlements in one UTXO transaction: its own part
            fields["network_cost"] = Decimal(share["network_cost"])
            fields["amount"] = Decimal(share["net"])
        if status == SettlementStatus.CONFIRMED and settlement.confirmed_at is None:
            fields["confirmed_at"] = timezone.now()
        before = settlement.status
        for name, value in fields.items():
            setattr(settlement, name, value)
        settlement.save()
        settled = _taken_from_deposit(settlement, net) if status in SENT else Decimal(0)
        if order.amount_settled != settled:
            order.amount_settled = settled
            order.save(update_fields=["amount_settled", "updated_at"])
        if status != before and status in _EVENT_FOR and _RANK.get(status, 0) >= _RANK.get(before, 0):
            if status == SettlementStatus.CONFIRMED and before in (SettlementStatus.PENDING, SettlementStatus.HELD):
                _emit(settlement, EventType.SETTLEMENT_BROADCAST)
            _emit(settlement, _EVENT_FOR[status])
    return settlement


# A settlement (or a deposit refund) in one of these has left the deposit address, or may have.
SENT = (SettlementStatus.BROADCAST, SettlementStatus.CONFIRMED, SettlementStatus.NEEDS_REVIEW)


def _taken_from_deposit(settlement: Settlement, net: Outbound | None) -> Decimal:
    """What the settlement takes off its deposit address: the inputs it spends (UTXO: every
    output of the deposit, an overpayment's excess with them), else its gross."""
    for source in (net.sources if net is not None else None) or []:
        if isinstance(source, dict) and source.get("settlement") == settlement.id and "inputs" in source:
            return sum((Decimal(i["amount"]) for i in source["inputs"]), Decimal(0))
    return settlement.gross


def batch_share(outbound: Outbound, settlement_id: str) -> dict | None:
    """What the outbound's signed candidate (the one that landed, else the newest) gives and
    costs one settlement, when a family splits it (`fee_fields["shares"]`, UTXO): the net
    paid to the merchant and its part of the network cost."""
    if outbound.status == OutboundStatus.PLANNED:
        return None
    candidates = outbound.candidates.order_by("-created_at", "-id")
    candidate = (candidates.filter(txid=outbound.txid).first() if outbound.txid else None) or candidates.first()
    if candidate is None:
        return None
    return (candidate.fee_fields or {}).get("shares", {}).get(settlement_id)


def settlement_payload(settlement: Settlement) -> dict:
    return {
        "id": settlement.id, "order_id": settlement.order_id, "status": settlement.status,
        "network": settlement.network, "asset": settlement.asset,
        "amount": money(settlement.amount), "fee": money(settlement.fee),
        "fee_owed": settlement.fee_owed,
        "network_cost": money(settlement.network_cost),
        "network_cost_asset": settlement.network_cost_asset, "to_address": settlement.to_address,
        "tx_hash": settlement.tx_hash, "confirmations": settlement.confirmations, "reason": settlement.reason,
    }


def _emit(settlement: Settlement, type: str) -> None:
    event_emit(merchant=settlement.merchant_id, mode=settlement.mode, type=type,
               data={"settlement": settlement_payload(settlement)})


def _emit_after_commit(settlement_id: str, type: str) -> None:
    with transaction.atomic():
        _emit(Settlement.objects.get(pk=settlement_id), type)


def advance_enqueue(settlement_id: str) -> None:
    try:
        current_app.send_task(ADVANCE_TASK, args=[settlement_id])
    except Exception:  # broker down: the beat job advance_outbounds picks it up
        logger.warning("could not enqueue settlement %s; beat will advance it", settlement_id)
