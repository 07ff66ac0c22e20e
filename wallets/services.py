"""Everything that writes the wallet root, deposit addresses and their pool.

Deposit address lifecycle (docs/wallets.md): free (in the pool) -> assigned (to an order) ->
back to free when the order ended unpaid and its monitoring window is over, or -> used as soon
as funds ever arrive (used addresses are never handed out again).
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from chains.derivation import clear_seed_cache, derive_address, derive_addresses, xrpl_destination_tag
from chains.networks import MODES, check_mode, get_network
from core import fastsql, secretbox
from core.modes import Mode
from wallets.keys import (
    WalletRootMissing,
    WalletRootNotBackedUp,
    mnemonic_fingerprint,
    mnemonic_from_environment,
    normalize_mnemonic,
    root_mnemonic,
    wallet_root,
)
from wallets.models import XRPL, AddressState, DepositAddress, DerivationCounter, RootOrigin, Transfer, WalletRoot

logger = logging.getLogger("fluxa.wallets")

DEFAULT_MONITOR_SECONDS = 24 * 3600
DEFAULT_POOL_SIZE = 20
POOL_BATCH = 500  # addresses reserved, derived and inserted per round of the pool refill
POOL_LOCK_CLASS = 0x706F6F6C  # "pool": the first key of the refill's advisory locks
# The statuses (orders.models.OrderStatus values) of an order that ended unpaid; wallets sits
# below orders, so it names them without importing them.
IDLE_ORDER_STATUSES = ("expired", "canceled")


# --------------------------------------------------------------------------------------------
# The root
# --------------------------------------------------------------------------------------------


class WalletRootConflict(Exception):
    """A different root exists; replacing it needs force=True (wallet_init --force)."""

    def __init__(self, existing: str, offered: str | None = None) -> None:
        self.existing_fingerprint = existing
        self.offered_fingerprint = offered
        detail = f"; the offered mnemonic has fingerprint {offered}" if offered else ""
        super().__init__(f"A different HD wallet root (fingerprint {existing}) already exists{detail}.")


@dataclass(frozen=True, repr=False)
class GeneratedRoot:
    """A new root and its mnemonic, as handed out exactly once."""

    root: WalletRoot
    mnemonic: str

    def __repr__(self) -> str:  # never print the words by accident
        return f"<GeneratedRoot {self.root.fingerprint}>"


def _store_root(*, mnemonic: str, origin: str, force: bool) -> tuple[WalletRoot, bool]:
    normalized = normalize_mnemonic(mnemonic)
    fingerprint = mnemonic_fingerprint(normalized)
    for _attempt in range(2):
        with transaction.atomic():
            existing = WalletRoot.objects.select_for_update().filter(pk=1).first()
            if existing is not None:
                if existing.fingerprint == fingerprint:
                    return existing, False
                if not force:
                    raise WalletRootConflict(existing.fingerprint, fingerprint)
                existing.mnemonic_encrypted = secretbox.encrypt(normalized)
                existing.fingerprint = fingerprint
                existing.origin = origin
                existing.created_at = timezone.now()
                existing.save()
                clear_seed_cache()
                return existing, True
            try:
                with transaction.atomic():
                    root = WalletRoot.objects.create(
                        pk=1, mnemonic_encrypted=secretbox.encrypt(normalized),
                        fingerprint=fingerprint, origin=origin,
                    )
            except IntegrityError:
                continue  # another process stored a root meanwhile: compare with that one
            return root, True
    raise WalletRootConflict(wallet_root().fingerprint, fingerprint)  # pragma: no cover


def wallet_root_ensure() -> WalletRoot:
    """The root, created when there is none: from FLUXA_WALLET_MNEMONIC(_FILE) when set, else
    newly generated (logged as a WARNING with its fingerprint only; the words are shown
    nowhere, so back up the database and FLUXA_ENCRYPTION_KEYS, or run `wallet_init`).

    Safe under concurrency: when two processes race, both return the one that was stored.
    """
    root = WalletRoot.objects.first()
    if root is not None:
        return root
    mnemonic = mnemonic_from_environment()
    if mnemonic:
        try:
            root, created = wallet_root_import(mnemonic=mnemonic)
        except WalletRootConflict:  # another process generated one meanwhile
            return wallet_root()
        if created:
            logger.info("Imported the HD wallet root from the environment (fingerprint %s).", root.fingerprint)
        return root
    try:
        generated = wallet_root_generate(origin=RootOrigin.AUTO)
    except WalletRootConflict:
        return wallet_root()
    logger.warning(
        "No HD wallet root was configured: generated a new one (fingerprint %s). Its mnemonic is "
        "stored only encrypted and was not shown; for real funds set up the root with "
        "`manage.py wallet_init` (docs/wallets.md).",
        generated.root.fingerprint,
    )
    return generated.root


def wallet_root_import(
    *, mnemonic: str, force: bool = False, origin: str = RootOrigin.IMPORTED
) -> tuple[WalletRoot, bool]:
    """Store the operator's mnemonic (encrypted) as the root. Returns (root, changed).

    The same mnemonic again changes nothing. A different root is only replaced with
    force=True (WalletRootConflict otherwise): addresses derived from the old root stay in the
    database but are never handed out again. Raises InvalidMnemonic (never echoing words).
    """
    return _store_root(mnemonic=mnemonic, origin=origin, force=force)


def wallet_root_generate(*, force: bool = False, origin: str = RootOrigin.GENERATED) -> GeneratedRoot:
    """A new random 24-word root. The mnemonic is only in the return value: show it once.
    Raises WalletRootConflict when a root exists and force is False."""
    from chains.derivation import generate_mnemonic

    existing = WalletRoot.objects.first()
    if existing is not None and not force:
        raise WalletRootConflict(existing.fingerprint)
    mnemonic = generate_mnemonic(256)
    root, _ = _store_root(mnemonic=mnemonic, origin=origin, force=force)
    return GeneratedRoot(root=root, mnemonic=mnemonic)


# --------------------------------------------------------------------------------------------
# Deriving
# --------------------------------------------------------------------------------------------

_xrpl_accounts: dict[tuple[str, str], str] = {}
_xrpl_lock = threading.Lock()


def _deriver(root: WalletRoot, network: str, mode: str) -> Callable[[int], tuple[str, int | None]]:
    """index -> (address, destination_tag) for one root, network and mode. The mnemonic is
    decrypted at most once per call of _deriver and only when a derivation is needed."""
    mnemonic: list[str] = []

    def _mnemonic() -> str:
        if not mnemonic:
            mnemonic.append(root_mnemonic(root))
        return mnemonic[0]

    if network == XRPL:
        key = (root.fingerprint, mode)

        def derive_xrpl(index: int) -> tuple[str, int | None]:
            tag = xrpl_destination_tag(index)
            with _xrpl_lock:
                account = _xrpl_accounts.get(key)
            if account is None:  # one receiving account per root and mode: derive it once
                account = derive_address(mnemonic=_mnemonic(), network=network, mode=mode, index=0).address
                with _xrpl_lock:
                    _xrpl_accounts[key] = account
            return account, tag

        return derive_xrpl

    def derive(index: int) -> tuple[str, int | None]:
        return derive_address(mnemonic=_mnemonic(), network=network, mode=mode, index=index).address, None

    return derive


def _derive_many(root: WalletRoot, network: str, mode: str, indices: range) -> tuple[list[str], list[int | None]]:
    """(addresses, destination tags) of these indices: on the XRP Ledger the one receiving
    account and a tag each, elsewhere chains.derivation.derive_addresses."""
    if network == XRPL:
        derive = _deriver(root, network, mode)
        pairs = [derive(index) for index in indices]
        return [address for address, _ in pairs], [tag for _, tag in pairs]
    addresses = derive_addresses(mnemonic=root_mnemonic(root), network=network, mode=mode, indices=indices)
    return addresses, [None] * len(addresses)


def _locked_counter(network: str, mode: str) -> DerivationCounter:
    """The counter row of (network, mode), locked until the transaction ends."""
    counter = DerivationCounter.objects.select_for_update().filter(network=network, mode=mode).first()
    if counter is None:
        # First use: INSERT ... ON CONFLICT DO NOTHING, so racing creators never fail.
        DerivationCounter.objects.bulk_create(
            [DerivationCounter(network=network, mode=mode, next_index=0)], ignore_conflicts=True
        )
        counter = DerivationCounter.objects.select_for_update().get(network=network, mode=mode)
    return counter


def _take_indices(counter: DerivationCounter, count: int) -> range:
    start = counter.next_index
    counter.next_index = start + count
    counter.save(update_fields=["next_index"])
    return range(start, start + count)


def _check(network: str, mode: str) -> str:
    check_mode(mode)
    return get_network(network).label


# --------------------------------------------------------------------------------------------
# Reservation and release
# --------------------------------------------------------------------------------------------


def deposit_address_reserve(*, network: str, mode: str, order, fresh: bool = False,
                            backed_up_root: bool = False) -> DepositAddress:
    """The deposit address for `order` on `network`, assigned to it.

    Call inside the caller's transaction (charge creation): the rows locked here stay locked
    until it commits. Race-free on PostgreSQL: first claims the lowest free (pooled or
    released, never funded) address of the current root, looking from just above this
    process's last claim (_claim_free), in one UPDATE ... WHERE id = (SELECT
    ... FOR UPDATE SKIP LOCKED) RETURNING, which reads the root itself; otherwise takes the
    next index from the locked DerivationCounter row and derives it. On the XRP Ledger the
    address is the deployment's receiving account and the destination tag tells orders apart.
    An order that already holds an open address on `network` gets that one again;
    `fresh=True` says the order is being created in this transaction (it may not even be
    inserted yet: foreign keys are checked at commit), so it holds none and the lookup is
    skipped. `backed_up_root`: a live
    address must come from a root the operator backed up (not RootOrigin.AUTO); raised after
    the claim, the error rolls the caller's transaction (and the claim) back.
    Raises WalletRootMissing, WalletRootNotBackedUp, UnknownNetwork, UnknownMode, ValueError
    (mode != order.mode).
    """
    network = _check(network, mode)
    if getattr(order, "mode", mode) != mode:
        raise ValueError(f"order {order.pk} is a {order.mode} order, not {mode}")
    now = timezone.now()

    def checked(origin: str) -> None:
        if backed_up_root and mode == Mode.LIVE and origin == RootOrigin.AUTO:
            raise WalletRootNotBackedUp()

    # No savepoint: inside the caller's transaction (the usual case) an error here rolls the
    # whole of it back anyway; a savepoint would only add two round trips per charge.
    with transaction.atomic(savepoint=False):
        if not fresh:
            current = DepositAddress.objects.filter(order_id=order.pk, network=network,
                                                    state=AddressState.ASSIGNED).first()
            if current is not None:
                return current
        free = _claim_free(network=network, mode=mode, order_id=order.pk, now=now)
        if free is not None:
            checked(free.root_origin)
            return free
        root = wallet_root()
        checked(root.origin)
        counter = _locked_counter(network, mode)
        (index,) = _take_indices(counter, 1)
        address, tag = _deriver(root, network, mode)(index)
        return DepositAddress.objects.create(
            network=network, mode=mode, address=address, derivation_index=index, destination_tag=tag,
            root_fingerprint=root.fingerprint, order_id=order.pk, state=AddressState.ASSIGNED, assigned_at=now,
        )


def _claim_sql() -> str:
    """The claim statement; its parameters are order_id, assigned_at, network, mode and the
    derivation index to start from (_claim_free). It reads the stored root's fingerprint
    itself, and returns the root's origin last.

    The states are literals, not parameters: the planner can only match the partial pool
    index (WHERE state = 'free') against a constant, and a prepared statement's generic plan
    would otherwise walk every address ever assigned (measured under load: about 1,000
    buffers and 2 ms per claim after a few thousand charges)."""
    table = DepositAddress._meta.db_table
    roots = WalletRoot._meta.db_table
    lock = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    return (f"UPDATE {table} SET state = '{AddressState.ASSIGNED.value}', order_id = %s, assigned_at = %s "
            f"WHERE id = (SELECT id FROM {table} WHERE network = %s AND mode = %s "
            f"AND state = '{AddressState.FREE.value}' AND root_fingerprint = (SELECT fingerprint FROM {roots}) "
            f"AND derivation_index >= %s ORDER BY derivation_index LIMIT 1{lock}) "
            f"RETURNING {fastsql.select_list(DepositAddress, table)}, (SELECT origin FROM {roots})")


# Where this process's next claim starts looking, per (network, mode): just above the address
# it claimed last. Every address below it that was free has been claimed since, so a claim
# from the bottom would step over the index entries of all of them (they stay in both
# indexes until VACUUM): about 8,000 entries and 3,700 buffers, 1.8 ms of PostgreSQL, after
# 8,000 charges on a pool filled at once (its statistics still saying every row is free).
# From the hint a claim passes only the few taken meanwhile by other processes. The hint is
# only where to start: with nothing free above it the claim looks again from the bottom, and
# so does every CLAIM_RESCAN-th claim, so an address released back to the pool (its order
# expired unpaid) below the hint is handed out again.
_claim_from: dict[tuple[str, str], tuple[int, int]] = {}  # -> (index, claims since the bottom)
CLAIM_RESCAN = 1000


def claim_hints_forget() -> None:
    """The next claim of this process looks from the bottom (tests: a new database)."""
    _claim_from.clear()


def _claim_free(*, network: str, mode: str, order_id: str, now: datetime) -> DepositAddress | None:
    """Assign the lowest free address of (network, mode) at or above this process's hint
    (_claim_from), else the lowest free one, and the stored root to the order, in one
    statement each: UPDATE ... WHERE id = (the lowest free one, FOR UPDATE SKIP LOCKED)
    RETURNING. Concurrent claims skip each other's locked row instead of waiting for it. The
    address comes back with `root_origin`; without a root nothing is claimed."""
    key = (network, mode)
    hint, claims = _claim_from.get(key, (0, 0))
    start = hint if claims + 1 < CLAIM_RESCAN else 0
    claims = claims + 1 if start else 0
    at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(_claim_sql(), [order_id, at, network, mode, start])
        row = cursor.fetchone()
        if row is None and start > 0:  # nothing free above the hint: from the bottom
            cursor.execute(_claim_sql(), [order_id, at, network, mode, 0])
            row = cursor.fetchone()
    if row is None:
        _claim_from[key] = (0, 0)
        return None
    claimed = fastsql.load(DepositAddress, row[:-1])  # the fields' converters apply, as in a SELECT
    claimed.root_origin = row[-1]
    _claim_from[key] = (claimed.derivation_index + 1, claims)
    return claimed


def _funded() -> Exists:
    """Any transfer (even one later reverted) ever seen on the address, or for its order on
    its network: such an address has received funds."""
    return Exists(
        Transfer.objects.filter(
            Q(deposit_address=OuterRef("pk"))
            | Q(order=OuterRef("order"), network=OuterRef("network"), order__isnull=False)
        )
    )


def _release(rows: list[DepositAddress], now: datetime) -> int:
    funded = set(
        DepositAddress.objects.filter(pk__in=[row.pk for row in rows])
        .annotate(funded=_funded()).filter(funded=True).values_list("pk", flat=True)
    )
    released = 0
    for row in rows:
        if row.pk in funded:
            row.state = AddressState.USED
            row.save(update_fields=["state"])
            continue
        row.state = AddressState.FREE
        row.order = None
        row.released_at = now
        row.save(update_fields=["state", "order", "released_at"])
        released += 1
    return released


def monitor_seconds() -> int:
    return int(getattr(settings, "FLUXA_ADDRESS_MONITOR_SECONDS", DEFAULT_MONITOR_SECONDS))


def deposit_address_release_idle(*, now: datetime | None = None, limit: int = 500) -> int:
    """Free the addresses of expired or canceled orders that never received funds and whose
    monitoring window (FLUXA_ADDRESS_MONITOR_SECONDS after the order's expires_at) is over.
    At most `limit` per call; returns how many were released. Keeps the HD gap small."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=monitor_seconds())
    with transaction.atomic():
        rows = list(
            DepositAddress.objects.select_for_update(skip_locked=True, of=("self",))
            .annotate(order_end=Coalesce("order__expires_at", "order__updated_at"))
            .filter(state=AddressState.ASSIGNED, order__status__in=IDLE_ORDER_STATUSES, order_end__lt=cutoff)
            .order_by("pk")[:limit]
        )
        return _release(rows, now)


# --------------------------------------------------------------------------------------------
# The pool
# --------------------------------------------------------------------------------------------


def pool_size() -> int:
    return int(getattr(settings, "FLUXA_ADDRESS_POOL_SIZE", DEFAULT_POOL_SIZE))


def deposit_address_pools_replenish(*, networks: list[str]) -> int:
    """Top up the pool of each (network, mode) of these networks to pool_size(); returns how
    many addresses were derived (none, with a warning, while there is no HD root yet)."""
    size = pool_size()
    if size <= 0:
        return 0
    created = 0
    try:
        for network in networks:
            for mode in MODES:
                created += deposit_address_pool_replenish(network=network, mode=mode, size=size)
    except WalletRootMissing:
        logger.warning("No HD wallet root yet: the deposit address pool stays empty.")
    if created:
        logger.info("Derived %d deposit address(es) into the pool.", created)
    return created


def _reserve_indices(network: str, mode: str, count: int) -> range:
    """`count` indices taken from the counter of (network, mode) in a transaction of their
    own, committed before any of them is derived: the counter row is locked for a few
    statements, never for a derivation. Once this returns, no other caller can be handed
    these indices (the counter only moves forward); if the caller dies before inserting
    them, they stay a gap, never reused (the unique (network, mode, derivation_index)
    constraint would refuse a reuse anyway)."""
    with transaction.atomic():
        return _take_indices(_locked_counter(network, mode), count)


@contextmanager
def _only_refill(network: str, mode: str) -> Iterator[bool]:
    """Whether this is the only refill of (network, mode) running now: on PostgreSQL a
    session advisory lock, taken without waiting and held across the refill's transactions,
    released at the end (and by PostgreSQL itself when the holder's connection dies, so a
    killed refill never blocks the next one). Charges never take it. Elsewhere (SQLite,
    `make run`, one process) always True."""
    if connection.vendor != "postgresql":
        yield True
        return
    key = [POOL_LOCK_CLASS, zlib.crc32(f"{network}:{mode}".encode()) - 2**31]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
        (held,) = cursor.fetchone()
    try:
        yield held
    finally:
        if held:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)
            except DatabaseError:  # an aborted transaction of the caller: it goes with the session
                logger.warning("Could not release the %s %s pool refill lock; it ends with the connection.",
                               mode, network)


