"""Money leaving fluxa: outgoing transfers (the engine every settlement and deposit refund
uses), settlements, and the fee owed to the operator where sending it costs more than it is
worth.

An `Outbound` is one logical transfer from one sending address. Each signed version of it is
a `Candidate` (the raw signed bytes, the txid, the nonce / blockhash / sequence it commits
to), stored in the same database transaction that moves the outbound to `signed`, before
anything is broadcast. Broadcasting only re-sends stored bytes. A replacement (a higher fee,
a fresh blockhash after expiry) is another candidate of the same outbound; every candidate
stays and is watched until one lands. See docs/settlements.md.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from core.ids import ID_MAX_LENGTH, new_id
from core.modes import Mode

AMOUNT = {"max_digits": 38, "decimal_places": 18}


def outbound_id() -> str:
    return new_id("otx")


def settlement_id() -> str:
    return new_id("stl")


class SenderRole(models.TextChoices):
    DEPOSIT = "deposit", "A deposit address"
    FEE_PAYER = "fee_payer", "The operator's fee payer (gas) account"


class SendingAccount(models.Model):
    """One address fluxa sends from. Its row is the lock every build from that address takes,
    and it holds the next nonce (EVM) or sequence (XRP Ledger): allocated here, never read from
    a node's "latest" once the row exists."""

    network = models.CharField(max_length=32)
    mode = models.CharField(max_length=4, choices=Mode.choices)
    address = models.CharField(max_length=128)
    role = models.CharField(max_length=16, choices=SenderRole.choices)
    # The derivation index of a deposit address (the fee payer has its own path).
    derivation_index = models.PositiveIntegerField(null=True, blank=True)
    next_nonce = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["network", "mode", "address"], name="sending_account_unique"),
            models.CheckConstraint(condition=Q(next_nonce__isnull=True) | Q(next_nonce__gte=0),
                                   name="sending_account_nonce_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.mode} {self.network} {self.address} ({self.role})"


class OutboundPurpose(models.TextChoices):
    SETTLEMENT = "settlement", "Settlement (net to the merchant, fee to the operator)"
    FEE = "fee", "The platform fee to the operator"
    TOPUP = "topup", "Gas top-up from the fee payer"
    REFUND = "refund", "Deposit refund to the payer"


class OutboundStatus(models.TextChoices):
    PLANNED = "planned", "Planned (nothing signed yet)"
    SIGNED = "signed", "Signed and stored, not yet accepted by a node"
    BROADCAST = "broadcast", "Accepted by a node, not yet in a block"
    CONFIRMING = "confirming", "In a block, waiting for its confirmations"
    CONFIRMED = "confirmed", "Confirmed"
    FAILED = "failed", "Failed (nothing was sent, or the chain rejected it)"
    REPLACED = "replaced", "Superseded by another outbound"
    NEEDS_REVIEW = "needs_review", "Needs an operator"


# An outbound in one of these may still land on-chain: nothing new is built from its address.
UNRESOLVED = (OutboundStatus.SIGNED, OutboundStatus.BROADCAST, OutboundStatus.CONFIRMING,
              OutboundStatus.NEEDS_REVIEW)
OPEN = (OutboundStatus.PLANNED, *UNRESOLVED)


class Outbound(models.Model):
    """One logical outgoing transfer. `outputs` is the plan: a list of
    {"address", "amount" (decimal string, or "rest" for the sender's balance after the network
    cost), "tag" (XRP destination tag or null), "role" ("net", "fee", "topup", "refund")};
    the candidate that lands says what was really paid (`paid_outputs`)."""

    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=outbound_id, editable=False)
    network = models.CharField(max_length=32)
    mode = models.CharField(max_length=4, choices=Mode.choices)
    purpose = models.CharField(max_length=16, choices=OutboundPurpose.choices)
    sender = models.ForeignKey(SendingAccount, on_delete=models.PROTECT, related_name="outbounds")
    # UTXO batches spend several deposit addresses: their sending accounts (the sender is the first).
    sources = models.JSONField(default=list, blank=True)
    asset = models.CharField(max_length=16)
    token = models.CharField(max_length=128, blank=True, help_text="Token contract / mint; empty for the native asset.")
    outputs = models.JSONField(default=list)
    paid_outputs = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=OutboundStatus.choices, default=OutboundStatus.PLANNED)
    nonce = models.BigIntegerField(null=True, blank=True, help_text="EVM nonce / XRP sequence it commits to.")
    depends_on = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="dependents",
                                   help_text="Built only once this one is confirmed (a gas top-up).")
    required_confirmations = models.PositiveIntegerField(default=1)
    confirmations = models.PositiveIntegerField(default=0)
    txid = models.CharField(max_length=128, blank=True, help_text="The candidate that landed.")
    block_number = models.BigIntegerField(null=True, blank=True)
    block_hash = models.CharField(max_length=128, blank=True)
    fee_asset = models.CharField(max_length=16, blank=True)
    network_cost = models.DecimalField(**AMOUNT, null=True, blank=True)
    max_network_cost = models.DecimalField(**AMOUNT, null=True, blank=True,
                                           help_text="Above this the outbound waits (shown as held).")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    held = models.BooleanField(default=False, help_text="Waiting on something a person must do (the fee payer "
                                                        "short, a recipient to activate): its settlement is held.")
    next_try_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    broadcast_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # A nonce (sequence) is committed to once per sending account.
            models.UniqueConstraint(fields=["sender", "nonce"], condition=Q(nonce__isnull=False),
                                    name="outbound_one_per_nonce"),
            models.CheckConstraint(condition=Q(network_cost__isnull=True) | Q(network_cost__gte=0),
                                   name="outbound_cost_non_negative"),
            models.CheckConstraint(condition=Q(status__in=OutboundStatus.values), name="outbound_status_valid"),
        ]
        indexes = [
            models.Index(fields=["status", "next_try_at"], name="outbound_due_idx",
                         condition=Q(status__in=[s.value for s in OPEN])),
            models.Index(fields=["sender", "status"], name="outbound_sender_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.purpose} {self.status}"


class CandidateStatus(models.TextChoices):
    SIGNED = "signed", "Signed, stored"
    SENT = "sent", "Sent to a node at least once"
    MINED = "mined", "In a block"
    REPLACED = "replaced", "Another candidate of the same outbound landed, or superseded it"
    EXPIRED = "expired", "Can no longer be included (blockhash / ledger / expiration passed)"


class Candidate(models.Model):
    """One signed version of an outbound: exactly the bytes that are (re-)broadcast."""

    outbound = models.ForeignKey(Outbound, on_delete=models.PROTECT, related_name="candidates")
    network = models.CharField(max_length=32)
    txid = models.CharField(max_length=128)
    raw = models.TextField(help_text="The signed transaction, hex.")
    nonce = models.BigIntegerField(null=True, blank=True)
    valid_until = models.BigIntegerField(null=True, blank=True,
                                         help_text="Solana last valid block height, XRP LastLedgerSequence, "
                                                   "Tron expiration (ms).")
    fee_fields = models.JSONField(default=dict, blank=True)
    outputs = models.JSONField(default=list, help_text="What this candidate pays (final amounts).")
    network_cost = models.DecimalField(**AMOUNT, help_text="The most this candidate can cost.")
    status = models.CharField(max_length=16, choices=CandidateStatus.choices, default=CandidateStatus.SIGNED)
    sends = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["network", "txid"], name="candidate_unique_txid"),
        ]

    def __str__(self) -> str:
        return f"{self.txid} ({self.status})"


