"""Solana settlements: one transaction per paid order, paid for by the operator's fee payer.

The deposit address signs what leaves it; the fee payer (SenderRole.FEE_PAYER, its own path
chains.derivation.fee_payer_path) is the transaction's first signer and pays the network fee,
so the deposit needs no SOL for fees. Solana has no nonce (uses_nonce=False): a transaction
commits to a recent blockhash instead and can land only up to that blockhash's
lastValidBlockHeight (the candidate's `valid_until`).

SOL (`asset == "SOL"`, no token): System transfers from the deposit, net to the merchant's
payout address and fee to the operator's platform address, in one transaction, leaving the
deposit at 0. Rules (docs/settlements.md, "Solana"):

* An account holds 0 lamports or at least the rent-exempt minimum (890,880 lamports for a
  plain account): a recipient that does not exist yet must receive at least that much. If
  the merchant's net (or the fee, to a platform address that does not exist yet) is below it,
  the settlement is held (NotReady, hold=True) with the reason, and retried: it goes on as
  soon as the address exists (any amount sent to it once).
* Whatever the deposit holds beyond the settlement's gross (an overpayment) stays there when
  it is at least the rent-exempt minimum (the deposit stays a valid account; a refund can
  return it); a smaller rest cannot stay, so it goes to the merchant with the net.
* Without a platform address the fee is recorded owed (OwedFee) and moved in the same
  transaction to the fee payer, the operator's own account (held_at): a small fee could not
  stay on the emptied deposit, and the fee payer always exists.

SPL tokens (USDC/USDT; the mint is the channel's token_contract): the fee payer pays and
creates the merchant's and the operator's associated token accounts when missing
(idempotent create, 2,039,280 lamports each, counted in the network cost), `transfer_checked`
moves net and fee, and the deposit's token account is closed in the same transaction so its
rent comes back to the fee payer. A rest beyond the gross (overpayment) stays in the deposit's
token account, which is then left open. Without a platform address the fee is owed and stays
in the deposit's token account (held_at the deposit).

Common: the fee payer must hold the fee, the rents it pays, and still the rent-exempt minimum
afterwards, else the settlement is held ("fee payer short"); a network cost above
FLUXA_SETTLEMENT_COST_LIMITS[solana].max holds it too. The transaction id is the fee payer's
signature, known before broadcast. A candidate is replaced (re-signed with a fresh blockhash,
same transfers) only once the finalized block height passed its lastValidBlockHeight and the
node knows no status for its signature: it can then never land, so at most one candidate of
an outbound lands. An outbound is confirmed once its block is finalized (confirmations are
counted in slots from its slot to the finalized slot).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings

from chains.adapters.base import ChainUnavailable
from chains.adapters.registry import adapter_for
from chains.adapters.solana import SendRefused, SolanaAdapter
from chains.networks import get_network
from chains.signing import solana as signing
from core.money import amount_text, from_base_units, to_base_units
from settlements import keys
from settlements.families.base import (
    PAID_BY_OPERATOR,
    Built,
    CannotSend,
    Family,
    NotReady,
    OutboundSpec,
    Output,
    Plan,
    RefundQuote,
    TxRejected,
    TxState,
)
from settlements.models import LegRole, OutboundPurpose, SenderRole, SendingAccount

SOL_DECIMALS = 9
PLAIN_ACCOUNT_SIZE = 0
HOLD_RETRY_SECONDS = 300


@dataclass(frozen=True)
class Facts:
    """What prepare read from the node."""

    blockhash: str
    valid_until: int                 # lastValidBlockHeight
    fee_payer: str
    fee_payer_lamports: int
    rent_minimum: int                # a plain (0-byte) account
    deposit_lamports: int = 0
    recipient_exists: dict[str, bool] = field(default_factory=dict)    # SOL: address -> has an account
    token_balance: int | None = None                                   # SPL: the deposit's token account
    token_decimals: int | None = None
    token_account_exists: dict[str, bool] = field(default_factory=dict)  # SPL: owner -> has its token account
    token_account_rent: int = 0


@dataclass(frozen=True)
class Decision:
    """What the transaction moves, in base units (pure, from the outbound and the facts)."""

    transfers: list[tuple[str, int, str]]   # (address / owner, base units, role)
    create_for: list[str] = field(default_factory=list)  # SPL: owners whose token account is created
    close: bool = False                                  # SPL: close the deposit's token account
    rent_paid: int = 0                                   # lamports the fee payer puts into new accounts
    rent_reclaimed: int = 0                              # lamports the close returns to the fee payer


@dataclass(frozen=True)
class Prepared:
    facts: Facts | None
    decision: Decision | None = None
    network_fee: int | None = None                       # lamports (getFeeForMessage)
    problem: Exception | None = None                     # NotReady / CannotSend found while preparing


class SolanaFamily(Family):
    uses_nonce = False

    def __init__(self, *, network: str, mode: str):
        super().__init__(network=network, mode=mode)
        self._adapter: SolanaAdapter | None = None

    # -- planning (no node) -------------------------------------------------------------------

    def plan(self, *, settlement, order, deposit, payout_address: str, payout_tag: int | None,
             fee_address: str | None, fee_payer_address: str) -> Plan:
        channel = order.channel
        token = channel.token_contract_for(order.mode) if channel.is_token else ""
        if channel.is_token and not token:
            raise CannotSend(f"the {channel.code} channel has no token mint for {order.mode} mode")
        if not channel.is_token and order.asset != get_network(self.network).native_symbol:
            raise CannotSend(f"{order.asset} on {self.network} is neither SOL nor a token")
        fee = settlement.fee if settlement.fee > 0 else Decimal(0)
        owed = fee > 0 and not fee_address
        outputs = [Output(address=payout_address, amount=settlement.amount, role="net")]
        held_at = ""
        if fee > 0 and fee_address:
            outputs.append(Output(address=fee_address, amount=fee, role="fee"))
        elif owed and not token:
            outputs.append(Output(address=fee_payer_address, amount=fee, role="fee"))
            held_at = fee_payer_address
        spec = OutboundSpec(
            sender_address=deposit.address, sender_role=SenderRole.DEPOSIT, asset=order.asset, outputs=outputs,
            purpose=OutboundPurpose.SETTLEMENT, leg_role=LegRole.NET, token=token,
            sender_index=deposit.derivation_index,
            sources=[{"role": SenderRole.FEE_PAYER.value, "address": fee_payer_address,
                      "decimals": channel.asset_decimals}],
            max_network_cost=_max_cost(self.network),
        )
        reason = ""
        if owed:
            reason = (f"no platform address for {self.network}: the fee was moved to the operator's fee payer"
                      if not token else f"no platform address for {self.network}: the fee stays on the deposit")
        return Plan(outbounds=[spec], amount=settlement.amount, fee=fee, fee_owed=owed, owed_reason=reason,
                    owed_held_at=held_at)

    # -- deposit refunds: the quote (node reads, no lock) ------------------------------------------
    # The generic plan_refund fits: the settlement plan with no fee and the refund address as
    # the payee moves exactly the refund's amount, and the fee payer pays the fee (and, for a
    # token, the recipient's new token account), so the payer receives the amount in full.

    def quote_refund(self, *, order, deposit, amount: Decimal, to_address: str, to_tag: int | None) -> RefundQuote:
        """SOL: the amount in full to the refund address, refused (below_reserve) when that
        address does not exist yet and the amount is below the rent-exempt minimum a new account
        needs. SPL: the tokens in full; the fee payer creates the recipient's token account when
        it is missing (its rent is part of the network cost) and gets the deposit's token
        account's rent back when the refund empties it. Either way the fee payer pays: paid_by
        operator, the network cost in SOL."""
        node = self.adapter()
        channel = order.channel
        token = channel.token_contract_for(order.mode) if channel.is_token else ""
        if channel.is_token and not token:
            raise CannotSend(f"the {channel.code} channel has no token mint for {order.mode} mode")
        fee_payer = keys.fee_payer_address(network=self.network, mode=self.mode)
        if to_address == fee_payer:
            raise CannotSend("refund_address is the operator's fee payer", code="invalid_address")
        rent_minimum = node.rent_minimum(PLAIN_ACCOUNT_SIZE)
        notes: list[str] = []
        if token:
            transfers, create_for, close, rent_paid = self._quote_token(node, order, deposit, amount, to_address,
                                                                        token, notes)
            decimals = channel.asset_decimals
        else:
            transfers = self._quote_sol(node, deposit, amount, to_address, rent_minimum, notes)
            create_for, close, rent_paid, decimals = [], False, 0, SOL_DECIMALS
        fee = self._quote_fee(node, fee_payer=fee_payer, deposit=deposit.address, token=token, decimals=decimals,
                              transfers=transfers, create_for=create_for, close=close)
        cost = from_base_units(fee + rent_paid, SOL_DECIMALS)
        limit = _max_cost(self.network)
        if limit is not None and cost > limit:
            raise CannotSend(f"the network cost {amount_text(cost, 'SOL')} is above the {amount_text(limit, 'SOL')} "
                             "limit", code="network_cost_too_high")
        payer_lamports = node.lamports(fee_payer)
        if payer_lamports < fee + rent_paid + rent_minimum:
            held = amount_text(from_base_units(payer_lamports, SOL_DECIMALS), "SOL")
            notes.append(f"the operator's fee payer holds {held}: the refund waits until it is funded")
        net = from_base_units(transfers[0][1], decimals)
        return RefundQuote(amount=amount, net=net, network_cost=cost, cost_asset="SOL", paid_by=PAID_BY_OPERATOR,
                           terms={"lamports_fee": fee, "rent_paid": rent_paid}, notes=tuple(notes))

    def _quote_sol(self, node, deposit, amount: Decimal, to_address: str, rent_minimum: int,
                   notes: list[str]) -> list[tuple[str, int]]:
        units = to_base_units(amount, SOL_DECIMALS)
        held = node.lamports(deposit.address)
        if held < units:
            raise CannotSend(f"the deposit address {deposit.address} holds "
                             f"{amount_text(from_base_units(held, SOL_DECIMALS), 'SOL')} on the chain, less than the "
                             f"{amount_text(amount, 'SOL')} recorded", code="nothing_to_refund")
        rest = held - units
        if 0 < rest < rent_minimum:  # cannot stay on the deposit (0 or rent-exempt): it goes with the refund
            units += rest
            notes.append(f"{amount_text(from_base_units(rest, SOL_DECIMALS), 'SOL')} more on the deposit address "
                         "goes with it: an account holds 0 or at least the rent-exempt minimum")
        if units < rent_minimum and node.lamports(to_address) == 0:
            raise CannotSend(
                f"{to_address} does not exist on Solana yet: a new account needs at least "
                f"{amount_text(from_base_units(rent_minimum, SOL_DECIMALS), 'SOL')} (the rent-exempt minimum) and the "
                f"refund is {amount_text(from_base_units(units, SOL_DECIMALS), 'SOL')}. Refund to an address that "
                "already holds SOL", code="below_reserve")
        return [(to_address, units)]

    def _quote_token(self, node, order, deposit, amount: Decimal, to_address: str, token: str,
                     notes: list[str]) -> tuple[list[tuple[str, int]], list[str], bool, int]:
        found = node.token_balance(signing.associated_token_address(deposit.address, token))
        if found is None:
            raise CannotSend(f"the deposit address {deposit.address} has no {order.asset} token account on the chain",
                             code="nothing_to_refund")
        held, decimals = found
        if decimals != order.channel.asset_decimals:
            raise CannotSend(f"the mint has {decimals} decimals, the channel {order.channel.asset_decimals}")
        units = to_base_units(amount, decimals)
        if held < units:
            there = amount_text(from_base_units(held, decimals), order.asset)
            raise CannotSend(f"the deposit's token account holds {there} on the chain, less than the "
                             f"{amount_text(amount, order.asset)} recorded", code="nothing_to_refund")
        create_for = [] if node.account(signing.associated_token_address(to_address, token)) is not None \
            else [to_address]
        rent_paid = len(create_for) * node.rent_minimum(signing.TOKEN_ACCOUNT_SIZE) if create_for else 0
        if create_for:
            notes.append(f"the network cost includes {amount_text(from_base_units(rent_paid, SOL_DECIMALS), 'SOL')} of "
                         f"rent for the refund address's new {order.asset} token account")
        close = held == units
        if close:
            notes.append("the deposit's token account is closed: its rent goes back to the operator's fee payer")
        return [(to_address, units)], create_for, close, rent_paid

    def _quote_fee(self, node, *, fee_payer: str, deposit: str, token: str, decimals: int,
                   transfers: list[tuple[str, int]], create_for: list[str], close: bool) -> int:
        for _ in range(2):  # a blockhash that expires between the two reads: once more
            blockhash, _ = node.latest_blockhash()
            if token:
                message = signing.token_sweep_message(fee_payer=fee_payer, deposit=deposit, mint=token,
                                                      decimals=decimals, transfers=transfers, create_for=create_for,
                                                      close=close, blockhash=blockhash)
            else:
                message = signing.sol_sweep_message(fee_payer=fee_payer, deposit=deposit, transfers=transfers,
                                                    blockhash=blockhash)
            fee = node.fee_for_message(signing.message_bytes(message))
            if fee is not None:
                return fee
        raise ChainUnavailable(f"the {self.network} node refused a fresh blockhash's fee twice")

    # -- node reads, no lock -------------------------------------------------------------------

    def prepare(self, outbound) -> Prepared:
        node = self.adapter()
        fee_payer = _fee_payer_of(outbound)
        blockhash, valid_until = node.latest_blockhash()
        common = {"blockhash": blockhash, "valid_until": valid_until, "fee_payer": fee_payer,
                  "fee_payer_lamports": node.lamports(fee_payer),
                  "rent_minimum": node.rent_minimum(PLAIN_ACCOUNT_SIZE)}
        deposit = outbound.sender.address
        if outbound.token:
            balance = node.token_balance(signing.associated_token_address(deposit, outbound.token))
            owners = [o["address"] for o in outbound.outputs]
            facts = Facts(**common, token_balance=None if balance is None else balance[0],
                          token_decimals=None if balance is None else balance[1],
                          token_account_exists={owner: node.account(signing.associated_token_address(
                              owner, outbound.token)) is not None for owner in owners},
                          token_account_rent=node.rent_minimum(signing.TOKEN_ACCOUNT_SIZE))
        else:
            facts = Facts(**common, deposit_lamports=node.lamports(deposit),
                          recipient_exists={o["address"]: node.lamports(o["address"]) > 0 for o in outbound.outputs})
        try:
            decision = decide(outbound, facts)
        except (NotReady, CannotSend) as problem:
            return Prepared(facts=facts, problem=problem)
        fee = node.fee_for_message(signing.message_bytes(_message(outbound, facts, decision)))
        if fee is None:
            raise NotReady("the blockhash expired while preparing; trying again", retry_seconds=1)
        return Prepared(facts=facts, decision=decision, network_fee=fee)

    # -- signing, under the deposit's row lock, no node call ----------------------------------------

    def build(self, outbound, prepared: Prepared, *, nonce: int | None, signer) -> Built:
        if prepared.problem is not None:
            raise prepared.problem
        facts, decision, fee = prepared.facts, prepared.decision, prepared.network_fee
        assert facts is not None and decision is not None and fee is not None
        check_costs(outbound, facts, decision, fee)
        message = _message(outbound, facts, decision)
        fee_payer_account = SendingAccount(network=outbound.network, mode=outbound.mode, address=facts.fee_payer,
                                           role=SenderRole.FEE_PAYER)
        with signer(fee_payer_account) as payer_key, signer(outbound.sender) as deposit_key:
            signed = signing.sign(message, [payer_key.solana_keypair(), deposit_key.solana_keypair()])
        decimals = SOL_DECIMALS if not outbound.token else facts.token_decimals
        tags = {o["address"]: o.get("tag") for o in outbound.outputs}
        return Built(
            txid=signed.signature, raw=signed.raw,
            outputs=[Output(address=address, amount=from_base_units(units, decimals), role=role,
                            tag=tags.get(address)).as_json() for address, units, role in decision.transfers],
            network_cost=from_base_units(fee + decision.rent_paid, SOL_DECIMALS), fee_asset="SOL", nonce=None,
            valid_until=facts.valid_until,
            fee_fields={"blockhash": facts.blockhash, "last_valid_block_height": facts.valid_until,
                        "fee_payer": facts.fee_payer, "lamports_fee": fee, "rent_paid": decision.rent_paid,
                        "rent_reclaimed": decision.rent_reclaimed, "token_accounts_created": decision.create_for,
                        "close_deposit_token_account": decision.close},
        )

    def replacement(self, outbound, candidate, prepared: Prepared, *, signer, stuck_seconds: float) -> Built | None:
        """Only once every earlier candidate expired (the engine passes None then: it marked each
        one expired from `state`, which says so only past its lastValidBlockHeight with no
        status known): the same transfers, re-signed with a fresh blockhash."""
        if candidate is not None:
            return None
        try:
            return self.build(outbound, prepared, nonce=None, signer=signer)
        except CannotSend as error:  # the reconciler defers and retries a NotReady
            raise NotReady(f"no replacement can be built: {error}", hold=True, retry_seconds=HOLD_RETRY_SECONDS) \
                from error

    # -- the chain ----------------------------------------------------------------------------------

    def send(self, raw: bytes) -> None:
        try:
            self.adapter().send_raw(raw)
        except SendRefused as refused:
            raise TxRejected(refused.reason) from refused

    def state(self, candidate) -> TxState:
        node = self.adapter()
        status = node.signature_status(candidate.txid)
        if status is None:
            expired = candidate.valid_until is not None and node.block_height() > candidate.valid_until
            return TxState(found=False, expired=expired)
        if status.confirmation_status not in ("confirmed", "finalized"):
            return TxState(found=True)  # processed: in a block being voted on, not yet confirmed
        ref = node.block(status.slot)
        meta = node.transaction(candidate.txid)
        confirmations = 0
        if status.confirmation_status == "finalized":
            confirmations = max(1, node.finalized_slot() - status.slot + 1)
        cost = None
        if meta is not None:
            created = sum(post for i, (pre, post) in enumerate(zip(meta.pre_balances, meta.post_balances))
                          if pre == 0 and post > 0 and i in meta.token_account_indexes)
            cost = from_base_units(meta.fee + created, SOL_DECIMALS)
        return TxState(found=True, in_block=True, block_number=status.slot, block_hash=ref.hash if ref else None,
                       confirmations=confirmations, succeeded=status.err is None, network_cost=cost)

    def balance(self, address: str, *, asset: str, token: str = "") -> Decimal:
        node = self.adapter()
        if not token:
            return from_base_units(node.lamports(address), SOL_DECIMALS)
        found = node.token_balance(signing.associated_token_address(address, token))
        return Decimal(0) if found is None else from_base_units(found[0], found[1])

    def adapter(self) -> SolanaAdapter:
        if self._adapter is None:
            adapter = adapter_for(self.network, self.mode)
            if not isinstance(adapter, SolanaAdapter):
                raise ChainUnavailable(f"no {self.network} {self.mode} node is configured (FLUXA_CHAINS)")
            self._adapter = adapter
        return self._adapter


# -- the rules, pure ------------------------------------------------------------------------------

def decide(outbound, facts: Facts) -> Decision:
    """The transfers of one sweep from the outbound's planned outputs and what the node shows.
    Raises NotReady (hold=True where a person must act) or CannotSend."""
    decision = _decide_token(outbound, facts) if outbound.token else _decide_sol(outbound, facts)
    if not decision.transfers:
        raise CannotSend("the settlement moves nothing")
    return decision


def _decide_sol(outbound, facts: Facts) -> Decision:
    transfers = [[o["address"], _units(o["amount"], SOL_DECIMALS), o["role"]] for o in outbound.outputs]
    total = sum(units for _, units, _ in transfers)
    balance = facts.deposit_lamports
    if balance < total:
        raise NotReady(f"the deposit address holds {balance} lamports, the settlement moves {total}",
                       retry_seconds=60)
    rest = balance - total
    if 0 < rest < facts.rent_minimum:
        net = next((t for t in transfers if t[2] == "net"), None)
        if net is None:
            raise CannotSend(f"{rest} lamports would stay on the deposit address, below the rent-exempt minimum")
        net[1] += rest  # it cannot stay: an account holds 0 or at least the rent-exempt minimum
    for address, units, role in transfers:
        if 0 < units < facts.rent_minimum and not facts.recipient_exists.get(address, False):
            who = "the merchant's payout address" if role == "net" else "the operator's platform address"
            raise NotReady(f"{who} {address} does not exist on Solana yet and would receive {units} lamports, "
                           f"below the {facts.rent_minimum} lamports a new account needs: send it any amount once "
                           "and the settlement goes on", hold=True, retry_seconds=HOLD_RETRY_SECONDS)
    return Decision(transfers=[(a, u, r) for a, u, r in transfers if u > 0])


def _decide_token(outbound, facts: Facts) -> Decision:
    if facts.token_balance is None:
        raise NotReady("the deposit address has no token account for this mint yet", retry_seconds=60)
    planned = next((s.get("decimals") for s in outbound.sources if s.get("role") == SenderRole.FEE_PAYER.value), None)
    if planned is not None and planned != facts.token_decimals:
        raise CannotSend(f"the mint has {facts.token_decimals} decimals, the channel {planned}")
    transfers = [(o["address"], _units(o["amount"], facts.token_decimals), o["role"]) for o in outbound.outputs]
    total = sum(units for _, units, _ in transfers)
    if facts.token_balance < total:
        raise NotReady(f"the deposit's token account holds {facts.token_balance} base units, the settlement "
                       f"moves {total}", retry_seconds=60)
    create_for = list(dict.fromkeys(owner for owner, units, _ in transfers
                                    if units > 0 and not facts.token_account_exists.get(owner, False)))
    close = facts.token_balance == total
    return Decision(transfers=[t for t in transfers if t[1] > 0], create_for=create_for, close=close,
                    rent_paid=len(create_for) * facts.token_account_rent,
                    rent_reclaimed=facts.token_account_rent if close else 0)


def check_costs(outbound, facts: Facts, decision: Decision, fee: int) -> None:
    """The fee payer can pay (and stays rent-exempt); the cost is within the limit."""
    cost = fee + decision.rent_paid
    needed = cost + facts.rent_minimum
    if facts.fee_payer_lamports < needed:
        raise NotReady(f"the fee payer {facts.fee_payer} holds {facts.fee_payer_lamports} lamports and needs "
                       f"{needed} (fee {fee}, new token accounts {decision.rent_paid}, rent-exempt minimum "
                       f"{facts.rent_minimum}): fund it (manage.py feepayer)", hold=True, retry_seconds=60)
    limit = outbound.max_network_cost
    if limit is not None and from_base_units(cost, SOL_DECIMALS) > limit:
        raise NotReady(f"the network cost {from_base_units(cost, SOL_DECIMALS)} SOL is above the limit {limit} SOL",
                       hold=True, retry_seconds=HOLD_RETRY_SECONDS)


def _message(outbound, facts: Facts, decision: Decision):
    if outbound.token:
        return signing.token_sweep_message(
            fee_payer=facts.fee_payer, deposit=outbound.sender.address, mint=outbound.token,
            decimals=facts.token_decimals, transfers=[(a, u) for a, u, _ in decision.transfers],
            create_for=decision.create_for, close=decision.close, blockhash=facts.blockhash)
    return signing.sol_sweep_message(fee_payer=facts.fee_payer, deposit=outbound.sender.address,
                                     transfers=[(a, u) for a, u, _ in decision.transfers], blockhash=facts.blockhash)


def _fee_payer_of(outbound) -> str:
    for source in outbound.sources:
        if source.get("role") == SenderRole.FEE_PAYER.value and source.get("address"):
            return source["address"]
    raise CannotSend("the outbound names no fee payer")


def _units(amount: str, decimals: int) -> int:
    if amount == "rest":
        raise CannotSend("a Solana sweep moves planned amounts, not the rest")
    return to_base_units(Decimal(amount), decimals)


def _max_cost(network: str) -> Decimal | None:
    """FLUXA_SETTLEMENT_COST_LIMITS[network].max (settlements.services.cost_limits reads the same
    setting; it cannot be imported here: services imports the families)."""
    high = settings.FLUXA_SETTLEMENT_COST_LIMITS.get(network, {}).get("max")
    return Decimal(str(high)) if high is not None else None
