"""The outgoing-transfer engine: every coin that leaves fluxa goes through here.

    planned --sign--> signed --send--> broadcast --in a block--> confirming --depth--> confirmed
                 \\                                     ^   | reorg: back to broadcast,
                  failed (CannotSend: nothing signed)   |   v re-send the same bytes
                                                        replacement candidates (chain rule)
    any step it cannot judge safely --> needs_review (an operator looks; nothing is re-built)

Rules that make a crash at any point harmless:

* `outbound_sign` stores the signed bytes, the txid and the nonce / sequence / blockhash in
  the database transaction that moves the outbound to `signed`; nothing is broadcast in it.
* `outbound_send` only ever re-sends stored bytes, so a worker killed after the node accepted
  them but before the database recorded it sends the very same transaction again, which the
  node answers "already known" (or the reconciler finds it in a block).
* nothing new is built from a sending account while an earlier outbound from it is
  unresolved (signed, broadcast, confirming, needs_review), and nonces are allocated from the
  sending account's row under its lock, never read from a node's "latest".
* a replacement commits to the same nonce (EVM, XRP), the same inputs (UTXO RBF), or is built
  only once the old candidate can never be included (Solana blockhash, Tron expiration), so at
  most one candidate of an outbound can land; every candidate stays and is watched.

No node is called while a row lock is held: `prepare` and `state` run first, then a short
transaction re-checks the row and writes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from chains.adapters.base import ChainUnavailable
from settlements import keys
from settlements.families import family_for
from settlements.families.base import Built, CannotSend, Family, NotNeeded, NotReady, TxRejected, TxState
from settlements.models import (
    OPEN,
    UNRESOLVED,
    Candidate,
    CandidateStatus,
    Outbound,
    OutboundStatus,
    SendingAccount,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    """What one step did: the outbound's status before and after, and a note."""

    outbound_id: str
    before: str
    after: str
    note: str = ""

    @property
    def changed(self) -> bool:
        return self.before != self.after


# How long a planned outbound that waits for another (a top-up, an earlier transfer from its
# address) stays out of the due set before it is looked at again.
WAIT_SECONDS = 5


def stuck_seconds(network: str) -> float:
    """How long a broadcast candidate may sit outside a block before it is replaced."""
    configured = settings.FLUXA_SETTLEMENT_STUCK_SECONDS
    if isinstance(configured, dict):
        return float(configured.get(network, configured.get("default", 300)))
    return float(configured)


# -- sending accounts ------------------------------------------------------------------------

def sending_account(*, network: str, mode: str, address: str, role: str,
                    derivation_index: int | None = None) -> SendingAccount:
    account, _ = SendingAccount.objects.get_or_create(
        network=network, mode=mode, address=address,
        defaults={"role": role, "derivation_index": derivation_index},
    )
    return account


# -- the steps -------------------------------------------------------------------------------

def outbound_step(outbound_id: str, *, family: Family | None = None) -> Step:
    """Move one outbound as far as it can go now. Idempotent; safe to run twice at once (each
    write re-checks the row under its lock)."""
    outbound = Outbound.objects.select_related("sender", "depends_on").get(pk=outbound_id)
    family = family or family_for(outbound.network, outbound.mode)
    if outbound.status == OutboundStatus.PLANNED:
        return outbound_sign(outbound, family=family)
    if outbound.status == OutboundStatus.SIGNED:
        return outbound_send(outbound, family=family)
    if outbound.status in (OutboundStatus.BROADCAST, OutboundStatus.CONFIRMING):
        return outbound_reconcile(outbound, family=family)
    return Step(outbound.id, outbound.status, outbound.status, "nothing to do")


def _earlier_open(outbound: Outbound) -> bool:
    """Another outbound of the same sending account that must be resolved first: any
    unresolved one, or a planned one created before this one (nonces go in order)."""
    return Outbound.objects.filter(
        Q(status__in=UNRESOLVED) | Q(status=OutboundStatus.PLANNED, created_at__lt=outbound.created_at)
        | Q(status=OutboundStatus.PLANNED, created_at=outbound.created_at, id__lt=outbound.id),
        sender_id=outbound.sender_id,
    ).exclude(pk=outbound.pk).exists()


def _defer(outbound: Outbound, reason: str, seconds: float, *, held: bool = False) -> None:
    """Try again later; `held`: a person must act first (NotReady(hold=True)), which shows its
    settlement held."""
    Outbound.objects.filter(pk=outbound.pk).update(
        last_error=reason[:2000], next_try_at=timezone.now() + timedelta(seconds=seconds), held=held,
        updated_at=timezone.now())


