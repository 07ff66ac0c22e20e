"""The UTXO family's settlement rules (Bitcoin, Litecoin): one transaction per batch of paid
deposits, each settlement's merchant output (its net) and the operator's output (the fee),
the network cost out of the nets. See docs/settlements.md, "UTXO (Bitcoin, Litecoin)".

* Inputs come from the database, never from a node's idea of the address: the order's
  confirmed incoming wallets.Transfer rows (tx_hash, log_index = vout, amount). `prepare`
  checks each against the node (`gettxout`, its value and script) before anything is signed.
  An input is spent by exactly one outbound: `plan` refuses one already in another
  outbound's sources.
* Batching: `plan` joins the settlement to the open planned batch of the same network and
  mode (its row locked with select_for_update, so two planners never lose a settlement),
  or opens a new one whose window closes FLUXA_SETTLEMENT_BATCH_SECONDS later; `prepare`
  refuses to build before the window closed. Each settlement is one `sources` entry of the
  batch (its deposit's SendingAccount, inputs, payout and fee addresses, net and fee); the
  build locks every source's SendingAccount row. Outputs to the same address are merged.
* Dust: no output below the network's P2WPKH dust threshold. A fee below it (or with no
  platform address configured) is owed: it is not sent, it goes with the merchant's output
  and an OwedFee records it. A net that cannot stay above dust once it pays its part of the
  network cost holds the batch (NotReady, held).
* Network cost: the node's estimatesmartfee (6 blocks), else FLUXA_SETTLEMENT_FEE_RATES, else
  the node's minimum relay fee rate; never under the node's minimum; the absolute cost within
  FLUXA_SETTLEMENT_COST_LIMITS (below the minimum it is raised, above the maximum the batch
  is held). Each settlement pays the part of the cost its inputs and outputs take (by
  vbytes), out of its net; `fee_fields["shares"]` of each candidate says what each one got.
* Replacement: BIP125 RBF, the same inputs and outputs with a higher fee (at least the old fee
  plus the replacement's vsize at the incremental relay fee, and +25 %), the nets reduced.
* No fee payer: every deposit pays its own part. `uses_nonce` is False.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_CEILING, Decimal

from django.conf import settings
from django.utils import timezone

from chains.adapters.base import ChainUnavailable
from chains.adapters.registry import adapter_for
from chains.adapters.utxo import BroadcastRefused, UtxoAdapter, script_of
from chains.networks import get_network
from chains.signing.utxo import (
    OVERHEAD_VSIZE,
    P2WPKH_INPUT_VSIZE,
    Input,
    Payment,
    SigningError,
    estimate_vsize,
    is_p2wpkh,
    output_vsize,
    sign_p2wpkh,
)
from core.money import amount_text, from_base_units, to_base_units
from settlements.families.base import (
    NOT_FOUND,
    Built,
    CannotSend,
    PAID_BY_PAYER,
    Family,
    NotReady,
    OutboundSpec,
    Output,
    Plan,
    RefundQuote,
    RefundShape,
    TxRejected,
    TxState,
    as_refund_plan,
)
from settlements.models import (
    LegRole,
    Outbound,
    OutboundPurpose,
    OutboundStatus,
    SenderRole,
    SendingAccount,
)
from wallets.models import Transfer, TransferStatus

# The least value of a P2WPKH output a node relays (its dust threshold): 3 x (31 + 67) vbytes
# at the dust relay fee, 3 sat/vB on Bitcoin Core, 30 sat/vB on Litecoin Core.
DUST = {"bitcoin": 294, "litecoin": 2940}
FEE_TARGET_BLOCKS = 6
MAX_BATCH_INPUTS = 200     # keeps a batch far below the standard transaction size (100 kvB)
REPLACEMENT_BUMP = Decimal("1.25")
REORG_LOOKBACK = 6         # blocks before the height seen at signing that a lookup searches too


@dataclass(frozen=True)
class Prepared:
    inputs: frozenset          # {(txid, vout)} checked unspent on the node, with the recorded value
    rate: Decimal              # sat/vB to pay now
    incremental: Decimal       # sat/vB a replacement adds at least (BIP125)
    height: int                # the node's head when read


def _ceil(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def _inputs_of(sources: list[dict]) -> list[dict]:
    return [item for source in sources for item in source["inputs"]]


class UtxoFamily(Family):
    uses_nonce = False

    def __init__(self, *, network: str, mode: str):
        super().__init__(network=network, mode=mode)
        net = get_network(network)
        self.asset = net.native_symbol
        self.decimals = net.native_decimals
        self.dust = DUST.get(net.label, 546)  # 546: the P2PKH threshold, for a network not named
        self._adapter: UtxoAdapter | None = None

    # -- amounts -------------------------------------------------------------------------------

    def _units(self, amount: Decimal | str) -> int:
        return to_base_units(Decimal(amount), self.decimals)

    def _coins(self, units: int) -> Decimal:
        return from_base_units(units, self.decimals)

    def _script(self, address: str) -> bytes:
        return bytes.fromhex(script_of(network=self.network, mode=self.mode, address=address))

    def _limits(self) -> tuple[Decimal | None, Decimal | None]:
        # The same setting as settlements.services.cost_limits (which imports the families).
        limits = settings.FLUXA_SETTLEMENT_COST_LIMITS.get(self.network, {})
        low, high = limits.get("min"), limits.get("max")
        return (Decimal(str(low)) if low is not None else None, Decimal(str(high)) if high is not None else None)

    def node(self) -> UtxoAdapter:
        if self._adapter is None:
            adapter = adapter_for(self.network, self.mode)
            if not isinstance(adapter, UtxoAdapter):
                raise ChainUnavailable(f"no {self.network} {self.mode} node configured (FLUXA_CHAINS)")
            self._adapter = adapter
        return self._adapter

    # -- planning (no node call) --------------------------------------------------------------

    def plan(self, *, settlement, order, deposit, payout_address: str, payout_tag: int | None,
             fee_address: str | None, fee_payer_address: str) -> Plan:
        return self._plan(settlement=settlement, order=order, deposit=deposit, payout_address=payout_address,
                          fee_address=fee_address, batch=True)

    def plan_refund(self, *, refund, order, deposit, to_address: str, to_tag: int | None,
                    fee_payer_address: str, quote: RefundQuote) -> Plan:
        # Every confirmed output of the deposit goes back, in a transaction of its own (never a
        # settlement batch), at exactly the quoted fee.
        plan = self._plan(settlement=RefundShape(id=refund.id, gross=refund.amount, asset=refund.currency), order=order,
                          deposit=deposit, payout_address=to_address, fee_address=None, batch=False)
        return as_refund_plan(plan, quote=quote)

    def quote_refund(self, *, order, deposit, amount: Decimal, to_address: str, to_tag: int | None) -> RefundQuote:
        """The deposit's confirmed outputs, less the fee at the node's rate for the transaction
        that spends them all to the refund address; refused when what is left is dust."""
        inputs = self._deposit_inputs(order, deposit, for_refund=True)
        received = sum((Decimal(i["amount"]) for i in inputs), Decimal(0))
        if received != amount:
            raise CannotSend(f"the deposit's confirmed outputs hold {amount_text(received, self.asset)}, not "
                             f"{amount_text(amount, self.asset)}: a UTXO refund returns them all",
                             code="nothing_to_refund")
        try:
            script = self._script(to_address)
        except ValueError as error:
            raise CannotSend(f"cannot pay that address: {error}", code="invalid_address") from error
        vsize = estimate_vsize(len(inputs), [script])
        fee = self._refund_fee(self._rate(self.node()), vsize)
        net = self._units(received) - fee
        if net < self.dust:
            raise CannotSend(f"{amount_text(received, self.asset)} minus the network cost "
                             f"{amount_text(self._coins(fee), self.asset)} is below the "
                             f"{amount_text(self._coins(self.dust), self.asset)} dust threshold: nothing can be sent",
                             code="below_dust")
        return RefundQuote(amount=received, net=self._coins(net), network_cost=self._coins(fee),
                           cost_asset=self.asset, paid_by=PAID_BY_PAYER, terms={"vsize": vsize})

    def _refund_fee(self, rate: Decimal, vsize: int) -> int:
        low, high = self._limits()
        fee = max(_ceil(rate * vsize), 1)
        if low is not None:
            fee = max(fee, self._units(low))
        if high is not None and fee > self._units(high):
            raise CannotSend(f"the network cost {amount_text(self._coins(fee), self.asset)} is above the "
                             f"{amount_text(high, self.asset)} limit", code="network_cost_too_high")
        return fee

    def _deposit_inputs(self, order, deposit, *, for_refund: bool = False) -> list[dict]:
        transfers = list(Transfer.objects.filter(order=order, deposit_address=deposit, network=self.network,
                                                 mode=self.mode, status=TransferStatus.CONFIRMED, asset=self.asset,
                                                 simulated=False).order_by("block_number", "tx_hash", "log_index"))
        if not transfers:
            raise CannotSend("no confirmed output on the deposit address to spend", code="nothing_to_refund")
        deposit_script = script_of(network=self.network, mode=self.mode, address=deposit.address)
        if not is_p2wpkh(bytes.fromhex(deposit_script)):
            raise CannotSend(f"the deposit address {deposit.address} is not P2WPKH")
        inputs = [{"txid": t.tx_hash, "vout": t.log_index, "amount": str(t.amount), "script": deposit_script}
                  for t in transfers]
        since = min(t.detected_at for t in transfers)
        if for_refund:
            # Funds that reached the order after an earlier deposit refund: that refund spent
            # the outputs it sent back (the refund's amount counts them as gone); these are not
            # spent again, the rest is what goes back now.
            gone = self._taken(inputs, since=since, purposes=[OutboundPurpose.REFUND])
            inputs = [i for i in inputs if (i["txid"], i["vout"]) not in gone]
            if not inputs:
                raise CannotSend("every confirmed output of the deposit was refunded already", code="nothing_to_refund")
        self._refuse_spent(inputs, since=since)
        return inputs

    def _plan(self, *, settlement, order, deposit, payout_address: str, fee_address: str | None,
              batch: bool) -> Plan:
        # The order's deposit address only: one key signs a source (funds an order got on an
        # earlier address stay there for an operator).
        inputs = self._deposit_inputs(order, deposit, for_refund=not batch)
        received = sum((Decimal(i["amount"]) for i in inputs), Decimal(0))
        fee = settlement.fee
        owed_reason = ""
        if fee > 0 and not fee_address:
            owed_reason = f"no platform address for {self.network} (FLUXA_PLATFORM_ADDRESSES)"
        elif fee > 0 and self._units(fee) < self.dust:
            owed_reason = (f"the fee {fee} {self.asset} is below the {self._coins(self.dust)} {self.asset} "
                           f"dust threshold: it goes with the merchant's output and is owed")
        fee_owed = bool(owed_reason)
        sent_fee = Decimal(0) if fee_owed else fee
        net = received - sent_fee  # an overpayment goes to the merchant, who refunds a direct order's payer
        try:
            scripts = [self._script(payout_address)] + ([] if not sent_fee else [self._script(fee_address)])
        except ValueError as error:
            raise CannotSend(f"cannot pay that address: {error}") from error
        least_cost = len(inputs) * P2WPKH_INPUT_VSIZE + sum(output_vsize(s) for s in scripts) + OVERHEAD_VSIZE
        if self._units(net) < self.dust + least_cost:
            raise CannotSend(f"the net {net} {self.asset} would not stay above the {self._coins(self.dust)} "
                             f"{self.asset} dust threshold after its network cost")
        account, _ = SendingAccount.objects.get_or_create(
            network=self.network, mode=self.mode, address=deposit.address,
            defaults={"role": SenderRole.DEPOSIT, "derivation_index": deposit.derivation_index})
        source = {"settlement": settlement.id, "account": account.pk, "address": deposit.address,
                  "index": deposit.derivation_index, "inputs": inputs, "to": payout_address, "net": str(net),
                  "fee_to": fee_address if sent_fee else "", "fee": str(sent_fee)}
        _, max_cost = self._limits()
        now = timezone.now()
        window = float(settings.FLUXA_SETTLEMENT_BATCH_SECONDS) if batch else 0.0
        batch = self._open_batch(now=now, window=window, extra_inputs=len(inputs))
        if batch is not None:
            sources = [*batch.sources, source]
            spec = OutboundSpec(
                sender_address=batch.sender.address, sender_role=SenderRole.DEPOSIT, asset=self.asset,
                outputs=self._plan_outputs(sources), purpose=OutboundPurpose.SETTLEMENT, leg_role=LegRole.NET,
                sender_index=batch.sender.derivation_index, sources=sources, max_network_cost=max_cost,
                join=batch.id)
        else:
            spec = OutboundSpec(
                sender_address=deposit.address, sender_role=SenderRole.DEPOSIT, asset=self.asset,
                outputs=self._plan_outputs([source]), purpose=OutboundPurpose.SETTLEMENT, leg_role=LegRole.NET,
                sender_index=deposit.derivation_index, sources=[source], max_network_cost=max_cost,
                not_before=now + timedelta(seconds=window) if window > 0 else None)
        return Plan(outbounds=[spec], amount=net, fee=fee, fee_owed=fee_owed, owed_reason=owed_reason,
                    owed_held_at=payout_address if fee_owed else "")  # paid out with the net: the merchant owes it

    def _open_batch(self, *, now, window: float, extra_inputs: int) -> Outbound | None:
        """The open batch a new settlement joins, its row locked until the planning
        transaction ends: planned, never tried, its window still open, room for the inputs."""
        if window <= 0:
            return None
        query = (Outbound.objects.select_for_update().select_related("sender")
                 .filter(network=self.network, mode=self.mode, purpose=OutboundPurpose.SETTLEMENT,
                         status=OutboundStatus.PLANNED, attempts=0, created_at__gt=now - timedelta(seconds=window))
                 .order_by("created_at", "id"))
        for batch in query[:5]:
            if batch.sources and len(_inputs_of(batch.sources)) + extra_inputs <= MAX_BATCH_INPUTS:
                return batch
        return None

    def _taken(self, inputs: list[dict], *, since, purposes: list[str]) -> set[tuple[str, int]]:
        """The inputs already in the sources of an outbound of `purposes` that did not fail."""
        wanted = {(i["txid"], i["vout"]) for i in inputs}
        others = (Outbound.objects.filter(network=self.network, mode=self.mode, updated_at__gte=since,
                                          purpose__in=purposes)
                  .exclude(status=OutboundStatus.FAILED).exclude(sources=[]).only("sources"))
        return {(i["txid"], i["vout"]) for other in others for i in _inputs_of(other.sources)} & wanted

    def _refuse_spent(self, inputs: list[dict], *, since) -> None:
        """An input already in another outbound's sources (not failed) is never spent again.
        Such an outbound was written after the transfer row existed: only those are read."""
        wanted = {(i["txid"], i["vout"]) for i in inputs}
        others = (Outbound.objects.filter(network=self.network, mode=self.mode, updated_at__gte=since)
                  .exclude(status=OutboundStatus.FAILED).exclude(sources=[]).only("id", "sources"))
        for other in others:
            taken = wanted & {(i["txid"], i["vout"]) for i in _inputs_of(other.sources)}
            if taken:
                txid, vout = sorted(taken)[0]
                raise CannotSend(f"the output {txid}:{vout} is already spent by {other.id}")

    def _plan_outputs(self, sources: list[dict]) -> list[Output]:
        """The batch's outputs as planned (before the network cost): merged per address."""
        merged: dict[str, tuple[Decimal, str]] = {}
        for source in sources:
            for address, amount, role in ((source["to"], Decimal(source["net"]), "net"),
                                          (source["fee_to"], Decimal(source["fee"]), "fee")):
                if address and amount > 0:
                    total, first_role = merged.get(address, (Decimal(0), role))
                    merged[address] = (total + amount, first_role)
        return [Output(address=a, amount=amount, role=role) for a, (amount, role) in merged.items()]

    # -- node reads, no lock -------------------------------------------------------------------

    def prepare(self, outbound) -> Prepared:
        if outbound.status == OutboundStatus.PLANNED and outbound.purpose == OutboundPurpose.SETTLEMENT:
            closes = outbound.created_at + timedelta(seconds=float(settings.FLUXA_SETTLEMENT_BATCH_SECONDS))
            wait = (closes - timezone.now()).total_seconds()
            if wait > 0:
                raise NotReady(f"the batch is open for more settlements until {closes.isoformat()}",
                               retry_seconds=wait)
        if not outbound.sources:
            raise CannotSend("the outbound has no inputs")
        node = self.node()
        checked = set()
        for item in _inputs_of(outbound.sources):
            found = node.tx_output(item["txid"], item["vout"], include_mempool=False)
            if found is None:
                raise NotReady(f"the output {item['txid']}:{item['vout']} is not unspent on the node", hold=True,
                               retry_seconds=300)
            if found["value"] != self._units(item["amount"]) or found["script"] != item["script"]:
                raise NotReady(f"the output {item['txid']}:{item['vout']} on the node is not the recorded "
                               f"transfer ({found['value']} units to {found['script']})", hold=True, retry_seconds=300)
            checked.add((item["txid"], item["vout"]))
        _, incremental = node.relay_fees()
        return Prepared(inputs=frozenset(checked), rate=self._rate(node), incremental=incremental,
                        height=node.head().number)

    def _rate(self, node: UtxoAdapter) -> Decimal:
        """sat/vB to pay now: the node's estimate (6 blocks), else the configured rate, else
        the node's minimum; never under the minimum."""
        least, _ = node.relay_fees()
        estimate = node.fee_rate(FEE_TARGET_BLOCKS)
        configured = settings.FLUXA_SETTLEMENT_FEE_RATES.get(self.network)
        rate = estimate if estimate is not None else (Decimal(str(configured)) if configured is not None else least)
        return max(rate, least)

    # -- building (CPU and row locks only) -----------------------------------------------------

    def build(self, outbound, prepared: Prepared, *, nonce: int | None, signer) -> Built:
        self._check_prepared(outbound, prepared)
        ids = sorted({source["account"] for source in outbound.sources})
        # The per-address lock rule: every deposit this batch spends, locked in id order.
        accounts = {a.pk: a for a in SendingAccount.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
        vsize = self._vsize(outbound.sources)
        fee = max(_ceil(prepared.rate * vsize), 1)
        if outbound.purpose == OutboundPurpose.REFUND and outbound.max_network_cost is not None:
            # A refund keeps to its quote: exactly the quoted fee, so the payer receives the
            # quoted net (a replacement, if it gets stuck, pays more out of it).
            fee = self._units(outbound.max_network_cost)
        return self._sign(outbound, accounts, fee=fee, vsize=vsize, height=prepared.height,
                          rate=prepared.rate, signer=signer)

    def replacement(self, outbound, candidate, prepared: Prepared, *, signer, stuck_seconds: float) -> Built | None:
        if candidate is None:
            return None  # every candidate can never be included: its inputs went elsewhere
        if candidate.sends == 0:
            # The newest was never taken by the node (a node without -mempoolreplacement refuses
            # every replacement): bumping it again would only raise the fee of a transaction no
            # node relays. The earlier candidate stays in the mempool and is followed.
            return None
        self._check_prepared(outbound, prepared)
        old_fee = self._units(candidate.network_cost)
        vsize = self._vsize(outbound.sources)
        fee = max(_ceil(prepared.rate * vsize),
                  old_fee + _ceil(prepared.incremental * vsize),  # BIP125 rule 4
                  _ceil(old_fee * REPLACEMENT_BUMP))
        accounts = {a.pk: a for a in SendingAccount.objects.filter(pk__in={s["account"] for s in outbound.sources})}
        height = min(int(candidate.fee_fields.get("height", prepared.height)), prepared.height)
        return self._sign(outbound, accounts, fee=fee, vsize=vsize, height=height, rate=prepared.rate,
                          signer=signer, replaces=candidate.txid)

    def _check_prepared(self, outbound, prepared: Prepared) -> None:
        wanted = {(i["txid"], i["vout"]) for i in _inputs_of(outbound.sources)}
        if wanted != set(prepared.inputs):
            raise NotReady("the batch changed while it was prepared", retry_seconds=0)

    def _vsize(self, sources: list[dict]) -> int:
        scripts = {self._script(a) for a in self._output_addresses(sources)}
        return estimate_vsize(len(_inputs_of(sources)), list(scripts))

    @staticmethod
    def _output_addresses(sources: list[dict]) -> list[str]:
        seen: list[str] = []
        for source in sources:
            for address, amount in ((source["to"], source["net"]), (source["fee_to"], source["fee"])):
                if address and Decimal(amount) > 0 and address not in seen:
                    seen.append(address)
        return seen

    def _shares(self, sources: list[dict], fee: int) -> list[int]:
        """Each settlement's part of the network cost, by the vbytes its inputs and outputs
        take (the fixed part spread the same way); the parts add up to `fee` exactly."""
        weights = [len(s["inputs"]) * P2WPKH_INPUT_VSIZE + output_vsize(self._script(s["to"]))
                   + (output_vsize(self._script(s["fee_to"])) if s["fee_to"] and Decimal(s["fee"]) > 0 else 0)
                   for s in sources]
        total = sum(weights)
        shares = [fee * w // total for w in weights]
        for i in range(fee - sum(shares)):
            shares[i % len(shares)] += 1
        return shares

    def _sign(self, outbound, accounts: dict, *, fee: int, vsize: int, height: int, rate: Decimal, signer,
              replaces: str = "") -> Built:
        low, high = self._limits()
        if low is not None and fee < self._units(low):
            fee = self._units(low)
        if high is not None and fee > self._units(high):
            raise NotReady(f"the network cost {self._coins(fee)} {self.asset} is above the "
                           f"{high} {self.asset} limit", hold=True, retry_seconds=300)
        sources = outbound.sources
        shares = self._shares(sources, fee)
        amounts: dict[str, int] = {}
        roles: dict[str, str] = {}
        share_json = {}
        for source, share in zip(sources, shares, strict=True):
            net = self._units(source["net"]) - share
            if net < self.dust:
                raise NotReady(f"the network cost would leave the net of {source['settlement']} below dust "
                               f"({self._coins(net)} {self.asset})", hold=True, retry_seconds=300)
            sent_fee = self._units(source["fee"]) if source["fee_to"] else 0
            for address, amount, role in ((source["to"], net, "net"), (source["fee_to"], sent_fee, "fee")):
                if address and amount > 0:
                    amounts[address] = amounts.get(address, 0) + amount
                    roles.setdefault(address, role)
            share_json[source["settlement"]] = {"net": str(self._coins(net)), "fee": source["fee"],
                                                "network_cost": str(self._coins(share))}
        addresses = self._output_addresses(sources)
        payments = [Payment(script=self._script(a), amount=amounts[a]) for a in addresses]
        try:
            with ExitStack() as stack:
                keys = {}
                for source in sources:
                    if source["account"] not in keys:
                        keys[source["account"]] = stack.enter_context(signer(accounts[source["account"]]))
                inputs = [(Input(txid=i["txid"], vout=i["vout"], amount=self._units(i["amount"]),
                                 script=bytes.fromhex(i["script"])),
                           keys[source["account"]].secret_bytes(),
                           bytes.fromhex(keys[source["account"]].public_key_hex))
                          for source in sources for i in source["inputs"]]
                signed = sign_p2wpkh(inputs, payments)
        except SigningError as error:
            raise CannotSend(str(error)) from error
        if signed.fee != fee or signed.vsize > vsize:
            raise RuntimeError(f"built fee {signed.fee} / vsize {signed.vsize}, planned {fee} / {vsize}")
        outputs = [{"address": a, "amount": str(self._coins(amounts[a])), "role": roles[a], "tag": None}
                   for a in addresses]
        return Built(
            txid=signed.txid, raw=signed.raw, outputs=outputs, network_cost=self._coins(fee), fee_asset=self.asset,
            fee_fields={"fee": fee, "vsize": signed.vsize, "fee_rate": str(rate), "height": height,
                        "replaces": replaces, "shares": share_json,
                        "inputs": [f"{i['txid']}:{i['vout']}" for i in _inputs_of(sources)]},
        )

    # -- the chain ---------------------------------------------------------------------------

    def send(self, raw: bytes) -> None:
        try:
            self.node().send_raw(raw)
        except BroadcastRefused as refused:
            raise TxRejected(refused.reason, spent=refused.missing_inputs) from None

    def state(self, candidate) -> TxState:
        node = self.node()
        tx = node.transaction(candidate.txid)
        if tx is not None:
            confirmations = int(tx.get("confirmations") or 0)
            if tx.get("blockhash") and confirmations > 0:  # a node with -txindex: in the active chain
                return TxState(found=True, in_block=True, block_number=node.head().number - confirmations + 1,
                               block_hash=tx["blockhash"], confirmations=confirmations, succeeded=True,
                               network_cost=candidate.network_cost)
            return TxState(found=True)  # in the mempool
        spent = [item for item in candidate.fee_fields.get("inputs", [])
                 if node.tx_output(item.split(":")[0], int(item.split(":")[1]), include_mempool=False) is None]
        if not spent:
            return NOT_FOUND  # its inputs are unspent in the chain: it is in no block
        since = int(candidate.fee_fields.get("height", 0)) - REORG_LOOKBACK
        block = node.find_in_blocks(candidate.txid, from_height=since)
        if block is None:
            return TxState(found=False, expired=True)  # its inputs went to another transaction
        return TxState(found=True, in_block=True, block_number=block.number, block_hash=block.hash,
                       confirmations=node.head().number - block.number + 1, succeeded=True,
                       network_cost=candidate.network_cost)

    def balance(self, address: str, *, asset: str, token: str = "") -> Decimal:
        return self._coins(self.node().script_balance(script_of(network=self.network, mode=self.mode,
                                                                 address=address)))
