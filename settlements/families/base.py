"""What the engine asks of each chain family (EVM, UTXO, Solana, XRP Ledger, Tron).

The engine (settlements/engine.py) owns the lifecycle, the locks and the database; a family
owns the chain's rules. Its methods split where a lock may be held:

* `plan` (settlements/services.py calls it inside the transaction that creates the
  settlement): which outbounds carry one settlement (a top-up first? a separate fee leg, or
  the fee owed?), as `Plan`. No node call.
* `prepare` reads what a build needs from the node (fee estimates, balances, UTXOs, a recent
  blockhash, the ledger's reserve) with no lock held.
* `build` signs, under the sending account's row lock, with the nonce / sequence the engine
  allocated from that row; CPU only, no node call. It returns `Built`, which the engine
  stores (raw bytes, txid, nonce, valid_until) before anything is broadcast.
* `replacement` decides, with what `prepare` read, whether a stuck candidate is replaced by
  the chain's own rule, and builds the replacement (or returns None).
* `send` broadcasts stored bytes; a node that already has them is success.
* `state` says where a candidate stands on the chain.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings

from settlements.models import OutboundPurpose


def cost_limits(network: str) -> tuple[Decimal | None, Decimal | None]:
    """(minimum, maximum) network cost of one outgoing transfer, in the network's native asset
    (FLUXA_SETTLEMENT_COST_LIMITS). Here, not in services, so that families can use it."""
    limits = settings.FLUXA_SETTLEMENT_COST_LIMITS.get(network, {})
    low, high = limits.get("min"), limits.get("max")
    return (Decimal(str(low)) if low is not None else None, Decimal(str(high)) if high is not None else None)


class TxRejected(Exception):
    """The node refused the transaction for good (not a transient outage: that is
    chains.adapters.base.ChainUnavailable). `spent` says the nonce / inputs are consumed
    anyway (a nonce too low because this very tx already landed is not a rejection: `send`
    reports it as success and `state` finds the tx)."""

    def __init__(self, reason: str, *, spent: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.spent = spent


class NotReady(Exception):
    """The build cannot happen yet (balance not there, top-up not confirmed, cost above the
    limit, recipient not activated...). The engine keeps the outbound planned, records the
    reason and tries again later. `hold=True` marks its settlement `held` (shown to people)."""

    def __init__(self, reason: str, *, hold: bool = False, retry_seconds: float = 30):
        super().__init__(reason)
        self.reason = reason
        self.hold = hold
        self.retry_seconds = retry_seconds


class NotNeeded(Exception):
    """The outbound has nothing to send (a gas top-up to an address that already holds the
    gas): the engine resolves it as confirmed without a transaction, and what waited for it
    goes on."""


class CannotSend(Exception):
    """The outbound can never be built (e.g. the amount is below dust): it fails, nothing
    was signed. `code` names the rule for a refusal the merchant reads (a refund quote:
    "below_dust", "below_reserve", "invalid_address", ...)."""

    def __init__(self, reason: str = "", *, code: str = "cannot_send"):
        super().__init__(reason)
        self.code = code


@dataclass(frozen=True)
class Output:
    address: str
    amount: Decimal | str          # Decimal, or "rest": the sender's balance after the network cost
    role: str                      # "net", "fee", "topup", "refund"
    tag: int | None = None         # XRP destination tag

    def as_json(self) -> dict:
        return {"address": self.address, "amount": str(self.amount), "role": self.role, "tag": self.tag}


@dataclass(frozen=True)
class OutboundSpec:
    """One outbound a plan asks for. `after` is the index (in Plan.outbounds) of an outbound
    that must be confirmed before this one is built (the gas top-up)."""

    sender_address: str
    sender_role: str                # SenderRole value
    asset: str
    outputs: list[Output]
    purpose: str                    # OutboundPurpose value
    leg_role: str                   # LegRole value linking it to the settlement
    token: str = ""
    sender_index: int | None = None  # derivation index of a deposit address
    after: int | None = None
    sources: list[dict] = field(default_factory=list)
    max_network_cost: Decimal | None = None
    # A UTXO batch: the id of an open planned outbound (its row locked by `plan`) this
    # settlement joins instead of a new one; its outputs and sources become the spec's.
    join: str | None = None
    # Not built before this time (a UTXO batch's window): the new outbound's next_try_at.
    not_before: Any = None


@dataclass(frozen=True)
class Plan:
    outbounds: list[OutboundSpec]
    amount: Decimal                  # the merchant's net as planned
    fee: Decimal
    fee_owed: bool = False
    owed_reason: str = ""
    owed_held_at: str = ""           # where an owed fee is kept when not on the deposit address


PAID_BY_PAYER = "payer"        # the network cost comes out of the refund
PAID_BY_OPERATOR = "operator"  # the operator's fee payer pays it (a token's gas top-up, Solana's fee)


@dataclass(frozen=True)
class RefundQuote:
    """What a deposit refund would send now (a family's `quote_refund`, node reads only): the
    amount leaving the deposit address, the net the payer receives, and the network cost in
    `cost_asset`. `paid_by` says who bears the cost: "payer" (out of the refund) or "operator"
    (the fee payer pays it: token top-ups, Solana fees). `terms` are what the build must keep
    to for the payer to receive exactly `net` (e.g. the EVM gas price); the refund stores them."""

    amount: Decimal
    net: Decimal
    network_cost: Decimal
    cost_asset: str
    paid_by: str
    terms: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RefundShape:
    """A deposit refund as a family's `plan` reads a settlement: the gross leaving the deposit
    address, no platform fee (a refund carries none), and the refund's id where a family keys
    a batch share by it."""

    id: str
    gross: Decimal
    asset: str
    fee: Decimal = Decimal(0)

    @property
    def amount(self) -> Decimal:
        return self.gross


@dataclass(frozen=True)
class Built:
    txid: str
    raw: bytes
    outputs: list[dict]              # what this candidate pays, final amounts (Output.as_json shape)
    network_cost: Decimal            # the most it can cost, in fee_asset
    fee_asset: str
    nonce: int | None = None         # EVM nonce / XRP sequence (must equal the one allocated)
    valid_until: int | None = None   # Solana lastValidBlockHeight, XRP LastLedgerSequence, Tron expiration ms
    fee_fields: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TxState:
    found: bool                      # the node knows it (mempool or a block)
    in_block: bool = False
    block_number: int | None = None
    block_hash: str | None = None
    confirmations: int = 0
    succeeded: bool | None = None    # False: in a block but failed/reverted (its nonce/fee are spent)
    network_cost: Decimal | None = None  # what it really cost, once in a block
    expired: bool = False            # can never be included any more


NOT_FOUND = TxState(found=False)


class Family(abc.ABC):
    """One chain family's rules for a (network, mode). Subclasses are registered in
    settlements/families/__init__.py."""

    # Whether the engine allocates a nonce (EVM) / sequence (XRP) from the sending account row.
    uses_nonce: bool = False

    def __init__(self, *, network: str, mode: str):
        self.network = network
        self.mode = mode

    @abc.abstractmethod
    def plan(self, *, settlement, order, deposit, payout_address: str, payout_tag: int | None,
             fee_address: str | None, fee_payer_address: str) -> Plan:
        """The outbounds that carry `settlement` (an unsaved-or-saved Settlement), from the
        deposit address `deposit` (wallets.DepositAddress). No node call."""

    @abc.abstractmethod
    def prepare(self, outbound) -> Any:
        """Node reads a build needs, no lock held. May raise NotReady / ChainUnavailable."""

    @abc.abstractmethod
    def build(self, outbound, prepared: Any, *, nonce: int | None, signer) -> Built:
        """Sign the outbound. `signer(sending_account)` returns a chains.derivation.SigningKey
        (use it in a `with` block). No node call. May raise NotReady / CannotSend."""

    @abc.abstractmethod
    def replacement(self, outbound, candidate, prepared: Any, *, signer, stuck_seconds: float) -> Built | None:
        """A replacement of the newest candidate by the chain's rule when it is due, else None.
        EVM: same nonce, +12.5% on both fee fields; UTXO: RBF on the same inputs; Solana: only
        once the blockhash expired; XRP: once LastLedgerSequence passed (same sequence);
        Tron: once the expiration passed."""

    @abc.abstractmethod
    def send(self, raw: bytes) -> None:
        """Broadcast stored bytes. Already known / already processed returns normally.
        Raises TxRejected or chains.adapters.base.ChainUnavailable."""

    @abc.abstractmethod
    def state(self, candidate) -> TxState:
        """Where the candidate (settlements.Candidate) stands on the chain."""

    # -- deposit refunds ---------------------------------------------------------------------

    def quote_refund(self, *, order, deposit, amount: Decimal, to_address: str, to_tag: int | None) -> RefundQuote:
        """What refunding `amount` of the order's asset from `deposit` to `to_address` would
        send and cost now. Node reads, no lock, nothing written. Raises CannotSend(code=...)
        for a refund the chain's rules refuse (below dust, below a reserve, a destination
        that needs a tag...)."""
        raise NotImplementedError(f"no deposit refunds on {self.network} yet")

    def plan_refund(self, *, refund, order, deposit, to_address: str, to_tag: int | None,
                    fee_payer_address: str, quote: RefundQuote) -> Plan:
        """The outbounds that carry a deposit refund: the settlement plan with no platform fee,
        the refund address as the payee (the payee bears the network cost where the chain's
        settlement rules make the merchant bear it). Where the payer bears it, the refund's
        transfer may cost at most the quoted cost: a family builds it at exactly that cost, so
        the payer receives exactly the quoted net (and waits while the network costs more).
        No node call."""
        plan = self.plan(settlement=RefundShape(id=refund.id, gross=refund.amount, asset=refund.currency), order=order,
                         deposit=deposit, payout_address=to_address, payout_tag=to_tag, fee_address=None,
                         fee_payer_address=fee_payer_address)
        return as_refund_plan(plan, quote=quote)

    def initial_nonce(self, address: str) -> int:
        """The first nonce of a sending account fluxa has not sent from before (read once,
        when its row is created; a fresh deposit address starts at 0)."""
        return 0

    def balance(self, address: str, *, asset: str, token: str = "") -> Decimal:
        """What the address holds (for `manage.py feepayer` and the low-balance notice)."""
        raise NotImplementedError


def as_refund_plan(plan: Plan, *, quote: RefundQuote) -> Plan:
    """A settlement plan turned into a refund's: its transfer to the payee has the refund
    purpose (top-ups stay top-ups), never joins a batch, and, where the payer bears the
    network cost, may cost at most the quote's."""
    specs = []
    for spec in plan.outbounds:
        if spec.purpose == OutboundPurpose.SETTLEMENT:
            changes = {"purpose": OutboundPurpose.REFUND, "join": None, "not_before": None}
            if quote.paid_by == PAID_BY_PAYER:
                changes["max_network_cost"] = quote.network_cost
            spec = OutboundSpec(**{**spec.__dict__, **changes})
        specs.append(spec)
    return Plan(outbounds=specs, amount=plan.amount, fee=Decimal(0))
