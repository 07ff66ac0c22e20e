"""Tron settlements: TRX, and TRC-20 tokens (USDT) with a TRX top-up for energy and bandwidth.

Every transaction is built offline (chains/signing/tron.py: the Transaction.raw protobuf, txID
= its SHA-256, a recoverable secp256k1 signature by the sending address's key), stored, then
broadcast with /wallet/broadcasttransaction. A Tron transaction carries one contract, so each
payment is its own transaction; the engine sends them one at a time per address.

The rules (docs/settlements.md, "Tron"):

* TRX order: the net to the merchant, then the platform fee to the operator, each a
  TransferContract from the deposit address. Each pays its own network cost out of what it
  carries: nothing while the deposit's free daily bandwidth covers the transaction, else its
  bytes x getTransactionFee; and sending TRX to an address that does not exist yet (not
  activated) burns the activation fees, getCreateNewAccountFeeInSystemContract +
  getCreateAccountFee (1.1 TRX on the mainnet), read from the chain. On an activated
  recipient with free bandwidth the merchant receives the net exactly.
* TRC-20 order: the same shape as EVM tokens. First a top-up of TRX from the operator's fee
  payer (its own path) to the deposit address, covering each token transfer's fee_limit
  (energy x getEnergyFee) and its bandwidth, minus what the deposit already holds (at least
  MIN_TOPUP); it also activates a deposit address that never held TRX (the fee payer pays
  that activation). Once the top-up is confirmed, the token `transfer`s: the net to the
  merchant, the fee to the operator. A transfer to an address holding none of the token
  needs about twice the energy (a new storage slot): ENERGY_TO_EMPTY instead of
  ENERGY_TO_HOLDER, decided by a balanceOf call before building. The TRX left on the deposit
  counts toward the next top-up of that address.
* The platform fee is recorded owed when there is no operator address, or when it is below
  what its own transaction is worth: TRX_FEE_WORTH_SENDING TRX, or TRC20_FEE_WORTH_SENDING
  token units (a token transfer burns ~27 TRX of energy).
* A network cost above FLUXA_SETTLEMENT_COST_LIMITS' maximum holds the transfer.
* Each transaction expires EXPIRATION_MS after its reference block's time. The replacement
  is built (fresh reference block, same payment) only once the head block's time is past the
  expiration and the node does not know the old transaction, so at most one can be included.
* Deposit refunds: TRX goes back in one TransferContract that pays its own bandwidth and, to
  a refund address not activated yet, the activation fees, out of the refund; the quote says
  that cost and the build keeps to it (the payer receives exactly the quoted net; while the
  transfer would cost more, it waits). A TRC-20 refund is the settlement's shape with the
  whole amount to the refund address: the fee payer's top-up, then the token transfer in full.
  A token transfer carries the token's decimals in its `sources` (a refund's outbound has no
  settlement to read them from).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from chains.adapters.base import ChainUnavailable
from chains.adapters.registry import adapter_for
from chains.adapters.tron import NowBlock, TronAccount, TronAdapter
from chains.encoding import tron_address_to_hex
from chains.networks import get_network
from chains.signing import tron as signing
from core.money import amount_text, from_base_units, to_base_units
from settlements import keys
from settlements.families.base import (
    NOT_FOUND,
    PAID_BY_OPERATOR,
    PAID_BY_PAYER,
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

EXPIRATION_MS = 60_000
TRX_TRANSFER_BYTES = 300      # a signed TransferContract transaction, rounded up
TRC20_TRANSFER_BYTES = 360    # a signed TriggerSmartContract transfer(), rounded up
ENERGY_TO_HOLDER = 65_000     # a USDT transfer to an address already holding it (~64,285)
ENERGY_TO_EMPTY = 131_000     # ... to one holding none (~130,285)
TRX_FEE_WORTH_SENDING = Decimal("1")
TRC20_FEE_WORTH_SENDING = Decimal("10")
MIN_TOPUP = Decimal("1")
TRX = "TRX"
TRX_DECIMALS = 6


def max_network_cost(network: str) -> Decimal | None:
    """FLUXA_SETTLEMENT_COST_LIMITS' maximum (settlements.services imports the families, so it
    is read here)."""
    high = settings.FLUXA_SETTLEMENT_COST_LIMITS.get(network, {}).get("max")
    return Decimal(str(high)) if high is not None else None


def bandwidth_burn(size: int, free_bytes: int, params: dict[str, int]) -> int:
    """Sun burnt for a transaction's bytes: nothing when the sender's free (or staked)
    bandwidth covers it, else every byte at getTransactionFee."""
    return 0 if free_bytes >= size else size * params.get("getTransactionFee", 1000)


def activation_cost(params: dict[str, int]) -> int:
    """Sun burnt by the sender of TRX to an address that does not exist yet."""
    return params.get("getCreateNewAccountFeeInSystemContract", 1_000_000) + params.get("getCreateAccountFee", 100_000)


def trx_transfer_cost(*, sender: TronAccount | None, recipient_exists: bool, params: dict[str, int]) -> int:
    free = (sender.free_bandwidth + sender.bandwidth) if sender else 0
    return bandwidth_burn(TRX_TRANSFER_BYTES, free, params) + (0 if recipient_exists else activation_cost(params))


def trc20_fee_limit(*, recipient_holds: bool, params: dict[str, int]) -> int:
    return (ENERGY_TO_HOLDER if recipient_holds else ENERGY_TO_EMPTY) * params.get("getEnergyFee", 420)


def trc20_budget(*, recipient_holds: bool, params: dict[str, int]) -> int:
    """The most one token transfer can burn: its fee_limit and all of its bytes."""
    return trc20_fee_limit(recipient_holds=recipient_holds, params=params) + TRC20_TRANSFER_BYTES * params.get(
        "getTransactionFee", 1000)


@dataclass(frozen=True)
class Prepared:
    now: NowBlock
    params: dict
    sender: TronAccount | None
    recipient_exists: bool = True
    recipient_holds: bool = True            # TRC-20: the recipient already holds the token
    sender_token_units: int | None = None
    topup_sun: int | None = None            # a top-up: what the deposit still needs
    largest_transfer_sun: int = 0           # a top-up: the costliest token transfer it pays for


class TronFamily(Family):
    uses_nonce = False

    def __init__(self, *, network: str, mode: str):
        super().__init__(network=network, mode=mode)
        self._adapter: TronAdapter | None = None
        self.native = get_network(network).native_symbol

    @property
    def adapter(self) -> TronAdapter:
        if self._adapter is None:
            adapter = adapter_for(self.network, self.mode)
            if not isinstance(adapter, TronAdapter):
                raise ChainUnavailable(f"no {self.network} {self.mode} node is configured (FLUXA_CHAINS)")
            self._adapter = adapter
        return self._adapter

    @staticmethod
    def _trx(sun: int) -> Decimal:
        return from_base_units(sun, TRX_DECIMALS)

    @staticmethod
    def _sun(amount) -> int:
        return to_base_units(Decimal(str(amount)), TRX_DECIMALS)

    # -- planning (no node) ----------------------------------------------------------------

    def plan(self, *, settlement, order, deposit, payout_address: str, payout_tag: int | None,
             fee_address: str | None, fee_payer_address: str) -> Plan:
        net, fee = settlement.amount, settlement.fee
        if net <= 0:
            raise CannotSend("nothing is left for the merchant after the fee")
        if payout_address == deposit.address:
            raise CannotSend("the payout address is the deposit address itself")
        token = order.channel.token_contract_for(order.mode) if order.channel.is_token else ""
        max_cost = max_network_cost(self.network)
        # A token transfer carries the token's decimals (the build reads them here, not from a
        # settlement: a refund's transfer has none).
        sources = [{"token": token, "decimals": order.channel.asset_decimals}] if token else []

        def transfer(address: str, amount: Decimal, role: str, purpose: str, leg: str, after: int | None):
            return OutboundSpec(sender_address=deposit.address, sender_role=SenderRole.DEPOSIT, asset=settlement.asset,
                                token=token, outputs=[Output(address=address, amount=amount, role=role)],
                                purpose=purpose, leg_role=leg, sender_index=deposit.derivation_index, after=after,
                                max_network_cost=max_cost, sources=sources)

        worth = TRC20_FEE_WORTH_SENDING if token else TRX_FEE_WORTH_SENDING
        send_fee = fee > 0 and bool(fee_address) and fee >= worth
        outbounds: list[OutboundSpec] = []
        after = None
        if token:
            legs = 2 if send_fee else 1
            estimate = self._trx(legs * trc20_budget(recipient_holds=False, params={}))
            outbounds.append(OutboundSpec(
                sender_address=fee_payer_address, sender_role=SenderRole.FEE_PAYER, asset=TRX,
                outputs=[Output(address=deposit.address, amount=estimate, role="topup")],
                purpose=OutboundPurpose.TOPUP, leg_role=LegRole.TOPUP, max_network_cost=max_cost))
            after = 0
        outbounds.append(transfer(payout_address, net, "net", OutboundPurpose.SETTLEMENT, LegRole.NET, after))
        if send_fee:
            outbounds.append(transfer(fee_address, fee, "fee", OutboundPurpose.FEE, LegRole.FEE, after))
            return Plan(outbounds=outbounds, amount=net, fee=fee)
        if fee <= 0:
            return Plan(outbounds=outbounds, amount=net, fee=fee)
        reason = ("no operator address for tron (FLUXA_PLATFORM_ADDRESSES)" if not fee_address
                  else f"a fee below {worth} {settlement.asset} is not worth its own transaction")
        return Plan(outbounds=outbounds, amount=net, fee=fee, fee_owed=True, owed_reason=reason)

    # -- deposit refunds (node reads, no lock) ----------------------------------------------

    def quote_refund(self, *, order, deposit, amount: Decimal, to_address: str, to_tag: int | None) -> RefundQuote:
        """TRX: the amount less the transfer's bandwidth (nothing while the deposit's free
        bandwidth covers it) and, for a refund address not activated yet, the activation fees
        (read from the chain), paid by the payer out of the refund. TRC-20: the token in full;
        the operator's fee payer tops the deposit up with the TRX the transfer may burn."""
        if to_address == deposit.address:
            raise CannotSend("the refund address is the deposit address itself", code="invalid_address")
        adapter = self.adapter
        params = adapter.chain_parameters()
        high = max_network_cost(self.network)
        token = order.channel.token_contract_for(order.mode) if order.channel.is_token else ""
        if token:
            return self._quote_token(order=order, deposit=deposit, amount=amount, to_address=to_address,
                                     token=token, params=params, high=high)
        sender = adapter.account(deposit.address)
        balance = sender.balance_sun if sender else 0
        sun = self._sun(amount)
        if balance < sun:
            raise CannotSend(f"the deposit address holds {amount_text(self._trx(balance), TRX)}, less than the "
                             f"{amount_text(amount, TRX)} to refund", code="nothing_to_refund")
        activated = adapter.account(to_address) is not None
        cost = trx_transfer_cost(sender=sender, recipient_exists=activated, params=params)
        activation = 0 if activated else activation_cost(params)
        if high is not None and self._trx(cost) > high:
            raise CannotSend(f"the network cost {amount_text(self._trx(cost), TRX)} is above the limit "
                             f"{amount_text(high, TRX)}", code="network_cost_too_high")
        if cost >= sun:
            why = (f" (activating {to_address}, not activated yet, burns {amount_text(self._trx(activation), TRX)})"
                   if activation else "")
            raise CannotSend(f"{amount_text(amount, TRX)} does not cover the network cost of sending it "
                             f"({amount_text(self._trx(cost), TRX)}){why}", code="below_network_cost")
        notes = []
        if activation:
            notes.append(f"{to_address} is not activated yet: its activation, "
                         f"{amount_text(self._trx(activation), TRX)}, comes out of the refund")
        if cost - activation:
            notes.append(f"the deposit's free bandwidth is used up: the transfer burns "
                         f"{amount_text(self._trx(cost - activation), TRX)} for its bytes")
        return RefundQuote(amount=amount, net=self._trx(sun - cost), network_cost=self._trx(cost), cost_asset=TRX,
                           paid_by=PAID_BY_PAYER, terms={"activation_sun": activation,
                                                         "bandwidth_sun": cost - activation},
                           notes=tuple(notes))

    def _quote_token(self, *, order, deposit, amount: Decimal, to_address: str, token: str, params: dict,
                     high: Decimal | None) -> RefundQuote:
        adapter = self.adapter
        decimals = order.channel.asset_decimals
        units = to_base_units(amount, decimals)
        held = adapter.trc20_balance(token, deposit.address)
        if held < units:
            raise CannotSend(f"the deposit address holds {amount_text(from_base_units(held, decimals), order.asset)}, "
                             f"less than the {amount_text(amount, order.asset)} to refund", code="nothing_to_refund")
        holds = adapter.trc20_balance(token, to_address) > 0
        budget = trc20_budget(recipient_holds=holds, params=params)
        if high is not None and self._trx(budget) > high:
            raise CannotSend(f"the token transfer may cost {amount_text(self._trx(budget), TRX)}, above the limit "
                             f"{amount_text(high, TRX)}", code="network_cost_too_high")
        fee_payer = adapter.account(keys.fee_payer_address(network=self.network, mode=self.mode))
        depositor = adapter.account(deposit.address)
        topup = trx_transfer_cost(sender=fee_payer, recipient_exists=depositor is not None, params=params)
        return RefundQuote(amount=amount, net=amount, network_cost=self._trx(budget + topup), cost_asset=TRX,
                           paid_by=PAID_BY_OPERATOR, terms={"fee_limit": trc20_fee_limit(recipient_holds=holds,
                                                                                          params=params)},
                           notes=(f"the token is refunded in full; the operator's fee payer tops the deposit up "
                                  f"with the TRX its transfer may burn (at most "
                                  f"{amount_text(self._trx(budget), TRX)})",))

    # -- node reads ----------------------------------------------------------------------

    def _decimals(self, outbound) -> int:
        if not outbound.token:
            return TRX_DECIMALS
        planned = next((s["decimals"] for s in outbound.sources or []
                        if s.get("token") == outbound.token and s.get("decimals") is not None), None)
        if planned is not None:
            return int(planned)
        # A settlement transfer planned before the decimals were carried in its sources.
        leg = outbound.legs.select_related("settlement__order__channel").first()
        if leg is None:
            raise CannotSend("a token transfer that carries no decimals and no settlement: its decimals are unknown")
        return leg.settlement.order.channel.asset_decimals

    def prepare(self, outbound) -> Prepared:
        adapter = self.adapter
        [output] = outbound.outputs
        now, params = adapter.now_block(), adapter.chain_parameters()
        sender = adapter.account(outbound.sender.address)
        if outbound.purpose == OutboundPurpose.TOPUP:
            deposit = adapter.account(output["address"])
            budgets = []
            for dependent in outbound.dependents.all():
                [paid] = dependent.outputs
                holds = adapter.trc20_balance(dependent.token, paid["address"]) > 0
                budgets.append(trc20_budget(recipient_holds=holds, params=params))
            have = deposit.balance_sun if deposit else 0
            return Prepared(now=now, params=params, sender=sender, recipient_exists=deposit is not None,
                            topup_sun=max(sum(budgets) - have, self._sun(MIN_TOPUP)),
                            largest_transfer_sun=max(budgets, default=0))
        recipient = adapter.account(output["address"])
        if outbound.token:
            return Prepared(now=now, params=params, sender=sender, recipient_exists=recipient is not None,
                            recipient_holds=adapter.trc20_balance(outbound.token, output["address"]) > 0,
                            sender_token_units=adapter.trc20_balance(outbound.token, outbound.sender.address))
        return Prepared(now=now, params=params, sender=sender, recipient_exists=recipient is not None)

    def balance(self, address: str, *, asset: str, token: str = "") -> Decimal:
        if token:
            raise NotImplementedError("token balances need the token's decimals; ask the channel")
        account = self.adapter.account(address)
        return self._trx(account.balance_sun if account else 0)

    # -- building (under the sending account's lock, no node call) --------------------------

    def _check_cost(self, outbound, cost_sun: int) -> None:
        if outbound.max_network_cost is not None and self._trx(cost_sun) > outbound.max_network_cost:
            raise NotReady(f"the network cost {self._trx(cost_sun)} TRX is above the limit "
                           f"{outbound.max_network_cost} TRX", hold=True, retry_seconds=60)

    def _compose(self, outbound, prepared: Prepared) -> tuple[tuple[int, bytes], list[dict], int, int]:
        """(contract, final outputs, fee_limit, the most it can cost in sun). Raises NotReady /
        CannotSend."""
        [output] = outbound.outputs
        sender = prepared.sender
        if sender is None:
            raise NotReady(f"the sending address {outbound.sender.address} is not activated (holds no TRX)",
                           hold=True, retry_seconds=60)
        if outbound.token:
            decimals = self._decimals(outbound)
            units = to_base_units(Decimal(str(output["amount"])), decimals)
            fee_limit = trc20_fee_limit(recipient_holds=prepared.recipient_holds, params=prepared.params)
            cost = fee_limit + bandwidth_burn(TRC20_TRANSFER_BYTES, sender.free_bandwidth + sender.bandwidth,
                                              prepared.params)
            self._check_cost(outbound, cost)
            if sender.balance_sun < cost:
                raise NotReady(f"the deposit holds {self._trx(sender.balance_sun)} TRX, the transfer may burn "
                               f"{self._trx(cost)} TRX (the top-up fell short)", hold=True, retry_seconds=60)
            if (prepared.sender_token_units or 0) < units:
                raise NotReady(f"the deposit holds {from_base_units(prepared.sender_token_units or 0, decimals)} "
                               f"{outbound.asset}, not {output['amount']}", hold=True, retry_seconds=60)
            data = signing.trc20_transfer_data(output["address"], units)
            contract = signing.trigger_contract(owner=outbound.sender.address, contract=outbound.token, data=data)
            return contract, [{**output, "amount": str(from_base_units(units, decimals))}], fee_limit, cost
        cost = trx_transfer_cost(sender=sender, recipient_exists=prepared.recipient_exists, params=prepared.params)
        if _keeps_to_quote(outbound):
            # A TRX refund keeps to its quote: it sends the amount less exactly the quoted cost,
            # so the payer receives exactly the quoted net; while the transfer would burn more
            # (the free bandwidth is used up today), it waits. What it burns less stays on the
            # deposit address.
            quoted = self._sun(outbound.max_network_cost)
            if cost > quoted:
                raise NotReady(f"the transfer costs {amount_text(self._trx(cost), TRX)} now, more than the refund's "
                               f"quote ({amount_text(self._trx(quoted), TRX)}): it waits for the quoted cost",
                               hold=True, retry_seconds=300)
            amount = self._sun(output["amount"]) - quoted
            if amount <= 0:
                raise CannotSend(f"the quoted cost {amount_text(self._trx(quoted), TRX)} takes all of "
                                 f"{amount_text(Decimal(output['amount']), TRX)}")
            if sender.balance_sun < amount + cost:
                raise NotReady(f"the deposit holds {amount_text(self._trx(sender.balance_sun), TRX)}, not "
                               f"{amount_text(self._trx(amount + cost), TRX)}", hold=True, retry_seconds=60)
            contract = signing.transfer_contract(owner=outbound.sender.address, to=output["address"],
                                                 amount_sun=amount)
            return contract, [{**output, "amount": str(self._trx(amount))}], 0, cost
        self._check_cost(outbound, cost)
        if outbound.purpose == OutboundPurpose.TOPUP:
            self._check_cost(outbound, prepared.largest_transfer_sun)  # hold before any TRX moves
            amount = prepared.topup_sun  # the fee payer pays the cost on top
            if sender.balance_sun < amount + cost:
                raise NotReady(f"the fee payer holds {self._trx(sender.balance_sun)} TRX, the top-up needs "
                               f"{self._trx(amount + cost)} TRX: fund it", hold=True, retry_seconds=60)
        else:
            amount = self._sun(output["amount"]) - cost  # the transfer bears its own network cost
            if amount <= 0:
                raise CannotSend(f"the network cost {self._trx(cost)} TRX takes all of {output['amount']} TRX")
            if sender.balance_sun < amount + cost:
                raise NotReady(f"the deposit holds {self._trx(sender.balance_sun)} TRX, not "
                               f"{self._trx(amount + cost)}", hold=True, retry_seconds=60)
        contract = signing.transfer_contract(owner=outbound.sender.address, to=output["address"], amount_sun=amount)
        return contract, [{**output, "amount": str(self._trx(amount))}], 0, cost

    def _sign(self, outbound, prepared: Prepared, *, signer) -> Built:
        contract, outputs, fee_limit, cost = self._compose(outbound, prepared)
        now = prepared.now
        raw = signing.raw_data(contract=contract, ref_block=signing.RefBlock(number=now.number, block_id=now.block_id),
                               expiration_ms=now.timestamp_ms + EXPIRATION_MS, timestamp_ms=now.timestamp_ms,
                               fee_limit_sun=fee_limit)
        with signer(outbound.sender) as key:
            signed = signing.sign(raw, key.secret_bytes())
        if signing.signer_of(signed) != tron_address_to_hex(outbound.sender.address):
            raise RuntimeError("the signature does not recover to the sending address")
        return Built(txid=signed.txid, raw=signed.encoded, outputs=outputs, network_cost=self._trx(cost),
                     fee_asset=self.native, valid_until=now.timestamp_ms + EXPIRATION_MS,
                     fee_fields={"fee_limit": fee_limit, "ref_block": now.number})

    def build(self, outbound, prepared: Prepared, *, nonce: int | None, signer) -> Built:
        return self._sign(outbound, prepared, signer=signer)

    def replacement(self, outbound, candidate, prepared: Prepared, *, signer, stuck_seconds: float) -> Built | None:
        """Only once every candidate expired (the head block's time passed its expiration and
        the node does not know it: the engine then passes candidate=None): the same payment
        on a fresh reference block."""
        if candidate is not None:
            return None
        return self._sign(outbound, prepared, signer=signer)

    # -- the node --------------------------------------------------------------------------

    def send(self, raw: bytes) -> None:
        signed = signing.decode_signed(raw)
        answer = self.adapter.broadcast(signed.broadcast_body())
        if answer.ok or answer.already_known:
            return
        if answer.transient:
            raise ChainUnavailable(f"the {self.network} node cannot take it now: {answer.code}")
        raise TxRejected(f"{answer.code}: {answer.message}".strip(": "))

    def state(self, candidate) -> TxState:
        adapter = self.adapter
        info = adapter.transaction_info(candidate.txid)
        if info is None:
            if adapter.transaction(candidate.txid) is not None:
                return TxState(found=True)
            if candidate.valid_until is not None and adapter.now_block().timestamp_ms > candidate.valid_until:
                return TxState(found=False, expired=True)  # past its expiration: never included now
            return NOT_FOUND
        number = int(info["blockNumber"])
        head = adapter.now_block().number
        block = adapter.block(number)
        tx = adapter.transaction(candidate.txid) or {}
        ret = ((tx.get("ret") or [{}])[0]).get("contractRet")
        receipt = (info.get("receipt") or {}).get("result")
        succeeded = ret == "SUCCESS" and receipt in (None, "SUCCESS") and info.get("result") != "FAILED"
        return TxState(found=True, in_block=True, block_number=number, block_hash=block.hash if block else None,
                       confirmations=max(0, head - number + 1), succeeded=succeeded,
                       network_cost=self._trx(int(info.get("fee", 0))))


def _keeps_to_quote(outbound) -> bool:
    """A TRX deposit refund whose payer bears the cost: built at exactly the quoted cost."""
    return (outbound.purpose == OutboundPurpose.REFUND and not outbound.token
            and outbound.max_network_cost is not None and outbound.outputs[0]["role"] == "net")