def outbound_sign(outbound: Outbound, *, family: Family) -> Step:
    before = outbound.status
    if outbound.depends_on_id is not None:
        dep = outbound.depends_on
        if dep.status in (OutboundStatus.FAILED, OutboundStatus.REPLACED):
            return _fail(outbound, f"the transfer it waited for ({dep.id}) {dep.status}")
        if dep.status != OutboundStatus.CONFIRMED:
            # out of the due set for a while, so waiting transfers never crowd out the others
            _defer(outbound, f"waiting for {dep.id} to confirm", WAIT_SECONDS)
            return Step(outbound.id, before, before, f"waiting for {dep.id}")
    if _earlier_open(outbound):
        _defer(outbound, "waiting for an earlier transfer from this address", WAIT_SECONDS)
        return Step(outbound.id, before, before, "an earlier transfer from this address is unresolved")
    initial_nonce = None
    try:
        if family.uses_nonce and outbound.sender.next_nonce is None:
            initial_nonce = family.initial_nonce(outbound.sender.address)
        prepared = family.prepare(outbound)
    except NotReady as not_ready:
        _defer(outbound, not_ready.reason, not_ready.retry_seconds, held=not_ready.hold)
        return Step(outbound.id, before, before, not_ready.reason)
    except ChainUnavailable as error:
        _defer(outbound, f"node unavailable: {error}", 30)
        return Step(outbound.id, before, before, "node unavailable")
    except CannotSend as error:
        return _fail(outbound, str(error))
    except NotNeeded as error:
        return _not_needed(outbound, str(error))

    built: Built | None = None
    with transaction.atomic():
        account = SendingAccount.objects.select_for_update().get(pk=outbound.sender_id)
        locked = Outbound.objects.select_for_update().get(pk=outbound.pk)
        if locked.status != OutboundStatus.PLANNED or _earlier_open(locked):
            return Step(outbound.id, before, locked.status, "changed meanwhile")
        nonce = None
        if family.uses_nonce:
            if account.next_nonce is None:
                account.next_nonce = initial_nonce
            nonce = account.next_nonce
        try:
            built = family.build(locked, prepared, nonce=nonce, signer=keys.signer)
        except NotReady as not_ready:
            transaction.set_rollback(True)
            built = None
            reason, retry, held = not_ready.reason, not_ready.retry_seconds, not_ready.hold
        except CannotSend as error:
            transaction.set_rollback(True)
            built = None
            reason, retry, held = f"cannot send: {error}", None, False
        else:
            if family.uses_nonce and built.nonce != nonce:
                raise RuntimeError(f"{family} built nonce {built.nonce}, allocated {nonce}")
            _store_candidate(locked, built)
            if family.uses_nonce:
                account.next_nonce = nonce + 1
                account.save(update_fields=["next_nonce"])
            now = timezone.now()
            locked.status = OutboundStatus.SIGNED
            locked.nonce = nonce
            locked.signed_at = now
            locked.network_cost = built.network_cost
            locked.fee_asset = built.fee_asset
            locked.paid_outputs = built.outputs
            locked.attempts += 1
            locked.last_error = ""
            locked.next_try_at = None
            locked.held = False
            locked.save(update_fields=["status", "nonce", "signed_at", "network_cost", "fee_asset", "paid_outputs",
                                       "attempts", "last_error", "next_try_at", "held", "updated_at"])
    if built is None:
        if retry is None:
            return _fail(outbound, reason)
        _defer(outbound, reason, retry, held=held)
        return Step(outbound.id, before, before, reason)
    return Step(outbound.id, before, OutboundStatus.SIGNED, built.txid)


def _store_candidate(outbound: Outbound, built: Built) -> Candidate:
    return Candidate.objects.create(
        outbound=outbound, network=outbound.network, txid=built.txid, raw=built.raw.hex(), nonce=built.nonce,
        valid_until=built.valid_until, fee_fields=built.fee_fields, outputs=built.outputs,
        network_cost=built.network_cost,
    )


def _fail(outbound: Outbound, reason: str) -> Step:
    """Only for an outbound nothing of which can land: planned (never signed)."""
    with transaction.atomic():
        locked = Outbound.objects.select_for_update().get(pk=outbound.pk)
        if locked.status != OutboundStatus.PLANNED:
            return Step(outbound.id, outbound.status, locked.status, "changed meanwhile")
        locked.status = OutboundStatus.FAILED
        locked.last_error = reason[:2000]
        locked.save(update_fields=["status", "last_error", "updated_at"])
    return Step(outbound.id, OutboundStatus.PLANNED, OutboundStatus.FAILED, reason)


