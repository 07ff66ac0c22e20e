"""The scanner: one pass of one (network, mode) through its chain adapter.

1. Take the network's lease (one scanner per network at a time; a crashed one's lease expires).
2. Read the node's head; check the last scanned blocks still have the hashes we recorded, and
   rewind to the fork point when they do not (a reorg): transfers in the dropped blocks are
   marked reverted, and come back if the new chain has them again.
3. Scan the next batch of blocks for transfers to deposit addresses (the adapter filters
   locally, so the cost does not grow with the number of watched addresses).
4. In one transaction, in bulk: record new transfers (one INSERT ... ON CONFLICT DO NOTHING
   on the unique network, tx and index: scanning a range twice changes nothing), restore the
   ones a reorg had dropped, mark their addresses used, update confirmations (one UPDATE
   each), move the cursor, and leave the touched orders pending on it.
5. Return what it recorded: the ids of the orders whose transfers changed (and those an
   earlier pass left pending). The scanner never calls orders; the caller (charges.watching,
   the beat job) hands them to orders.services, then clears them (scan_orders_applied).

What to look for comes from the caller too (`WatchedAssets`: the assets with their decimals,
token contracts and confirmations, read from the channel catalogue), so this module knows no
channel. No network I/O happens inside a database transaction or under a row lock.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from chains.adapters.base import BlockRef, ChainAdapter, ChainUnavailable, Observed, Watch, WrongChain
from chains.addresses import normalize_address
from core import fastsql
from core.money import from_base_units
from wallets.models import AddressState, ChainCursor, DepositAddress, ScannedBlock, Transfer, TransferStatus, WalletRoot

logger = logging.getLogger("fluxa.wallets.scanning")

LEASE = timedelta(seconds=120)
REORG_DEPTH = 64  # how many recorded blocks back a reorg is looked for
KEEP_BLOCKS = 2000  # recorded block hashes kept per network
_TRANSFER_KEY = '("network", "tx_hash", "log_index") DO NOTHING'  # transfer_unique_output


@dataclass(frozen=True)
class WatchedAssets:
    """What one (network, mode) pass looks for, as the channel catalogue says: each asset's
    decimals, the token contract (or mint) of each token asset, and the confirmations each
    channel requires (a transfer without an order waits for the network's strictest)."""

    decimals: dict[str, int]
    contracts: dict[str, str] = field(default_factory=dict)  # asset -> contract, tokens only
    confirmations: dict[str, int] = field(default_factory=dict)  # channel code -> required

    def confirmations_at(self, head: int, block_number: int, channel_code: str | None,
                         had: int = 0) -> tuple[int, str]:
        """A transfer's confirmations with the node at `head`, and its status by its order's
        channel. Confirmations only grow: a node that answers an older head (a lagging or
        restarted one) does not take them back; only a reorg does, by reverting the transfer."""
        confirmations = max(head - block_number + 1, had, 0)
        confirmed = confirmations >= self.required_confirmations(channel_code)
        return confirmations, TransferStatus.CONFIRMED if confirmed else TransferStatus.SEEN

    def required_confirmations(self, channel_code: str | None) -> int:
        if channel_code in self.confirmations:
            return self.confirmations[channel_code]
        return max(self.confirmations.values(), default=1)


@dataclass
class ScanResult:
    network: str
    mode: str
    busy: bool = False
    behind: bool = False  # the node's head was below the cursor: nothing was scanned
    head: int | None = None
    from_block: int | None = None
    to_block: int | None = None
    recorded: int = 0
    restored: int = 0
    reverted: int = 0
    orders: set[str] = field(default_factory=set)
    token: str = ""  # the pass's lease token: what marks its orders pending on the cursor


def _claim(network: str, mode: str) -> tuple[ChainCursor, str] | None:
    cursor, _ = ChainCursor.objects.get_or_create(network=network, mode=mode)
    token = secrets.token_hex(8)
    now = timezone.now()
    taken = ChainCursor.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lt=now), pk=cursor.pk,
    ).update(locked_until=now + LEASE, lock_token=token)
    if not taken:
        return None
    cursor.refresh_from_db()
    return cursor, token


def _release(cursor: ChainCursor, token: str, error: str = "") -> None:
    ChainCursor.objects.filter(pk=cursor.pk, lock_token=token).update(
        locked_until=None, lock_token="", last_error=error[:500])


def _fork_point(adapter: ChainAdapter, cursor: ChainCursor) -> int | None:
    """The highest recorded block still on the node's chain, when the cursor's block is not
    (None when nothing changed)."""
    if cursor.last_block is None:
        return None
    current = adapter.block(cursor.last_block)
    if current is not None and current.hash == cursor.last_block_hash:
        return None
    recorded = ScannedBlock.objects.filter(network=cursor.network, mode=cursor.mode,
                                           number__lt=cursor.last_block).order_by("-number")[:REORG_DEPTH]
    for row in recorded:
        block = adapter.block(row.number)
        if block is not None and block.hash == row.hash:
            return row.number
    floor = cursor.last_block - REORG_DEPTH
    return max(floor, -1)