def _insert_free(*, network: str, mode: str, root: WalletRoot, indices: range, addresses: list[str],
                 tags: list[int | None]) -> None:
    """The pool's new rows, free, in one statement: on PostgreSQL one INSERT ... SELECT FROM
    unnest(three arrays) (the values travel as three array parameters, not a model instance
    and a dozen parameters per row); elsewhere bulk_create. Either way the unique (network,
    mode, derivation_index) constraint refuses an index stored before."""
    if connection.vendor != "postgresql":
        DepositAddress.objects.bulk_create([
            DepositAddress(network=network, mode=mode, address=address, derivation_index=index,
                           destination_tag=tag, root_fingerprint=root.fingerprint, state=AddressState.FREE)
            for index, address, tag in zip(indices, addresses, tags)
        ], batch_size=len(indices))
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {DepositAddress._meta.db_table} (network, mode, root_fingerprint, state, created_at, "
            "address, derivation_index, destination_tag) "
            f"SELECT %s, %s, %s, '{AddressState.FREE.value}', %s, a, i, t "
            "FROM unnest(%s::varchar[], %s::integer[], %s::bigint[]) AS new (a, i, t)",
            [network, mode, root.fingerprint, connection.ops.adapt_datetimefield_value(timezone.now()),
             addresses, list(indices), tags],
        )