def _newest_live_candidate(outbound: Outbound) -> Candidate | None:
    return (outbound.candidates.exclude(status__in=[CandidateStatus.REPLACED, CandidateStatus.EXPIRED])
            .order_by("-created_at", "-id").first())


def outbound_send(outbound: Outbound, *, family: Family) -> Step:
    """Broadcast the stored bytes of the newest candidate (signed -> broadcast)."""
    before = outbound.status
    candidate = _newest_live_candidate(outbound)
    if candidate is None:
        return _review(outbound, "signed but no candidate is left to send")
    try:
        family.send(bytes.fromhex(candidate.raw))
    except ChainUnavailable as error:
        _defer(outbound, f"node unavailable: {error}", 30)
        return Step(outbound.id, before, before, "node unavailable")
    except TxRejected as rejected:
        # The node refused it; maybe because this very transaction already landed.
        try:
            checked = [(c, family.state(c)) for c in outbound.candidates.exclude(status=CandidateStatus.EXPIRED)]
        except ChainUnavailable:
            _defer(outbound, f"rejected ({rejected.reason}); node unavailable to check", 30)
            return Step(outbound.id, before, before, "rejected, unchecked")
        known = [c for c, state in checked if state.found]
        if not known and checked and all(state.expired for _, state in checked):
            # Signed, never accepted, and now past its validity (a worker down longer than a
            # Solana blockhash, an XRP LastLedgerSequence or a Tron expiration): it can never
            # land, so the reconciler marks it expired and builds the replacement by the chain's rule.
            return _expired_unsent(outbound, rejected.reason)
        if not known:
            return _review(outbound, f"the node refused the signed transaction: {rejected.reason}")
        candidate = known[-1]  # it (or an earlier candidate) is on the chain: reconcile from here
    with transaction.atomic():
        locked = Outbound.objects.select_for_update().get(pk=outbound.pk)
        now = timezone.now()
        Candidate.objects.filter(pk=candidate.pk, status=CandidateStatus.SIGNED).update(
            status=CandidateStatus.SENT, sent_at=now)
        Candidate.objects.filter(pk=candidate.pk).update(sends=candidate.sends + 1)
        if locked.status != OutboundStatus.SIGNED:
            return Step(outbound.id, before, locked.status, "changed meanwhile")
        locked.status = OutboundStatus.BROADCAST
        locked.broadcast_at = now
        locked.next_try_at = None
        locked.last_error = ""
        locked.save(update_fields=["status", "broadcast_at", "next_try_at", "last_error", "updated_at"])
    return Step(outbound.id, before, OutboundStatus.BROADCAST, candidate.txid)


def _not_needed(outbound: Outbound, reason: str) -> Step:
    """A planned outbound with nothing to send (a top-up the address does not need): confirmed
    without a transaction (no candidate, no txid, no cost), so what waited for it goes on."""
    with transaction.atomic():
        locked = Outbound.objects.select_for_update().get(pk=outbound.pk)
        if locked.status != OutboundStatus.PLANNED or locked.candidates.exists():
            return Step(outbound.id, outbound.status, locked.status, "changed meanwhile")
        locked.status = OutboundStatus.CONFIRMED
        locked.confirmed_at = timezone.now()
        locked.network_cost = Decimal(0)
        locked.last_error = f"nothing to send: {reason}"[:2000]
        locked.next_try_at = None
        locked.save(update_fields=["status", "confirmed_at", "network_cost", "last_error", "next_try_at",
                                   "updated_at"])
        _wake_waiters(locked)
    return Step(outbound.id, OutboundStatus.PLANNED, OutboundStatus.CONFIRMED, "nothing to send")


def _expired_unsent(outbound: Outbound, reason: str) -> Step:
    with transaction.atomic():
        locked = Outbound.objects.select_for_update().get(pk=outbound.pk)
        if locked.status != OutboundStatus.SIGNED:
            return Step(outbound.id, outbound.status, locked.status, "changed meanwhile")
        locked.status = OutboundStatus.BROADCAST
        locked.last_error = f"expired before it was sent ({reason}): to be replaced"[:2000]
        locked.next_try_at = None
        locked.save(update_fields=["status", "last_error", "next_try_at", "updated_at"])
    return Step(outbound.id, OutboundStatus.SIGNED, OutboundStatus.BROADCAST, "expired unsent")