class _WatchedKeys:
    """Per process and (network, mode): every deposit address ever derived, as
    (normal form, destination tag) -> row id. Built once, then only the rows added since are
    read, so a pass does not pay for the number of addresses watched. The rows themselves (and
    so their current order) are read fresh, and only for the keys that received something."""

    def __init__(self) -> None:
        self.last_id = 0
        self.ids: dict[tuple[str, int | None], int] = {}
        self.addresses: set[str] = set()

    def refresh(self, adapter: ChainAdapter) -> None:
        new = (DepositAddress.objects.filter(network=adapter.network, mode=adapter.mode, id__gt=self.last_id)
               .order_by("id").values_list("id", "address", "destination_tag"))
        for row_id, address, tag in new.iterator(chunk_size=5000):
            normal = adapter.normalize(address)
            self.ids[(normal, tag)] = row_id
            self.addresses.add(normal)
            self.last_id = row_id


_WATCHED: dict[tuple[str, str, str], _WatchedKeys] = {}


def _watch(adapter: ChainAdapter, assets: WatchedAssets) -> tuple[Watch, _WatchedKeys]:
    """The deposit addresses and token contracts to look for, in the adapter's normal form."""
    network, mode, normalize = adapter.network, adapter.mode, adapter.normalize
    root = WalletRoot.objects.values_list("fingerprint", flat=True).first() or ""
    cache_key = (network, mode, root)  # a new root starts a new set
    keys = _WATCHED.setdefault(cache_key, _WatchedKeys())
    keys.refresh(adapter)
    tokens = {normalize(contract): asset for asset, contract in assets.contracts.items()}
    return Watch(addresses=keys.addresses, tokens=tokens), keys


def _order_channel() -> Subquery:
    """The channel of the row's order (None without one), read by the order's primary key for
    each row. As a join, the planner hashed the whole orders table once it held many more
    orders than the pass had rows: a sequential scan of every order in every pass (4 to 29 ms
    for a pass's 1,000 addresses with 100,000 orders, and growing with the table)."""
    orders = Transfer._meta.get_field("order").related_model
    return Subquery(orders._base_manager.filter(pk=OuterRef("order_id")).order_by().values("channel_id")[:1])


