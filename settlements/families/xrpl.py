"""XRP Ledger settlements: Payments from the deployment's one receiving account.

Deposits on the XRP Ledger are destination tags on one receiving account (chains.derivation:
m/44'/144'/0'/0/0 live), so every settlement pays out of that account and every outbound has
the same sending account row: its `next_nonce` is the account's Sequence, read from the ledger
once (account_info) and allocated from the row afterwards. XRP Ledger outbounds therefore go
one at a time (the engine builds nothing from an address while an earlier outbound of it is
unresolved), which is fine at a ledger every 3-5 seconds.

The rules (docs/settlements.md, "XRP Ledger"):

* The merchant's net is one Payment to the payout address, with its destination tag when it
  has one (an X-address carries it; chains.derivation.xrpl_parse_x_address). The platform fee
  is a second Payment to the operator's address, or recorded owed when there is no operator
  address or the fee is below FEE_WORTH_SENDING (a payment costs ~0.00001 XRP; under a
  thousandth of an XRP the separate transaction is not worth its ledger space).
* The receiving account pays each Payment's network cost (its Fee) and always keeps its
  reserve: base + OwnerCount x increment, read from the validated ledger (server_info
  reserve_base_xrp / reserve_inc_xrp, account_info OwnerCount), never hard-coded. A payment
  that would take it below is held (the operator funds the account's reserve and fees).
* A destination that requires a destination tag (lsfRequireDestTag) is refused without one;
  a payment that would create an account with less than the base reserve is refused too
  (the ledger would fail it with tec and still burn the fee and the Sequence).
* Each Payment carries LastLedgerSequence = the validated ledger + LEDGERS_VALID. Once that
  ledger is validated without it (`tx` searched the whole range) the candidate has expired:
  the replacement is the same Payment with the SAME Sequence and a new LastLedgerSequence, so
  at most one of them can ever be applied.
* A deposit refund is one Payment from the receiving account to the refund address (its
  destination tag too), of everything the order received: the receiving account pays the
  Fee, as for a settlement, so the payer receives the refund in full. The quote refuses what
  the ledger would: a destination that requires a tag without one (invalid_address), a new
  account below the base reserve (below_reserve), a payment that would take the receiving
  account below its own reserve (below_reserve: the operator funds it first).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from chains.adapters.base import ChainUnavailable
from chains.adapters.registry import adapter_for
from chains.adapters.xrpl import AccountInfo, Reserves, XrplAdapter
from chains.derivation import xrpl_parse_x_address
from chains.networks import get_network
from chains.signing.xrpl import sign_payment, tx_hash
from core.money import amount_text, from_base_units, to_base_units
from settlements.families.base import (
    NOT_FOUND,
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
from settlements.models import LegRole, OutboundPurpose, SenderRole

LEDGERS_VALID = 20              # LastLedgerSequence = validated ledger + this (~80 s)
FEE_WORTH_SENDING = Decimal("0.001")  # XRP; a smaller platform fee is recorded owed


def max_network_cost(network: str) -> Decimal | None:
    """The configured most one transfer may cost (FLUXA_SETTLEMENT_COST_LIMITS, as
    settlements.services.cost_limits reads it; that module imports the families, so it is
    read here)."""
    high = settings.FLUXA_SETTLEMENT_COST_LIMITS.get(network, {}).get("max")
    return Decimal(str(high)) if high is not None else None


def split_address(address: str, tag: int | None = None) -> tuple[str, int | None]:
    """(classic address, destination tag) of a payout address: an X-address carries its tag;
    a classic address takes `tag`."""
    if address.startswith("X"):
        classic, x_tag, _test = xrpl_parse_x_address(address)
        if x_tag is not None and tag is not None and x_tag != tag:
            raise CannotSend(f"the X-address's tag {x_tag} differs from the destination tag {tag}")
        return classic, x_tag if x_tag is not None else tag
    return address, tag


@dataclass(frozen=True)
class Prepared:
    reserves: Reserves
    sender: AccountInfo | None
    destination: AccountInfo | None
    fee_drops: int


def spendable_drops(sender: AccountInfo, reserves: Reserves) -> int:
    """What the account may send and still keep its reserve (base + OwnerCount x increment)."""
    return sender.balance_drops - reserves.base_drops - reserves.increment_drops * sender.owner_count


def check_payment(*, amount_drops: int, tag: int | None, prepared: Prepared, max_cost_drops: int | None) -> None:
    """The rules a Payment must pass before it is signed (NotReady: wait, held; CannotSend:
    never)."""
    reserves, sender, destination = prepared.reserves, prepared.sender, prepared.destination
    if destination is not None and destination.requires_destination_tag and tag is None:
        raise CannotSend(f"the destination {destination.address} requires a destination tag and the payout "
                         "address has none (use its X-address, or the classic address with its tag)")
    if destination is None and amount_drops < reserves.base_drops:
        raise CannotSend(f"the destination account does not exist and {from_base_units(amount_drops, 6)} XRP is "
                         f"below the base reserve of {from_base_units(reserves.base_drops, 6)} XRP that creates it")
    if max_cost_drops is not None and prepared.fee_drops > max_cost_drops:
        raise NotReady(f"the network fee {from_base_units(prepared.fee_drops, 6)} XRP is above the limit "
                       f"{from_base_units(max_cost_drops, 6)} XRP", hold=True, retry_seconds=60)
    if sender is None:
        raise NotReady("the receiving account does not exist on the ledger yet", hold=True, retry_seconds=60)
    available = spendable_drops(sender, reserves) - prepared.fee_drops
    if amount_drops > available:
        reserve = reserves.base_drops + reserves.increment_drops * sender.owner_count
        raise NotReady(f"paying {from_base_units(amount_drops, 6)} XRP would take the receiving account below its "
                       f"reserve of {from_base_units(reserve, 6)} XRP (it holds "
                       f"{from_base_units(sender.balance_drops, 6)} XRP; fund it)", hold=True, retry_seconds=60)


class XrplFamily(Family):
    uses_nonce = True

    def __init__(self, *, network: str, mode: str):
        super().__init__(network=network, mode=mode)
        self.decimals = get_network(network).native_decimals
        self._adapter: XrplAdapter | None = None

    @property
    def adapter(self) -> XrplAdapter:
        if self._adapter is None:
            adapter = adapter_for(self.network, self.mode)
            if not isinstance(adapter, XrplAdapter):
                raise ChainUnavailable(f"no {self.network} {self.mode} node is configured (FLUXA_CHAINS)")
            self._adapter = adapter
        return self._adapter

    def _drops(self, amount) -> int:
        return to_base_units(Decimal(str(amount)), self.decimals)

    def _xrp(self, drops: int) -> Decimal:
        return from_base_units(drops, self.decimals)

    # -- planning (no node) ----------------------------------------------------------------

    def plan(self, *, settlement, order, deposit, payout_address: str, payout_tag: int | None,
             fee_address: str | None, fee_payer_address: str) -> Plan:
        classic, tag = split_address(payout_address, payout_tag)
        if classic == deposit.address:
            raise CannotSend("the payout address is fluxa's own receiving account")
        net, fee = settlement.amount, settlement.fee
        if net <= 0:
            raise CannotSend("nothing is left for the merchant after the fee")
        max_cost = max_network_cost(self.network)

        def spec(address: str, amount: Decimal, tag: int | None, role: str, purpose: str, leg: str) -> OutboundSpec:
            return OutboundSpec(sender_address=deposit.address, sender_role=SenderRole.DEPOSIT, asset=settlement.asset,
                                outputs=[Output(address=address, amount=amount, role=role, tag=tag)],
                                purpose=purpose, leg_role=leg, sender_index=0, max_network_cost=max_cost)

        outbounds = [spec(classic, net, tag, "net", OutboundPurpose.SETTLEMENT, LegRole.NET)]
        if fee <= 0:
            return Plan(outbounds=outbounds, amount=net, fee=fee)
        if not fee_address:
            return Plan(outbounds=outbounds, amount=net, fee=fee, fee_owed=True,
                        owed_reason="no operator address for xrpl (FLUXA_PLATFORM_ADDRESSES)")
        if fee < FEE_WORTH_SENDING:
            return Plan(outbounds=outbounds, amount=net, fee=fee, fee_owed=True,
                        owed_reason=f"a fee below {FEE_WORTH_SENDING} XRP is not worth its own payment")
        fee_classic, fee_tag = split_address(fee_address)
        outbounds.append(spec(fee_classic, fee, fee_tag, "fee", OutboundPurpose.FEE, LegRole.FEE))
        return Plan(outbounds=outbounds, amount=net, fee=fee)

    # -- deposit refunds (node reads, no lock) ----------------------------------------------

    def quote_refund(self, *, order, deposit, amount: Decimal, to_address: str, to_tag: int | None) -> RefundQuote:
        """One Payment of `amount` from the receiving account to the refund address (classic +
        tag, or an X-address), the Fee paid by the receiving account as for a settlement: the
        payer receives `amount` in full. Refused by the ledger's rules (tag required, a new
        account below the base reserve, the receiving account's own reserve)."""
        native = get_network(self.network).native_symbol
        try:
            classic, tag = split_address(to_address, to_tag)
        except CannotSend as error:
            raise CannotSend(f"refund_address: {error}", code="invalid_address") from None
        if classic == deposit.address:
            raise CannotSend("the refund address is fluxa's own receiving account: the ledger takes no payment to "
                             "itself (give the payer's account)", code="invalid_address")
        drops = self._drops(amount)
        adapter = self.adapter
        reserves = adapter.reserves()
        destination = adapter.account_info(classic)
        if destination is not None and destination.requires_destination_tag and tag is None:
            raise CannotSend(f"the account {classic} requires a destination tag (lsfRequireDestTag): give "
                             "destination_tag, or the payer's X-address", code="invalid_address")
        if destination is None and drops < reserves.base_drops:
            raise CannotSend(f"the account {classic} does not exist on the ledger yet, and "
                             f"{amount_text(amount, native)} is below the base reserve of "
                             f"{amount_text(self._xrp(reserves.base_drops), native)} a payment creating it must "
                             "carry", code="below_reserve")
        fee = adapter.fee_drops()
        high = max_network_cost(self.network)
        if high is not None and self._xrp(fee) > high:
            raise CannotSend(f"the network fee {amount_text(self._xrp(fee), native)} is above the limit "
                             f"{amount_text(high, native)}", code="network_cost_too_high")
        sender = adapter.account_info(deposit.address)
        if sender is None:
            raise CannotSend(f"the receiving account {deposit.address} does not exist on the ledger",
                             code="nothing_to_refund")
        if drops > spendable_drops(sender, reserves) - fee:
            reserve = reserves.base_drops + reserves.increment_drops * sender.owner_count
            raise CannotSend(f"sending {amount_text(amount, native)} would take fluxa's receiving account below its "
                             f"reserve of {amount_text(self._xrp(reserve), native)} (it holds "
                             f"{amount_text(self._xrp(sender.balance_drops), native)}): the operator funds the "
                             "account first", code="below_reserve")
        notes = ["the receiving account pays the network fee: the refund arrives in full"]
        if tag is not None:
            notes.append(f"sent with destination tag {tag}")
        if destination is None:
            notes.append(f"the payment creates the account {classic}")
        return RefundQuote(amount=amount, net=amount, network_cost=self._xrp(fee), cost_asset=native,
                           paid_by=PAID_BY_OPERATOR, terms={"fee_drops": fee, "destination": classic, "tag": tag},
                           notes=tuple(notes))

    # -- node reads ----------------------------------------------------------------------

    def prepare(self, outbound) -> Prepared:
        [output] = outbound.outputs
        return Prepared(reserves=self.adapter.reserves(), sender=self.adapter.account_info(outbound.sender.address),
                        destination=self.adapter.account_info(output["address"]), fee_drops=self.adapter.fee_drops())

    def initial_nonce(self, address: str) -> int:
        account = self.adapter.account_info(address)
        if account is None:
            raise NotReady("the receiving account does not exist on the ledger yet", hold=True, retry_seconds=60)
        return account.sequence

    def balance(self, address: str, *, asset: str, token: str = "") -> Decimal:
        account = self.adapter.account_info(address)
        return self._xrp(account.balance_drops if account else 0)

    # -- signing (under the sending account's lock, no node call) ---------------------------

    def _sign(self, outbound, prepared: Prepared, *, sequence: int, signer) -> Built:
        [output] = outbound.outputs
        drops = self._drops(output["amount"])
        last_ledger = prepared.reserves.validated_ledger + LEDGERS_VALID
        with signer(outbound.sender) as key:
            signed = sign_payment(wallet=key.xrpl_wallet(), destination=output["address"], drops=drops,
                                  destination_tag=output.get("tag"), sequence=sequence,
                                  fee_drops=prepared.fee_drops, last_ledger_sequence=last_ledger)
        return Built(
            txid=signed.txid, raw=signed.blob,
            outputs=[{**output, "amount": str(self._xrp(drops))}],
            network_cost=self._xrp(prepared.fee_drops), fee_asset=get_network(self.network).native_symbol,
            nonce=sequence, valid_until=last_ledger,
            fee_fields={"fee_drops": prepared.fee_drops, "first_ledger": prepared.reserves.validated_ledger + 1},
        )

    def build(self, outbound, prepared: Prepared, *, nonce: int | None, signer) -> Built:
        if nonce is None:
            raise RuntimeError("an XRP Ledger payment needs the Sequence the engine allocated")
        [output] = outbound.outputs
        max_cost = self._drops(outbound.max_network_cost) if outbound.max_network_cost is not None else None
        check_payment(amount_drops=self._drops(output["amount"]), tag=output.get("tag"), prepared=prepared,
                      max_cost_drops=max_cost)
        return self._sign(outbound, prepared, sequence=nonce, signer=signer)

    def replacement(self, outbound, candidate, prepared: Prepared, *, signer, stuck_seconds: float) -> Built | None:
        """Only once every candidate expired (its LastLedgerSequence passed without it; the
        engine then passes candidate=None): the same Payment, the SAME Sequence, a new
        LastLedgerSequence. A candidate still inside its window is never replaced: it may
        still get in."""
        if candidate is not None or outbound.nonce is None:
            return None
        return self._sign(outbound, prepared, sequence=outbound.nonce, signer=signer)

    # -- the node --------------------------------------------------------------------------

    def send(self, raw: bytes) -> None:
        answer = self.adapter.submit(raw.hex().upper())
        if answer.accepted:
            return
        if answer.engine_result == "tefPAST_SEQ":  # its Sequence is used: by this very transaction?
            if self.adapter.tx(tx_hash(raw)).found:
                return
            raise TxRejected(f"{answer.engine_result}: the Sequence was used by another transaction", spent=True)
        if answer.local_only:
            raise ChainUnavailable(f"the {self.network} node holds the payment back for now: {answer.engine_result}")
        raise TxRejected(f"{answer.engine_result} {answer.message}".strip())

    def state(self, candidate) -> TxState:
        first = (candidate.fee_fields or {}).get("first_ledger")
        found = self.adapter.tx(candidate.txid, min_ledger=first, max_ledger=candidate.valid_until)
        if not found.found:
            head = self.adapter.head().number
            if candidate.valid_until is not None and head > candidate.valid_until and found.searched_all:
                return TxState(found=False, expired=True)  # can never be in a ledger any more
            return NOT_FOUND
        if not found.validated:
            return TxState(found=True)
        head = self.adapter.head().number
        ledger = self.adapter.block(found.ledger_index)
        return TxState(
            found=True, in_block=True, block_number=found.ledger_index, block_hash=ledger.hash if ledger else None,
            confirmations=max(0, head - found.ledger_index + 1), succeeded=found.result == "tesSUCCESS",
            network_cost=self._xrp(found.fee_drops) if found.fee_drops is not None else None,
        )