def _review(outbound: Outbound, reason: str) -> Step:
    before = outbound.status
    with transaction.atomic():
        locked = Outbound.objects.select_for_update().get(pk=outbound.pk)
        if locked.status in (OutboundStatus.CONFIRMED, OutboundStatus.FAILED):
            return Step(outbound.id, before, locked.status, "changed meanwhile")
        locked.status = OutboundStatus.NEEDS_REVIEW
        locked.last_error = reason[:2000]
        locked.save(update_fields=["status", "last_error", "updated_at"])
    logger.warning("outbound %s needs review: %s", outbound.id, reason)
    return Step(outbound.id, before, OutboundStatus.NEEDS_REVIEW, reason)


def outbound_reconcile(outbound: Outbound, *, family: Family) -> Step:
    """Match what the chain shows with the stored candidates: in a block (confirming), deep
    enough (confirmed), out of a block again after a reorg (broadcast, re-sent), dropped
    (re-sent), stuck (replaced by the chain's rule)."""
    before = outbound.status
    # Every candidate is watched, the expired ones too: one judged expired a moment before it
    # landed (the node's answers are read one after the other) is still found in its block.
    every = list(outbound.candidates.order_by("created_at", "id"))
    try:
        states: dict[int, TxState] = {c.pk: family.state(c) for c in every}
    except ChainUnavailable as error:
        _defer(outbound, f"node unavailable: {error}", 30)
        return Step(outbound.id, before, before, "node unavailable")
    landed = [c for c in every if states[c.pk].in_block]
    if len(landed) > 1:
        return _review(outbound, "more than one candidate is in a block: " + ", ".join(c.txid for c in landed))
    if landed:
        return _record_landed(outbound, landed[0], states[landed[0].pk])
    candidates = [c for c in every if c.status != CandidateStatus.EXPIRED]
    expired = [c for c in candidates if states[c.pk].expired]
    if expired:
        Candidate.objects.filter(pk__in=[c.pk for c in expired]).update(status=CandidateStatus.EXPIRED)
    live = [c for c in candidates if not states[c.pk].expired]
    if outbound.status == OutboundStatus.CONFIRMING or outbound.block_number is not None:
        with transaction.atomic():  # the block it was in is gone: back to broadcast
            locked = Outbound.objects.select_for_update().get(pk=outbound.pk)
            if locked.status not in (OutboundStatus.BROADCAST, OutboundStatus.CONFIRMING):
                # another reconciler confirmed it, or an operator took it for review, meanwhile
                return Step(outbound.id, before, locked.status, "changed meanwhile")
            locked.status = OutboundStatus.BROADCAST
            locked.block_number = None
            locked.block_hash = ""
            locked.confirmations = 0
            locked.txid = ""
            locked.save(update_fields=["status", "block_number", "block_hash", "confirmations", "txid", "updated_at"])
            Candidate.objects.filter(outbound=locked, status=CandidateStatus.MINED).update(status=CandidateStatus.SENT)
        outbound.refresh_from_db()
    # Re-send what the node forgot (a dropped or reorganized-out transaction): same bytes.
    for candidate in live:
        if not states[candidate.pk].found:
            try:
                family.send(bytes.fromhex(candidate.raw))
                Candidate.objects.filter(pk=candidate.pk).update(sends=candidate.sends + 1)
            except (ChainUnavailable, TxRejected) as error:
                logger.info("re-sending %s: %s", candidate.txid, error)
    newest = live[-1] if live else None
    age = (timezone.now() - (newest.sent_at or newest.created_at)).total_seconds() if newest else float("inf")
    try:  # the node reads of a replacement only when one is due
        due = newest is None or age >= stuck_seconds(outbound.network)
        built = family.replacement(outbound, newest, family.prepare(outbound), signer=keys.signer,
                                   stuck_seconds=age) if due else None
    except (NotReady, ChainUnavailable) as error:
        _defer(outbound, str(error), 30)
        return Step(outbound.id, before, outbound.status, str(error))
    if built is None:
        if newest is None:
            return _review(outbound, "every candidate expired and no replacement could be built")
        return Step(outbound.id, before, outbound.status, "waiting for a block")
    with transaction.atomic():
        locked = Outbound.objects.select_for_update().get(pk=outbound.pk)
        if locked.status != OutboundStatus.BROADCAST:
            return Step(outbound.id, before, locked.status, "changed meanwhile")
        if locked.nonce is not None and built.nonce != locked.nonce:
            raise RuntimeError(f"a replacement must keep nonce {locked.nonce}, got {built.nonce}")
        _store_candidate(locked, built)
        locked.status = OutboundStatus.SIGNED  # the send step broadcasts the new bytes
        locked.network_cost = built.network_cost
        locked.paid_outputs = built.outputs
        locked.attempts += 1
        locked.save(update_fields=["status", "network_cost", "paid_outputs", "attempts", "updated_at"])
    return Step(outbound.id, before, OutboundStatus.SIGNED, f"replacement {built.txid}")