def _record(result: ScanResult, observed: list[Observed], keys: _WatchedKeys, assets: WatchedAssets,
            network: str, mode: str, head: int) -> tuple[list[int], set[int]]:
    """Record the pass's transfers in bulk: the new ones in one INSERT ... ON CONFLICT DO
    NOTHING on the unique (network, tx hash, index) (a range scanned twice, or a row that
    appeared meanwhile, is skipped by the database, never counted twice), already with their
    confirmations at `head` and confirmed when their order's channel's requirement is met (so
    _confirm has nothing to write for them); those already recorded are read back, and the
    ones a reorg had dropped (reverted, or in a block of another hash) restored in one
    statement; their addresses marked used in one. Returns the blocks with transfers to
    watched addresses (their hashes are recorded, for the reorg check) and the ids of the
    transfers it inserted (they have their confirmations at `head` already: _confirm skips
    them)."""
    decimals = assets.decimals
    wanted = {keys.ids[(o.to_address, o.destination_tag)] for o in observed
              if (o.to_address, o.destination_tag) in keys.ids}
    deposits = {row_id: (order_id, state, channel_id) for row_id, order_id, state, channel_id in
                DepositAddress.objects.filter(pk__any=wanted).annotate(channel=_order_channel())
                .values_list("id", "order_id", "state", "channel")}
    now = timezone.now()
    found: dict[tuple[str, int], tuple[Observed, int, Transfer]] = {}  # (tx, index) -> item, deposit, row
    senders: dict[str, str] = {}  # as the adapter says it -> normal form (a payer pays many times)
    for item in observed:
        deposit_id = keys.ids.get((item.to_address, item.destination_tag))
        if deposit_id not in deposits or item.asset not in decimals or (item.tx_hash, item.index) in found:
            continue
        amount = from_base_units(item.amount_base_units, decimals[item.asset])
        if amount <= 0:
            continue
        block_time = datetime.fromtimestamp(item.block_time, tz=dt_timezone.utc) if item.block_time else None
        confirmations, status = assets.confirmations_at(head, item.block_number, deposits[deposit_id][2])
        row = Transfer(
            network=network, mode=mode, tx_hash=item.tx_hash, log_index=item.index, deposit_address_id=deposit_id,
            order_id=deposits[deposit_id][0], asset=item.asset, amount=amount,
            sender=senders.get(item.sender) or senders.setdefault(
                item.sender, normalize_address(network=network, mode=mode, address=item.sender)),
            block_number=item.block_number, block_hash=item.block_hash, block_time=block_time,
            confirmations=confirmations, status=status,
            confirmed_at=now if status == TransferStatus.CONFIRMED else None,
        )
        found[(item.tx_hash, item.index)] = (item, deposit_id, row)
    if not found:
        return [], set()
    rows = fastsql.insert_many([row for _, _, row in found.values()], conflict=_TRANSFER_KEY,
                               returning='"id", "tx_hash", "log_index"')
    inserted = {(tx, index) for _, tx, index in rows}
    written = {row_id for row_id, _, _ in rows}
    result.recorded += len(inserted)
    changed = set(inserted)
    known = {key for key in found if key not in inserted}
    if known:
        restored = []
        rows = Transfer.objects.filter(network=network, tx_hash__any={tx for tx, _ in known}).values_list(
            "id", "tx_hash", "log_index", "status", "block_hash")
        for row_id, tx, index, status, block_hash in rows:
            if (tx, index) not in known:
                continue
            item, _, row = found[(tx, index)]
            if status == TransferStatus.REVERTED or block_hash != item.block_hash:
                restored.append(Transfer(pk=row_id, status=TransferStatus.SEEN, block_number=row.block_number,
                                         block_hash=row.block_hash, block_time=row.block_time, confirmations=0,
                                         confirmed_at=None, updated_at=now))
                changed.add((tx, index))
        fastsql.update_many(restored, ["status", "block_number", "block_hash", "block_time", "confirmations",
                                       "confirmed_at", "updated_at"])
        result.restored += len(restored)
    used = set()
    for key in changed:
        _, deposit_id, row = found[key]
        if row.order_id:
            result.orders.add(row.order_id)
        if deposits[deposit_id][1] != AddressState.USED:
            used.add(deposit_id)
    if used:
        DepositAddress.objects.filter(pk__any=used).exclude(state=AddressState.USED).update(state=AddressState.USED)
    return sorted({row.block_number for _, _, row in found.values()}), written


def _with_block_times(adapter: ChainAdapter, observed: list[Observed]) -> list[Observed]:
    """Every observed transfer with its block's time: the adapters that read the block on the
    way say it; for the others the block is read here (once per block, before any
    transaction), and must still be the block the transfer was seen in."""
    times: dict[int, int] = {}
    for item in observed:
        if item.block_time is not None or item.block_number in times:
            continue
        ref = adapter.block(item.block_number)
        if ref is None or (item.block_hash and ref.hash != item.block_hash):
            raise ChainUnavailable(f"block {item.block_number} changed during the scan")
        times[item.block_number] = ref.timestamp
    return [item if item.block_time is not None else dataclasses.replace(item, block_time=times[item.block_number])
            for item in observed]


def _confirm(result: ScanResult, network: str, mode: str, head: int, assets: WatchedAssets, *,
             written: set[int] = frozenset()) -> None:
    """Confirmations of every transfer still inside the reorg window, confirmed at the order's
    channel's requirement: read in one query, the changed rows written in one statement.
    `written`: the transfers _record has just inserted, with their confirmations at `head`:
    not read again."""
    now = timezone.now()
    live = Transfer.objects.filter(network=network, mode=mode, simulated=False, block_number__isnull=False,
                                   block_number__gt=head - REORG_DEPTH * 4)
    if written:
        live = live.exclude(pk__any=written)
    live = (live.exclude(status=TransferStatus.REVERTED).annotate(channel=_order_channel())
            .values_list("id", "order_id", "channel", "block_number", "confirmations", "status", "confirmed_at"))
    changed = []
    for row_id, order_id, channel_id, block_number, had, status_was, confirmed_at in live:
        confirmations, status = assets.confirmations_at(head, block_number, channel_id, had)
        if (confirmations, status) == (had, status_was):
            continue
        changed.append(Transfer(
            pk=row_id, confirmations=confirmations, status=status, updated_at=now,
            confirmed_at=(confirmed_at or now) if status == TransferStatus.CONFIRMED else None))
        if order_id and status != status_was:
            result.orders.add(order_id)
    fastsql.update_many(changed, ["confirmations", "status", "confirmed_at", "updated_at"])


