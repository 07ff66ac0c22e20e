"""Settlement rules of the EVM family (Ethereum, Base, BNB Smart Chain, Polygon, Arbitrum).

Every transaction is EIP-1559 (type 2), priced from the node when it is built:
maxPriorityFeePerGas = the node's eth_maxPriorityFeePerGas, maxFeePerGas = 2 x the newest
block's base fee + that priority fee (and at least FLUXA_SETTLEMENT_COST_LIMITS[network]["min"]
over the gas, when set). What it can cost at most (gas x maxFeePerGas) above the network's
"max" keeps the outbound planned and its settlement held (NotReady(hold=True)).

Native coin (ETH, BNB, POL), from the deposit address:

* the net: one transfer (21,000 gas) to the merchant of gross - fee minus the network cost:
  its own most cost (21,000 x maxFeePerGas) and, when the fee is sent, the fee leg's gas at
  the same price, which it leaves on the address (the merchant pays the network; what the
  payer sent above the amount due, and a fee owed, stay on the address);
* the fee: a second transfer (nonce + 1) of exactly the fee to the operator's platform
  address, built once the net is confirmed (depends on it) with what the address then holds;
* the fee is owed instead (Plan.fee_owed, the OwedFee ledger; it stays on the deposit
  address) when no platform address is set, or when it is below twice the least a transfer
  costs on the network (2 x cost limit "min"): sending it would burn a large share of it.
  Decided when the settlement is planned, with no node call.

Tokens (ERC-20: USDT, USDC; the contract is the order's channel's):

* a top-up from the operator's fee payer (its own derivation path) to the deposit address of
  gas x maxFeePerGas x 1.2 for the token transfers the deposit will send (gas from
  eth_estimateGas, +10% margin), minus the native coin the address already holds; when that
  holds enough, the top-up is not needed and sends nothing (NotNeeded);
* once the top-up is confirmed: the token transfer of the net to the merchant (nonce 0) and of
  the fee to the operator (nonce 1); the fee is owed only when no platform address is set.

Replacement (a candidate outside a block for FLUXA_SETTLEMENT_STUCK_SECONDS): the same nonce
and recipient, +12.5% on both maxFeePerGas and maxPriorityFeePerGas (or the node's current
pricing when that is higher); a native net pays the higher cost out of its value. No
replacement above the cost limit, or when the address cannot pay its gas.

Nonces come from the sending account's row (the engine); only an account's first nonce is read
from the node (eth_getTransactionCount, pending), when its row is created.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q

from chains.adapters.base import ChainUnavailable
from chains.adapters.evm import EvmAdapter, FeeData, TxRefused
from chains.adapters.registry import rpc_url
from chains.networks import get_network
from chains.signing.evm import NATIVE_TRANSFER_GAS, bumped, erc20_transfer_data, sign_type2
from core.money import amount_text, from_base_units, to_base_units
from settlements.families.base import (
    NOT_FOUND,
    PAID_BY_OPERATOR,
    PAID_BY_PAYER,
    Built,
    CannotSend,
    Family,
    NotNeeded,
    NotReady,
    OutboundSpec,
    Output,
    Plan,
    RefundQuote,
    TxRejected,
    TxState,
    cost_limits,
)
from settlements.models import (
    LegRole,
    Outbound,
    OutboundPurpose,
    OutboundStatus,
    SenderRole,
)

logger = logging.getLogger(__name__)

TOPUP_MARGIN = Decimal("1.2")     # the top-up pays gas x maxFeePerGas x 1.2
GAS_LIMIT_MARGIN = Decimal("1.1")  # a token transfer's gas limit over eth_estimateGas
OWED_FACTOR = 2                   # a native fee below 2 x the least a transfer costs is owed
TOPUP_AMOUNT = "gas"              # the top-up's planned amount: computed when it is built
_ADAPTERS: dict[tuple, EvmAdapter] = {}


@dataclass(frozen=True)
class Prepared:
    fee: FeeData
    max_fee: int                 # wei per gas
    priority: int                # wei per gas
    balance: int                 # native balance of the sender, wei
    gas: int                     # gas limit of this transfer
    keep: int = 0                # wei the native net leaves on the address for the later transfers' gas
    later_value: int = 0         # wei the later transfers from the address send (the fee leg)
    token_balance: int | None = None
    token_decimals: int | None = None
    data: bytes = b""
    to: str = ""                 # the transaction's `to` (the recipient, or the token contract)
    value: int = 0               # the transfer's value in base units (tokens: the amount in the calldata)
    topup: int | None = None     # wei the top-up sends (None: not a top-up)


class EvmFamily(Family):
    uses_nonce = True

    def __init__(self, *, network: str, mode: str):
        super().__init__(network=network, mode=mode)
        self.net = get_network(network)
        self.chain_id = self.net.chain_id_for(mode)
        self._adapter: EvmAdapter | None = None
        self._decimals: dict[str, int] = {}

    @property
    def adapter(self) -> EvmAdapter:
        if self._adapter is None:
            url = rpc_url(self.network, self.mode)
            if not url:
                raise ChainUnavailable(f"no node configured for {self.network} {self.mode} (FLUXA_CHAINS)")
            # One adapter (one kept-alive HTTP session) per thread and node: the engine makes a
            # family for every step, and a new connection per step cost a third of a beat round.
            key = (self.network, self.mode, url, threading.get_ident())
            self._adapter = _ADAPTERS.get(key)
            if self._adapter is None:
                self._adapter = _ADAPTERS[key] = EvmAdapter(network=self.network, mode=self.mode, rpc_url=url)
        return self._adapter

    # -- plan (no node call) -----------------------------------------------------------------

    def plan(self, *, settlement, order, deposit, payout_address: str, payout_tag: int | None,
             fee_address: str | None, fee_payer_address: str) -> Plan:
        low, high = cost_limits(self.network)
        fee = settlement.fee
        gross = settlement.gross
        token = order.channel.token_contract_for(self.mode) if order.channel.is_token else ""
        common = {"sender_address": deposit.address, "sender_role": SenderRole.DEPOSIT,
                  "sender_index": deposit.derivation_index, "asset": order.asset, "token": token,
                  "max_network_cost": high}
        owed_reason = ""
        if fee > 0 and not fee_address:
            owed_reason = f"no platform address for {self.network} (FLUXA_PLATFORM_ADDRESSES)"
        elif fee > 0 and not token and low is not None and fee < OWED_FACTOR * low:
            owed_reason = (f"the fee {fee} {order.asset} is below {OWED_FACTOR} x the least a transfer costs "
                           f"({low}): sending it would burn most of it")
        send_fee = fee > 0 and not owed_reason
        net = OutboundSpec(outputs=[Output(payout_address, gross - fee, "net")],
                           purpose=OutboundPurpose.SETTLEMENT, leg_role=LegRole.NET, **common)
        if not token:
            outbounds = [net]
            if send_fee:
                outbounds.append(OutboundSpec(outputs=[Output(fee_address, fee, "fee")], purpose=OutboundPurpose.FEE,
                                              leg_role=LegRole.FEE, after=0, **common))
            return Plan(outbounds=outbounds, amount=gross - fee, fee=fee, fee_owed=bool(owed_reason),
                        owed_reason=owed_reason)
        if not token.startswith("0x"):
            raise CannotSend(f"the channel {order.channel.code} has no token contract for {self.mode}")
        topup = OutboundSpec(sender_address=fee_payer_address, sender_role=SenderRole.FEE_PAYER,
                             asset=self.net.native_symbol, outputs=[Output(deposit.address, TOPUP_AMOUNT, "topup")],
                             purpose=OutboundPurpose.TOPUP, leg_role=LegRole.TOPUP, max_network_cost=high)
        outbounds = [topup, OutboundSpec(**{**net.__dict__, "after": 0})]
        if send_fee:
            outbounds.append(OutboundSpec(outputs=[Output(fee_address, fee, "fee")], purpose=OutboundPurpose.FEE,
                                          leg_role=LegRole.FEE, after=0, **common))
        return Plan(outbounds=outbounds, amount=gross - fee, fee=fee, fee_owed=bool(owed_reason),
                    owed_reason=owed_reason)

    # -- deposit refunds (node reads, no lock) ----------------------------------------------------

    def quote_refund(self, *, order, deposit, amount: Decimal, to_address: str, to_tag: int | None) -> RefundQuote:
        """A token: refunded in full, the operator's fee payer tops up the gas (the quote's cost:
        the top-up's transfer and the token transfer at today's price, paid by the operator).
        The native coin: the amount minus the transfer's cost at today's price (2 x base fee +
        priority per gas), which the refund then pays exactly."""
        native = self.net.native_symbol
        decimals = self.net.native_decimals
        _, high = cost_limits(self.network)
        token = order.channel.token_contract_for(self.mode) if order.channel.is_token else ""
        if token:
            units = to_base_units(amount, self._token_decimals(token))
            held = self.adapter.token_balance(token, deposit.address)
            if held < units:
                raise CannotSend(f"the deposit address holds "
                                 f"{amount_text(from_base_units(held, self._token_decimals(token)), order.asset)}, "
                                 f"less than the {amount_text(amount, order.asset)} to refund", code="nothing_to_refund")
            gas = self._token_gas(deposit.address, token, erc20_transfer_data(to_address, units))
            _, max_fee, _ = self._pricing(gas)
            cost = (gas + NATIVE_TRANSFER_GAS) * max_fee
            return RefundQuote(amount=amount, net=amount, network_cost=from_base_units(cost, decimals),
                               cost_asset=native, paid_by=PAID_BY_OPERATOR,
                               notes=(f"the token is refunded in full; the operator's fee payer pays the gas in "
                                      f"{native}",))
        value = to_base_units(amount, decimals)
        balance = self.adapter.native_balance(deposit.address)
        if balance < value:
            raise CannotSend(f"the deposit address holds {amount_text(from_base_units(balance, decimals), native)}, "
                             f"less than the {amount_text(amount, native)} to refund", code="nothing_to_refund")
        gas = self._native_gas(deposit.address, to_address, value)
        _, max_fee, _ = self._pricing(gas)
        cost = gas * max_fee
        if high is not None and cost > to_base_units(high, decimals):
            raise CannotSend(f"the network cost {amount_text(from_base_units(cost, decimals), native)} is above the "
                             f"limit {amount_text(high, native)}", code="network_cost_too_high")
        if cost >= value:
            raise CannotSend(f"{amount_text(amount, native)} does not cover the network cost of sending it "
                             f"({amount_text(from_base_units(cost, decimals), native)})", code="below_network_cost")
        return RefundQuote(amount=amount, net=from_base_units(value - cost, decimals),
                           network_cost=from_base_units(cost, decimals), cost_asset=native, paid_by=PAID_BY_PAYER,
                           terms={"gas": gas, "max_fee_per_gas": max_fee})

    # -- node reads (no lock) ------------------------------------------------------------------

    def _pricing(self, gas: int) -> tuple[FeeData, int, int]:
        fee = self.adapter.fee_data()
        priority = fee.priority_fee
        max_fee = 2 * fee.base_fee + priority
        low, _ = cost_limits(self.network)
        if low is not None and low > 0:
            max_fee = max(max_fee, -(-to_base_units(low, self.net.native_decimals) // gas))
        return fee, max_fee, priority

    def _token_decimals(self, contract: str) -> int:
        if contract not in self._decimals:
            self._decimals[contract] = self.adapter.token_decimals(contract)
        return self._decimals[contract]

    def prepare(self, outbound) -> Prepared:
        if outbound.purpose == OutboundPurpose.TOPUP:
            return self._prepare_topup(outbound)
        output = outbound.outputs[0]
        sender = outbound.sender.address
        balance = self.adapter.native_balance(sender)
        if outbound.token:
            decimals = self._token_decimals(outbound.token)
            units = to_base_units(Decimal(output["amount"]), decimals)
            data = erc20_transfer_data(output["address"], units)
            gas = self._token_gas(sender, outbound.token, data)
            fee, max_fee, priority = self._pricing(gas)
            return Prepared(fee=fee, max_fee=max_fee, priority=priority, balance=balance, gas=gas, data=data,
                            to=outbound.token, value=units, token_decimals=decimals,
                            token_balance=self.adapter.token_balance(outbound.token, sender))
        if output["amount"] == "rest":
            raise CannotSend("EVM outbounds name their amounts")
        value = to_base_units(Decimal(output["amount"]), self.net.native_decimals)
        gas = self._native_gas(sender, output["address"], value)
        fee, max_fee, priority = self._pricing(gas)
        keep = later_value = 0
        if output["role"] == "net":  # the net carries the network cost of the transfers after it
            for address, amount in _later_native_outputs(outbound, self.net.native_decimals):
                later_value += amount
                keep += self._native_gas(sender, address, amount) * max_fee
        return Prepared(fee=fee, max_fee=max_fee, priority=priority, balance=balance, gas=gas, keep=keep,
                        later_value=later_value, to=output["address"], value=value)

    def _native_gas(self, sender: str, to: str, value: int) -> int:
        """21,000 to an ordinary account; a contract wallet's receive code costs more, and a
        transfer with 21,000 gas to it would fail on-chain (its gas spent)."""
        if not self.adapter.has_code(to):
            return NATIVE_TRANSFER_GAS
        estimate = self.adapter.estimate_gas(sender=sender, to=to, value=value)
        return int(-(-Decimal(estimate) * GAS_LIMIT_MARGIN // 1))

    def _token_gas(self, sender: str, contract: str, data: bytes) -> int:
        estimate = self.adapter.estimate_gas(sender=sender, to=contract, data=data)
        return int(-(-Decimal(estimate) * GAS_LIMIT_MARGIN // 1))

    def _prepare_topup(self, outbound) -> Prepared:
        deposit = outbound.outputs[0]["address"]
        dependents = list(outbound.dependents.filter(status=OutboundStatus.PLANNED).order_by("created_at", "id"))
        gas_total = 0
        for dependent in dependents:
            if not dependent.token:
                continue
            decimals = self._token_decimals(dependent.token)
            out = dependent.outputs[0]
            data = erc20_transfer_data(out["address"], to_base_units(Decimal(out["amount"]), decimals))
            gas_total += self._token_gas(deposit, dependent.token, data)
        gas = NATIVE_TRANSFER_GAS
        fee, max_fee, priority = self._pricing(gas)
        _, token_max_fee, _ = self._pricing(max(gas_total, 1))
        need = int(-(-Decimal(gas_total * token_max_fee) * TOPUP_MARGIN // 1))
        held = self.adapter.native_balance(deposit)
        if need - held <= 0 and outbound.status == OutboundStatus.PLANNED:
            raise NotNeeded(f"the deposit address already holds {from_base_units(held, 18)} "
                            f"{self.net.native_symbol} for its token transfers' gas")
        # (A top-up already signed is replaced with the amount it committed to: see replacement.)
        return Prepared(fee=fee, max_fee=max_fee, priority=priority, gas=gas, to=deposit, value=max(need - held, 0),
                        topup=max(need - held, 0), balance=self.adapter.native_balance(outbound.sender.address))

    # -- building (under the sending account's lock; no node call) -----------------------------

    def build(self, outbound, prepared: Prepared, *, nonce: int | None, signer) -> Built:
        max_fee, priority = prepared.max_fee, prepared.priority
        if _keeps_to_quote(outbound):
            # A native refund keeps to its quote: the quoted price per gas as both fee fields,
            # so it costs exactly gas x that price and the payer receives exactly the quoted
            # net (the address is left empty). While the base fee is above it, it waits.
            quoted = to_base_units(outbound.max_network_cost, self.net.native_decimals) // prepared.gas
            if quoted <= prepared.fee.base_fee:
                raise NotReady(f"the network costs more now (base fee {prepared.fee.base_fee} wei per gas) than the "
                               f"refund's quote ({quoted}): it waits for the quoted price", hold=True,
                               retry_seconds=60)
            max_fee = priority = quoted
        return self._build(outbound, prepared, nonce=nonce, signer=signer, max_fee=max_fee,
                           priority=priority, hold_above_max=True)

    def _build(self, outbound, prepared: Prepared, *, nonce, signer, max_fee: int, priority: int,
               hold_above_max: bool) -> Built:
        decimals = self.net.native_decimals
        gas = prepared.gas
        _, high = cost_limits(self.network)
        output = outbound.outputs[0]
        native_net = not outbound.token and output["role"] == "net"
        if outbound.token:
            if prepared.token_balance is not None and prepared.token_balance < prepared.value:
                raise NotReady(f"the deposit holds {prepared.token_balance} token units, "
                               f"less than the {prepared.value} to send")
            available = prepared.balance
        elif native_net:
            if prepared.balance < prepared.value + prepared.later_value:
                raise NotReady(f"the deposit holds {from_base_units(prepared.balance, decimals)} "
                               f"{self.net.native_symbol}, less than the "
                               f"{from_base_units(prepared.value + prepared.later_value, decimals)} planned",
                               retry_seconds=60)
            available = prepared.value - prepared.keep
        else:
            available = prepared.balance - prepared.value
        if not native_net and gas * max_fee > available:
            # Pay what the address holds, as long as the transaction can still be included now.
            affordable = available // gas
            if affordable <= prepared.fee.base_fee:
                raise NotReady(f"{outbound.sender.address} holds {from_base_units(max(available, 0), decimals)} "
                               f"{self.net.native_symbol} for gas, less than the "
                               f"{from_base_units(gas * max_fee, decimals)} this transfer may cost",
                               retry_seconds=30)
            max_fee = affordable
            priority = min(priority, max_fee - prepared.fee.base_fee)
        cost = gas * max_fee
        if high is not None and cost > to_base_units(high, decimals):
            raise NotReady(f"the network cost (up to {from_base_units(cost, decimals)} {self.net.native_symbol}) "
                           f"is above the limit {high}", hold=hold_above_max, retry_seconds=60)
        if native_net:
            value = available - cost
            if value <= 0:
                raise NotReady(f"the net {from_base_units(prepared.value, decimals)} does not cover the network "
                               f"cost {from_base_units(cost + prepared.keep, decimals)} now", hold=True,
                               retry_seconds=60)
            paid = [{**output, "amount": str(from_base_units(value, decimals))}]
        elif outbound.token:
            value = 0
            paid = [{**output, "amount": str(from_base_units(prepared.value, prepared.token_decimals))}]
        else:
            value = prepared.value
            paid = [{**output, "amount": str(from_base_units(value, decimals))}]
        with signer(outbound.sender) as key:
            signed = sign_type2(key, chain_id=self.chain_id, nonce=nonce, to=prepared.to, value=value, gas=gas,
                                max_fee_per_gas=max_fee, max_priority_fee_per_gas=priority, data=prepared.data)
        if signed.sender != outbound.sender.address.lower():
            raise RuntimeError(f"signed by {signed.sender}, not {outbound.sender.address}")
        return Built(txid=signed.txid, raw=signed.raw, outputs=paid, network_cost=from_base_units(cost, decimals),
                     fee_asset=self.net.native_symbol, nonce=nonce,
                     fee_fields={"type": 2, "gas": gas, "max_fee_per_gas": max_fee,
                                 "max_priority_fee_per_gas": priority, "keep": prepared.keep})

    def replacement(self, outbound, candidate, prepared: Prepared, *, signer, stuck_seconds: float) -> Built | None:
        if candidate is None or candidate.nonce is None:
            return None
        old = candidate.fee_fields or {}
        max_fee = max(bumped(int(old["max_fee_per_gas"])), prepared.max_fee)
        priority = max(bumped(int(old["max_priority_fee_per_gas"])), prepared.priority)
        priority = min(priority, max_fee)
        if outbound.purpose == OutboundPurpose.TOPUP:
            # The same top-up: the amount it committed to, not a new computation.
            prepared = Prepared(**{**prepared.__dict__, "value": _wei(candidate.outputs[0]["amount"]),
                                   "to": candidate.outputs[0]["address"]})
        elif not outbound.token and outbound.outputs[0]["role"] == "net":
            prepared = Prepared(**{**prepared.__dict__, "keep": int(old.get("keep", prepared.keep))})
        gas = int(old.get("gas", prepared.gas))
        prepared = Prepared(**{**prepared.__dict__, "gas": gas})
        native_net = not outbound.token and outbound.outputs[0]["role"] == "net"
        needed = gas * max_fee + (prepared.value if not outbound.token else 0)
        if not native_net and needed > prepared.balance:
            logger.warning("outbound %s: no replacement, %s cannot pay the higher gas", outbound.id,
                           outbound.sender.address)
            return None
        try:
            built = self._build(outbound, prepared, nonce=candidate.nonce, signer=signer, max_fee=max_fee,
                                priority=priority, hold_above_max=False)
        except NotReady as not_ready:
            logger.warning("outbound %s: no replacement: %s", outbound.id, not_ready.reason)
            return None
        if built.fee_fields["max_fee_per_gas"] < bumped(int(old["max_fee_per_gas"])):
            return None  # it could not afford the bump: a node would refuse it as underpriced
        return built

    # -- the node ------------------------------------------------------------------------------

    def send(self, raw: bytes) -> None:
        try:
            self.adapter.send_raw(raw)
        except TxRefused as refused:
            raise TxRejected(refused.reason, spent=refused.nonce_used) from refused

    def state(self, candidate) -> TxState:
        found = self.adapter.tx_lookup(candidate.txid)
        if found.in_block:
            return TxState(found=True, in_block=True, block_number=found.block_number, block_hash=found.block_hash,
                           confirmations=found.confirmations, succeeded=found.succeeded,
                           network_cost=from_base_units(found.cost_wei, self.net.native_decimals))
        if found.found:
            return TxState(found=True)
        if candidate.nonce is not None:
            sender = candidate.outbound.sender.address
            if self.adapter.transaction_count(sender, block="latest") > candidate.nonce:
                # Its nonce is used by another transaction in a block: it can never be included.
                return TxState(found=False, expired=True)
        return NOT_FOUND

    def initial_nonce(self, address: str) -> int:
        # Read once, when the sending account's row is created (the engine allocates from the
        # row from then on). A fresh deposit address answers 0; one the operator swept by hand,
        # or a root restored over an older database, answers what the chain has used.
        return self.adapter.transaction_count(address, block="pending")

    def balance(self, address: str, *, asset: str, token: str = "") -> Decimal:
        if token:
            return from_base_units(self.adapter.token_balance(token, address), self._token_decimals(token))
        return from_base_units(self.adapter.native_balance(address), self.net.native_decimals)


def _keeps_to_quote(outbound) -> bool:
    return (outbound.purpose == OutboundPurpose.REFUND and not outbound.token
            and outbound.max_network_cost is not None and outbound.outputs[0]["role"] == "net")


def _wei(amount: str) -> int:
    return to_base_units(Decimal(amount), 18)


def _later_native_outputs(outbound, decimals: int) -> list[tuple[str, int]]:
    """(address, base units) of what the planned native outbounds from the same address after
    this one will send."""
    later = Outbound.objects.filter(sender_id=outbound.sender_id, status=OutboundStatus.PLANNED, token="").filter(
        Q(created_at__gt=outbound.created_at) | Q(created_at=outbound.created_at, id__gt=outbound.id))
    return [(out["address"], to_base_units(Decimal(out["amount"]), decimals)) for other in later
            for out in other.outputs]