def _close_connection() -> None:
    connection.close()  # this thread's connection: `connection` is looked up where it is called


class _Inserts:
    """The refill's inserts, on one helper thread with its own database connection, so that
    deriving the next round overlaps the database's work on this one; at most one insert in
    flight, its error raised at the next submit or at the end. Inline instead for a single
    round (nothing to overlap), and inside an atomic block (the caller's transaction, as in
    most tests), where the rows must belong to that transaction."""

    def __init__(self, *, rounds: int) -> None:
        inline = rounds < 2 or connection.in_atomic_block or connection.vendor != "postgresql"
        self.pool = None if inline else ThreadPoolExecutor(max_workers=1, thread_name_prefix="pool-refill")
        self.flight = None

    def submit(self, **rows) -> None:
        if self.pool is None:
            _insert_free(**rows)
            return
        self.wait()
        self.flight = self.pool.submit(_insert_free, **rows)

    def wait(self) -> None:
        if self.flight is not None:
            flight, self.flight = self.flight, None
            flight.result()

    def close(self) -> None:
        if self.pool is not None:
            try:
                self.wait()
            finally:
                self.pool.submit(_close_connection).result()  # the insert thread's own
                self.pool.shutdown()


def deposit_address_pool_replenish(*, network: str, mode: str, size: int | None = None) -> int:
    """Pre-derive free addresses of (network, mode) until `size` (FLUXA_ADDRESS_POOL_SIZE)
    are free, so that reservation usually only claims a row. Returns how many were created.

    One refill per (network, mode) at a time (`_only_refill`): a second one started
    meanwhile returns 0 at once, since the first tops up what is missing. It counts the free
    addresses once, then per round of up to POOL_BATCH: reserves the indices
    (`_reserve_indices`: a short transaction on the counter row, which charges deriving on an
    empty pool share), derives them with no lock and no transaction open (all at once:
    chains.derivation.derive_addresses), and inserts them in one statement and one commit
    (`_insert_free`), on another connection while the next round is derived (`_Inserts`).
    Call it outside a transaction: inside one, the counter row would stay locked until that
    transaction ends."""
    network = _check(network, mode)
    size = pool_size() if size is None else size
    root = wallet_root()
    created = 0
    with _only_refill(network, mode) as alone:
        if not alone:
            return 0
        missing = size - DepositAddress.objects.filter(
            network=network, mode=mode, state=AddressState.FREE, root_fingerprint=root.fingerprint
        ).count()
        inserts = _Inserts(rounds=-(-missing // POOL_BATCH))
        try:
            while created < missing:
                indices = _reserve_indices(network, mode, min(missing - created, POOL_BATCH))
                addresses, tags = _derive_many(root, network, mode, indices)
                inserts.submit(network=network, mode=mode, root=root, indices=indices, addresses=addresses, tags=tags)
                created += len(indices)
        finally:
            inserts.close()
    return created