def _record_landed(outbound: Outbound, candidate: Candidate, state: TxState) -> Step:
    before = outbound.status
    with transaction.atomic():
        locked = Outbound.objects.select_for_update().get(pk=outbound.pk)
        if locked.status not in (OutboundStatus.BROADCAST, OutboundStatus.CONFIRMING, OutboundStatus.SIGNED):
            return Step(outbound.id, before, locked.status, "changed meanwhile")
        Candidate.objects.filter(outbound=locked).exclude(pk=candidate.pk).exclude(
            status=CandidateStatus.EXPIRED).update(status=CandidateStatus.REPLACED)
        Candidate.objects.filter(pk=candidate.pk).update(status=CandidateStatus.MINED)
        locked.txid = candidate.txid
        locked.block_number = state.block_number
        locked.block_hash = state.block_hash or ""
        locked.confirmations = state.confirmations
        locked.paid_outputs = candidate.outputs
        locked.network_cost = state.network_cost if state.network_cost is not None else candidate.network_cost
        if state.succeeded is False:
            locked.status = OutboundStatus.FAILED
            locked.last_error = "the transaction is in a block but failed on-chain (its network cost is spent)"
        elif state.confirmations >= locked.required_confirmations:
            locked.status = OutboundStatus.CONFIRMED
            locked.confirmed_at = timezone.now()
        else:
            locked.status = OutboundStatus.CONFIRMING
        locked.save(update_fields=["txid", "block_number", "block_hash", "confirmations", "paid_outputs",
                                   "network_cost", "status", "last_error", "confirmed_at", "updated_at"])
        if locked.status in (OutboundStatus.CONFIRMED, OutboundStatus.FAILED):
            _wake_waiters(locked)
    return Step(outbound.id, before, locked.status, candidate.txid)


def _wake_waiters(outbound: Outbound) -> None:
    """An outbound resolved: what waited for it (its dependents, the next transfer from its
    address) is due now, not after its wait."""
    Outbound.objects.filter(Q(depends_on=outbound) | Q(sender_id=outbound.sender_id),
                            status=OutboundStatus.PLANNED, held=False).exclude(pk=outbound.pk).update(next_try_at=None)


def outbound_defer(*, outbound_id: str, reason: str, seconds: float) -> None:
    """Try this outbound again in `seconds` (a step that raised: the next pass retries it)."""
    _defer(Outbound.objects.get(pk=outbound_id), reason, seconds)


# -- operator actions --------------------------------------------------------------------------

def outbound_mark_for_review(*, outbound_id: str, reason: str) -> Step:
    outbound = Outbound.objects.get(pk=outbound_id)
    return _review(outbound, reason or "marked by an operator")


def outbound_retry(*, outbound_id: str) -> Step:
    """Operator: put a needs_review outbound back in the loop. A signed one goes back to
    broadcast (the same stored bytes are re-sent and reconciled); one never signed back to
    planned. Never builds a second transaction for it by itself."""
    with transaction.atomic():
        locked = Outbound.objects.select_for_update().get(pk=outbound_id)
        if locked.status != OutboundStatus.NEEDS_REVIEW:
            return Step(outbound_id, locked.status, locked.status, "not in review")
        has_candidates = locked.candidates.exists()
        locked.status = OutboundStatus.BROADCAST if has_candidates else OutboundStatus.PLANNED
        locked.last_error = ""
        locked.next_try_at = None
        locked.save(update_fields=["status", "last_error", "next_try_at", "updated_at"])
    return Step(outbound_id, OutboundStatus.NEEDS_REVIEW, locked.status, "retry")


def outbounds_due(*, purposes: list[str] | None = None, among=None, limit: int = 200, now=None) -> list[str]:
    """The open outbounds due for a step now (of these purposes; `among`: a query of
    outbound ids to pick from), oldest first."""
    now = now or timezone.now()
    query = Outbound.objects.filter(status__in=[s for s in OPEN if s != OutboundStatus.NEEDS_REVIEW]).filter(
        Q(next_try_at__isnull=True) | Q(next_try_at__lte=now))
    if purposes:
        query = query.filter(purpose__in=purposes)
    if among is not None:
        query = query.filter(pk__in=among)
    return list(query.order_by("created_at", "id").values_list("id", flat=True)[:limit])


def decimal_or_none(value) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))