def scan_orders_applied(*, result: ScanResult, order_ids: set[str]) -> None:
    """The caller applied these orders of a pass: they are no longer pending on the cursor,
    unless a later pass has touched them since (it marked them with its own token, and applies
    them itself)."""
    if not result.token or not order_ids:
        return
    with transaction.atomic():
        cursor = ChainCursor.objects.select_for_update().filter(network=result.network, mode=result.mode).first()
        if cursor is None:
            return
        pending = {order_id: token for order_id, token in cursor.pending_orders.items()
                   if not (token == result.token and order_id in order_ids)}
        if pending != cursor.pending_orders:
            ChainCursor.objects.filter(pk=cursor.pk).update(pending_orders=pending)


def scan_network(*, adapter: ChainAdapter, assets: WatchedAssets, batch: int | None = None,
                 start_back: int | None = None) -> ScanResult:
    """One scanning pass for the adapter's (network, mode); see the module docstring. The
    orders in `result.orders` are the caller's to apply."""
    network, mode = adapter.network, adapter.mode
    batch = batch or getattr(settings, "FLUXA_SCAN_BATCH_BLOCKS", 500)
    result = ScanResult(network=network, mode=mode)
    claimed = _claim(network, mode)
    if claimed is None:
        result.busy = True
        return result
    cursor, token = claimed
    result.token = token
    error = ""
    try:
        adapter.check_chain()  # a node of another chain is never scanned (WrongChain)
        synced = adapter.node_synced()
        head: BlockRef = adapter.head()
        result.head = head.number
        if cursor.last_block is not None and head.number < cursor.last_block:
            # A node behind what was already scanned (a lagging or failed-over one) is no
            # reorg: nothing is reverted, nothing moves; the pass waits for it to catch up.
            error = f"node behind: its head {head.number} is below block {cursor.last_block}, already scanned"
            logger.warning("%s/%s: %s", network, mode, error)
            result.behind = True
            return result
        fork = _fork_point(adapter, cursor)
        if fork is not None:
            logger.warning("%s/%s: reorg below block %s; rescanning from %s", network, mode, cursor.last_block, fork + 1)
        if cursor.last_block is None:
            first = max(head.number - (start_back if start_back is not None else
                                       getattr(settings, "FLUXA_SCAN_START_BACK", 100)), 0)
            last_done = first - 1
        else:
            last_done = cursor.last_block if fork is None else fork
        from_block, to_block = last_done + 1, min(head.number, last_done + batch)
        watch, keys = _watch(adapter, assets)
        observed = adapter.scan(from_block=from_block, to_block=to_block, watch=watch) if to_block >= from_block else []
        observed = _with_block_times(adapter, observed)
        to_ref = adapter.block(to_block) if to_block >= 0 else None
        result.from_block, result.to_block = from_block, to_block

        with transaction.atomic():
            if fork is not None:
                dropped = Transfer.objects.filter(network=network, mode=mode, simulated=False,
                                                  block_number__gt=fork).exclude(status=TransferStatus.REVERTED)
                result.orders.update(o for o in dropped.values_list("order_id", flat=True) if o)
                result.reverted = dropped.update(status=TransferStatus.REVERTED, confirmations=0,
                                                 confirmed_at=None, updated_at=timezone.now())
                ScannedBlock.objects.filter(network=network, mode=mode, number__gt=fork).delete()
            blocks, written = _record(result, observed, keys, assets, network, mode, head.number)
            hashes = {o.block_number: o.block_hash for o in observed if o.block_number in set(blocks)}
            if to_ref is not None:
                hashes[to_ref.number] = to_ref.hash
            ScannedBlock.objects.bulk_create(
                [ScannedBlock(network=network, mode=mode, number=n, hash=h) for n, h in sorted(hashes.items())],
                update_conflicts=True, unique_fields=["network", "mode", "number"], update_fields=["hash"])
            ScannedBlock.objects.filter(network=network, mode=mode, number__lt=to_block - KEEP_BLOCKS).delete()
            _confirm(result, network, mode, head.number, assets, written=written)
            # Orders an earlier pass touched and did not get applied (its worker died) are this
            # pass's too; all of them stay pending until the caller has applied them.
            result.orders.update(cursor.pending_orders)
            ChainCursor.objects.filter(pk=cursor.pk).update(
                pending_orders={order_id: token for order_id in sorted(result.orders)},
                last_block=to_block if to_ref is not None else cursor.last_block,
                last_block_hash=to_ref.hash if to_ref is not None else cursor.last_block_hash,
                head_number=head.number,
                head_timestamp=datetime.fromtimestamp(head.timestamp, tz=dt_timezone.utc),
                scanned_at=timezone.now(), node_synced=synced, last_error="",
            )
    except WrongChain as exc:
        error = str(exc)
        logger.error("%s/%s: %s: not scanned, and no charges are taken on it", network, mode, error)
        raise
    except ChainUnavailable as exc:
        error = f"node unavailable: {exc}"
        logger.warning("%s/%s: %s", network, mode, error)
        raise
    finally:
        _release(cursor, token, error)
    return result
