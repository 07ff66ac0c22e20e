"""The deployment's HD wallet root, the deposit addresses derived from it and the transfers
that arrive on them (docs/wallets.md).

The mnemonic lives only in `WalletRoot.mnemonic_encrypted` (core.secretbox); nothing in
this module ever shows it: not repr/str, not the admin, not logs.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.modes import Mode

XRPL = "xrpl"  # the one network that tells orders apart by destination tag, not by address


class RootOrigin(models.TextChoices):
    IMPORTED = "imported", "Imported by the operator (wallet_init --from-env/--from-file)"
    GENERATED = "generated", "Generated and shown once (wallet_init --generate)"
    AUTO = "auto", "Generated automatically, never shown (development)"


class WalletRoot(models.Model):
    """The one HD root of this deployment: a BIP39 mnemonic, stored only encrypted.

    `fingerprint` is the BIP32 master key fingerprint (8 hex digits, as hardware wallets and
    descriptors show it) of the seed without passphrase: it identifies the root without
    revealing anything about it. Live and test addresses both derive from this root on
    separate branches (chains.derivation).
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    mnemonic_encrypted = models.TextField(editable=False)
    fingerprint = models.CharField(max_length=8, editable=False)
    origin = models.CharField(max_length=16, choices=RootOrigin.choices, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="wallet_root_singleton"),
        ]

    def __str__(self) -> str:
        return f"HD wallet root {self.fingerprint}"

    def __repr__(self) -> str:
        return f"<WalletRoot {self.fingerprint} {self.origin}>"


class AddressState(models.TextChoices):
    FREE = "free", "Free"  # in the pool: never funded, not assigned
    ASSIGNED = "assigned", "Assigned"  # given to an order
    USED = "used", "Used"  # funds arrived at least once: never handed out again


class DepositAddress(models.Model):
    """One receiving address (or, on the XRP Ledger, one destination tag of the deployment's
    receiving account), derived at `derivation_index` from the root `root_fingerprint`."""

    network = models.CharField(max_length=32)
    mode = models.CharField(max_length=4, choices=Mode.choices)
    address = models.CharField(max_length=128)
    derivation_index = models.PositiveIntegerField()
    destination_tag = models.PositiveBigIntegerField(null=True, blank=True)
    root_fingerprint = models.CharField(max_length=8)
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="deposit_addresses"
    )
    state = models.CharField(max_length=16, choices=AddressState.choices, default=AddressState.FREE)
    assigned_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True, help_text="Last time it went back to the pool.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["network", "mode", "derivation_index"]
        constraints = [
            # Every index is handed out once per network and mode (on XRP too: tag = index + 1).
            models.UniqueConstraint(
                fields=["network", "mode", "derivation_index"], name="deposit_address_unique_index"
            ),
            models.UniqueConstraint(
                fields=["network", "mode", "destination_tag"],
                condition=Q(destination_tag__isnull=False),
                name="deposit_address_unique_tag",
            ),
            models.UniqueConstraint(
                fields=["network", "mode", "address"],
                condition=Q(destination_tag__isnull=True),
                name="deposit_address_unique_address",
            ),
            models.UniqueConstraint(
                fields=["order", "network"],
                condition=Q(state=AddressState.ASSIGNED),
                name="deposit_address_one_open_per_order",
            ),
            models.CheckConstraint(
                condition=(Q(network=XRPL) & Q(destination_tag__isnull=False))
                | (~Q(network=XRPL) & Q(destination_tag__isnull=True)),
                name="deposit_address_tag_only_on_xrpl",
            ),
            models.CheckConstraint(condition=Q(mode__in=Mode.values), name="deposit_address_mode_valid"),
            models.CheckConstraint(
                condition=Q(state__in=AddressState.values), name="deposit_address_state_valid"
            ),
            models.CheckConstraint(
                condition=~Q(state=AddressState.FREE) | Q(order__isnull=True),
                name="deposit_address_free_has_no_order",
            ),
            models.CheckConstraint(
                condition=~Q(state=AddressState.ASSIGNED) | (Q(order__isnull=False) & Q(assigned_at__isnull=False)),
                name="deposit_address_assigned_has_order",
            ),
        ]
        indexes = [
            # The pool: reservation claims the lowest free index (from just above the process's
            # last claim: wallets.services._claim_free) with SKIP LOCKED.
            models.Index(
                fields=["network", "mode", "root_fingerprint", "derivation_index"],
                condition=Q(state=AddressState.FREE),
                name="deposit_address_pool_idx",
            ),
        ]

    def __str__(self) -> str:
        tag = f" tag {self.destination_tag}" if self.destination_tag is not None else ""
        return f"{self.mode} {self.network} {self.address}{tag}"

    def __repr__(self) -> str:
        return (
            f"<DepositAddress {self.mode} {self.network} #{self.derivation_index} {self.address}"
            f"{'' if self.destination_tag is None else f' tag={self.destination_tag}'} {self.state}>"
        )


class DerivationCounter(models.Model):
    """The next unused derivation index of one network and mode. Reservation and the pool lock
    this row (SELECT ... FOR UPDATE) to take indices: never count() or max() + 1."""

    network = models.CharField(max_length=32)
    mode = models.CharField(max_length=4, choices=Mode.choices)
    next_index = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["network", "mode"], name="derivation_counter_unique"),
        ]

    def __repr__(self) -> str:
        return f"<DerivationCounter {self.mode} {self.network} next={self.next_index}>"