class SettlementStatus(models.TextChoices):
    PENDING = "pending", "Planned, waiting to be sent"
    HELD = "held", "Waiting: the network cost is above its limit, or the fee payer is short"
    BROADCAST = "broadcast", "Sent, waiting for confirmations"
    CONFIRMED = "confirmed", "Confirmed on-chain"
    FAILED = "failed", "Failed: nothing reached the merchant"
    NEEDS_REVIEW = "needs_review", "Needs an operator"


class Settlement(models.Model):
    """The net of one paid live order on its way to the merchant's payout address, and the
    platform fee to the operator's (or owed, see OwedFee)."""

    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=settlement_id, editable=False)
    order = models.OneToOneField("orders.Order", on_delete=models.PROTECT, related_name="settlement")
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="settlements")
    mode = models.CharField(max_length=4, choices=Mode.choices)
    network = models.CharField(max_length=32)
    asset = models.CharField(max_length=16)
    status = models.CharField(max_length=16, choices=SettlementStatus.choices, default=SettlementStatus.PENDING)
    gross = models.DecimalField(**AMOUNT, help_text="What the deposit address received for the order.")
    amount = models.DecimalField(**AMOUNT, help_text="The net the merchant receives.")
    fee = models.DecimalField(**AMOUNT, help_text="The platform fee.")
    fee_owed = models.BooleanField(default=False, help_text="The fee is recorded as owed instead of sent.")
    network_cost = models.DecimalField(**AMOUNT, null=True, blank=True)
    network_cost_asset = models.CharField(max_length=16, blank=True)
    to_address = models.CharField(max_length=128)
    to_tag = models.BigIntegerField(null=True, blank=True)
    fee_address = models.CharField(max_length=128, blank=True)
    tx_hash = models.CharField(max_length=128, blank=True)
    confirmations = models.PositiveIntegerField(default=0)
    reason = models.CharField(max_length=500, blank=True, help_text="Why it waits, failed or needs review.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(mode=Mode.TEST), name="settlement_never_test"),
            models.CheckConstraint(condition=Q(amount__gte=0) & Q(fee__gte=0), name="settlement_amounts_non_negative"),
            models.CheckConstraint(condition=Q(status__in=SettlementStatus.values), name="settlement_status_valid"),
        ]
        indexes = [models.Index(fields=["merchant", "mode", "-created_at"], name="settlement_list_idx")]

    def __str__(self) -> str:
        return f"{self.id} {self.status}"