class TransferStatus(models.TextChoices):
    SEEN = "seen", "Seen"
    CONFIRMED = "confirmed", "Confirmed"
    REVERTED = "reverted", "Reverted"


class Transfer(models.Model):
    """Incoming funds: one output (UTXO), log (token transfer) or payment, identified by
    (network, tx_hash, log_index). Created by the chain watcher and by test-mode simulation."""

    network = models.CharField(max_length=32)
    mode = models.CharField(max_length=4, choices=Mode.choices)
    tx_hash = models.CharField(max_length=128)
    log_index = models.IntegerField(default=0, help_text="Output index, log index, or 0.")
    deposit_address = models.ForeignKey(
        DepositAddress, null=True, blank=True, on_delete=models.PROTECT, related_name="transfers"
    )
    # No index of its own: transfer_order_status_idx starts with order_id (core/dbindexes.py).
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="transfers", db_index=False
    )
    asset = models.CharField(max_length=16)
    amount = models.DecimalField(max_digits=38, decimal_places=18)
    # The payer's sending address as the chain reports it, in the network's normal form (EIP-55
    # on EVM chains, a classic account on the XRP Ledger); "" where the chain names none
    # (Bitcoin and Litecoin outputs: a transaction has inputs, not a sender).
    sender = models.CharField(max_length=128, blank=True)
    block_number = models.BigIntegerField(null=True, blank=True)
    block_hash = models.CharField(max_length=128, blank=True)
    confirmations = models.IntegerField(default=0)
    status = models.CharField(max_length=16, choices=TransferStatus.choices, default=TransferStatus.SEEN)
    simulated = models.BooleanField(default=False)
    detected_at = models.DateTimeField(auto_now_add=True)
    # The time of the block that holds it (its header's), which is when the payer paid: an
    # order's lateness is judged by it. Null for a simulated transfer (then detected_at counts).
    block_time = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-detected_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["network", "tx_hash", "log_index"], name="transfer_unique_output"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="transfer_amount_positive"),
            models.CheckConstraint(condition=Q(confirmations__gte=0), name="transfer_confirmations_non_negative"),
            models.CheckConstraint(condition=Q(log_index__gte=0), name="transfer_log_index_non_negative"),
            models.CheckConstraint(condition=Q(mode__in=Mode.values), name="transfer_mode_valid"),
            models.CheckConstraint(condition=Q(status__in=TransferStatus.values), name="transfer_status_valid"),
        ]
        indexes = [
            models.Index(fields=["order", "status"], name="transfer_order_status_idx"),
            # The orders list's from_address filter: the payer's sending address, in its normal
            # form (chains.addresses.normalize_address; the scanner records it so).
            models.Index(fields=["mode", "sender"], name="transfer_sender_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.network} {self.tx_hash}:{self.log_index}"

    def __repr__(self) -> str:
        return (
            f"<Transfer {self.mode} {self.network} {self.tx_hash}:{self.log_index} "
            f"{self.amount} {self.asset} {self.status}{' simulated' if self.simulated else ''}>"
        )


class ChainCursor(models.Model):
    """How far the scanner of one (network, mode) has read, and the node's last known head.

    `locked_until` is the scanner's lease: exactly one scanner per network at a time, on any
    database and across machines, and a crashed scanner's lease simply expires.
    """

    network = models.CharField(max_length=32)
    mode = models.CharField(max_length=4, choices=Mode.choices)
    last_block = models.BigIntegerField(null=True, blank=True)
    last_block_hash = models.CharField(max_length=128, blank=True)
    head_number = models.BigIntegerField(null=True, blank=True)
    head_timestamp = models.DateTimeField(null=True, blank=True, help_text="Time of the node's newest block.")
    locked_until = models.DateTimeField(null=True, blank=True)
    lock_token = models.CharField(max_length=32, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    # The last pass that completed, and whether the node then said it was in step with its
    # network (null: its kind of node cannot say): wallets.selectors.network_health reads both.
    scanned_at = models.DateTimeField(null=True, blank=True)
    node_synced = models.BooleanField(null=True, blank=True)
    # The orders a pass touched and that are not applied yet, each with the lease token of the
    # pass that last touched it: written in the pass's transaction, cleared by that pass once
    # the orders are applied (wallets.scanning.scan_orders_applied). What a killed worker left
    # here the next pass applies again (applying twice changes nothing).
    pending_orders = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["network", "mode"], name="chain_cursor_one_per_network")]

    def __str__(self) -> str:
        return f"{self.network}/{self.mode} @ {self.last_block}"


class ScannedBlock(models.Model):
    """The hash of a scanned block (the cursor's and those holding transfers), to find the fork
    point when the chain reorganizes. Old rows are pruned."""

    network = models.CharField(max_length=32)
    mode = models.CharField(max_length=4, choices=Mode.choices)
    number = models.BigIntegerField()
    hash = models.CharField(max_length=128)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["network", "mode", "number"], name="scanned_block_unique"),
        ]


def arrived_by(moment) -> models.Q:
    """Transfers that arrived at or before `moment`: by their block's time, or when they were
    detected where no block time is known (simulated)."""
    return models.Q(block_time__lte=moment) | models.Q(block_time__isnull=True, detected_at__lte=moment)