class LegRole(models.TextChoices):
    NET = "net", "The merchant's net"
    FEE = "fee", "The platform fee"
    TOPUP = "topup", "Gas top-up"
    CLOSE = "close", "Closing / cleanup"


class SettlementLeg(models.Model):
    """Which outbounds carry a settlement (a UTXO batch carries several settlements)."""

    settlement = models.ForeignKey(Settlement, on_delete=models.CASCADE, related_name="legs")
    outbound = models.ForeignKey(Outbound, on_delete=models.PROTECT, related_name="legs")
    role = models.CharField(max_length=8, choices=LegRole.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["settlement", "outbound", "role"], name="settlement_leg_unique")]


class OwedFee(models.Model):
    """A platform fee not sent on-chain because sending it would cost more than it is worth:
    it stays on the deposit address (`held_at`) for the operator to collect."""

    settlement = models.OneToOneField(Settlement, on_delete=models.PROTECT, related_name="owed_fee")
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="owed_fees")
    network = models.CharField(max_length=32)
    asset = models.CharField(max_length=16)
    amount = models.DecimalField(**AMOUNT)
    held_at = models.CharField(max_length=128)
    reason = models.CharField(max_length=300)
    collected_by = models.ForeignKey(Outbound, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="owed_fee_positive")]


class FeePayerBalance(models.Model):
    """The last balance read of a network's fee payer (the beat job check_fee_payers), so
    /healthz and the admin show a fee payer running low before it blocks a settlement."""

    network = models.CharField(max_length=32)
    mode = models.CharField(max_length=4, choices=Mode.choices)
    address = models.CharField(max_length=128)
    balance = models.DecimalField(**AMOUNT, null=True, blank=True)
    asset = models.CharField(max_length=16)
    low = models.BooleanField(default=False)
    error = models.CharField(max_length=500, blank=True)
    checked_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["network", "mode"], name="fee_payer_balance_unique")]
