"""EVM settlements on anvil: settlements confirmed per minute with 1,000 paid ETH orders, the
gas each kind of settlement uses against the bare transfers measured in the same run, and the
share of value lost to the network cost.

Run: `bash bench/run_settlements.sh` (private PostgreSQL + Redis via bench/services.sh, anvil via
scripts/nodes.sh; everything on 127.0.0.1).

1. A real anvil node (automine); the test token deployed as the live usdt_erc20 contract.
2. One merchant with an ethereum payout address; ORDERS live ETH charges of 0.05 ETH made with
   the real charge service (deposit addresses derived from the HD root: the settlement signs
   with their keys), each paid by a real transfer (in blocks of 200), then seen paid by the real
   scanner (charges.watching.network_scan).
3. Measured: the beat jobs run in one process, one thread, as one beat worker would run them:
   `plan_settlements()` then `advance_outbounds()`, then one block mined (the outgoing
   transfers need FLUXA_SETTLEMENT_CONFIRMATIONS blocks), until every settlement is confirmed.
   Settlements confirmed per minute = ORDERS / that time.
4. Then TOKENS USDT orders (25 USDT each) settled the same way with the gas top-up from the fee
   payer, and TOKENS more whose deposit addresses were sent 0.01 ETH first (no top-up).
5. The gas of each settlement is the sum of gasUsed of its landed transactions (receipts); the
   references are a plain ether transfer and a bare token transfer (to a fresh address and to an
   address that already holds the token) sent in the same run. The value lost is the sum of the
   settlements' network_cost (gasUsed x effectiveGasPrice, what the chain charged) over the sum
   of their gross; what the fee caps did not use stays on the deposit addresses and is shown
   apart.

The result replaces the "Settlements (EVM)" section of docs/benchmarks.md (between markers).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
import urllib.request
from decimal import Decimal
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.report import write_section  # noqa: E402  (the repo root is on the path now)
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- settlements:begin -->", "<!-- settlements:end -->"
# A BIP39 test vector (the test suite's), never a real wallet: the bench's HD root.
BENCH_MNEMONIC = "legal winner thank year wave sausage worth useful legal winner thank yellow"
WEI = 10**18


def _rpc_batch(url: str, calls: list[tuple[str, list]]) -> list:
    body = json.dumps([{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)])
    request = urllib.request.Request(url, data=body.encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        answers = json.loads(response.read())
    errors = [a["error"] for a in answers if "error" in a]
    if errors:
        raise RuntimeError(f"JSON-RPC batch errors: {errors[:3]}")
    return [a["result"] for a in sorted(answers, key=lambda a: a["id"])]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1_000, help="paid ETH orders")
    parser.add_argument("--tokens", type=int, default=20, help="USDT orders per token case")
    parser.add_argument("--confirmations", type=int, default=2, help="FLUXA_SETTLEMENT_CONFIRMATIONS")
    parser.add_argument("--no-doc", action="store_true", help="print the section, do not write the doc")
    parser.add_argument("--profile", action="store_true", help="cProfile the ETH settlements (prints the top)")
    parser.add_argument("--note", default="", help="a sentence added at the end of the section")
    args = parser.parse_args()
    wall_started = time.monotonic()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fluxa_site.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("FLUXA_WALLET_MNEMONIC", BENCH_MNEMONIC)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from eth_account import Account
    from web3 import Web3

    from chains.adapters.evm import EvmAdapter
    from charges.models import Channel
    from charges.services import charge_create
    from charges.watching import network_scan
    from merchants.services import merchant_create, payout_address_set
    from orders.models import Order
    from settlements import keys
    from settlements.models import Outbound, Settlement
    from settlements.tasks import advance_outbounds, plan_settlements
    from testing.anvil import TEST_TOKEN_ARTIFACT, start_anvil
    from wallets.services import wallet_root_ensure

    call_command("migrate", "--noinput", "-v", "0")
    node = start_anvil(chain_id=1)  # Ethereum mainnet's id: settled in live mode
    try:
        w3 = Web3(Web3.HTTPProvider(node.url))
        payer = Account.from_key(node.private_keys[0])
        nonce = w3.eth.get_transaction_count(payer.address)
        fees = {"chainId": 1, "maxFeePerGas": 2 * 10**10, "maxPriorityFeePerGas": 10**9}

        def signed(tx) -> str:
            nonlocal nonce
            tx = {**fees, "from": payer.address, "nonce": nonce, **tx}
            nonce += 1
            return "0x" + bytes(payer.sign_transaction(tx).raw_transaction).hex()

        def send_one(tx) -> dict:
            txid = w3.eth.send_raw_transaction(signed(tx))
            receipt = w3.eth.wait_for_transaction_receipt(txid)
            assert receipt.status == 1
            return receipt

        def send_many(txs: list[dict]) -> None:
            node.rpc("evm_setAutomine", [False])
            try:
                for start in range(0, len(txs), 200):
                    _rpc_batch(node.url, [("eth_sendRawTransaction", [signed(tx)]) for tx in txs[start:start + 200]])
                    node.rpc("evm_mine")
            finally:
                node.rpc("evm_setAutomine", [True])

        artifact = json.loads(TEST_TOKEN_ARTIFACT.read_text())
        contract = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        receipt = send_one(contract.constructor().build_transaction({**fees, "from": payer.address, "nonce": nonce,
                                                                     "gas": 3_000_000}))
        token = w3.eth.contract(address=receipt.contractAddress, abi=artifact["abi"])

        def token_tx(to: str, units: int) -> dict:
            return {"to": token.address, "gas": 100_000,
                    "data": "0xa9059cbb" + to.lower()[2:].rjust(64, "0") + hex(units)[2:].rjust(64, "0")}

        send_one({"to": token.address, "gas": 200_000,
                  "data": token.encode_abi("mint", args=[payer.address, 10**15])})

        # -- the bare references, same node, same run ---------------------------------------------
        plain = send_one({"to": Account.create().address, "value": 10**15, "gas": 21_000}).gasUsed
        bare_fresh = send_one(token_tx(Account.create().address, 10**6)).gasUsed
        holder = Account.create().address
        send_one(token_tx(holder, 10**6))
        bare_holder = send_one(token_tx(holder, 10**6)).gasUsed

        # -- fluxa: configuration, merchant, orders ------------------------------------------------
        operator = Account.create().address.lower()
        merchant_payout = Account.create().address.lower()
        settings.FLUXA_CHAINS = {"ethereum": {"live": node.url}}
        settings.FLUXA_PLATFORM_ADDRESSES = {"ethereum": operator}
        settings.FLUXA_SETTLEMENT_REORG_MARGIN = {"ethereum": 0}
        settings.FLUXA_SETTLEMENT_CONFIRMATIONS = {"ethereum": args.confirmations}
        settings.FLUXA_SETTLEMENT_COST_LIMITS = {}
        settings.FLUXA_CHANNEL_CACHE_SECONDS = 0
        Channel.objects.filter(code="usdt_erc20").update(token_contract=token.address, required_confirmations=1)
        Channel.objects.filter(code="eth").update(required_confirmations=1)
        wallet_root_ensure()
        merchant, _ = merchant_create(name="Settlement Bench", email=f"settle-{time.time_ns()}@example.com")
        payout_address_set(merchant=merchant, mode="live", network="ethereum", address=merchant_payout)
        adapter = EvmAdapter(network="ethereum", mode="live", rpc_url=node.url, timeout=60)
        network_scan(adapter=adapter, start_back=0)
        fee_payer = keys.fee_payer_address(network="ethereum", mode="live")
        send_one({"to": fee_payer, "value": 10 * WEI, "gas": 21_000})

        def charges(count: int, data: dict) -> list[Order]:
            return [charge_create(merchant=merchant, mode="live", data=dict(data), actor="bench").order
                    for _ in range(count)]

        def scan_all() -> None:
            head = w3.eth.block_number
            while True:
                result = network_scan(adapter=adapter)
                if result.to_block is None or result.to_block >= head:
                    return

        def settle(orders: list[Order]) -> tuple[float, int, float]:
            """Beat rounds until every order's settlement is confirmed: (seconds, rounds, CPU s)."""
            ids = [o.pk for o in orders]
            started, cpu0 = time.perf_counter(), time.process_time()
            rounds = 0
            while True:
                rounds += 1
                plan_settlements()
                advance_outbounds()
                if Settlement.objects.filter(order_id__in=ids, status="confirmed").count() == len(ids):
                    return time.perf_counter() - started, rounds, time.process_time() - cpu0
                stuck = Settlement.objects.filter(order_id__in=ids, status__in=["failed", "needs_review", "held"])
                if stuck.exists():
                    raise RuntimeError(f"settlement {stuck.first().id} is {stuck.first().status}: "
                                       f"{stuck.first().reason}")
                if rounds > 10 * len(ids) + 50:
                    raise RuntimeError("settlements do not converge")
                node.rpc("evm_mine")

        started = time.monotonic()
        eth_orders = charges(args.orders, {"amount": Decimal("0.05"), "currency": "ETH", "channel": "eth"})
        send_many([{"to": Web3.to_checksum_address(o.deposit_address), "value": 5 * 10**16, "gas": 21_000}
                   for o in eth_orders])
        node.rpc("evm_mine")
        scan_all()
        assert Order.objects.filter(pk__in=[o.pk for o in eth_orders], status="paid").count() == args.orders
        setup_seconds = time.monotonic() - started
        print(f"{args.orders} ETH orders paid and seen paid ({setup_seconds:.0f} s)", flush=True)

        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
        eth_seconds, eth_rounds, eth_cpu = settle(eth_orders)
        if args.profile:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        print(f"{args.orders} ETH settlements confirmed in {eth_seconds:.1f} s, {eth_rounds} beat rounds", flush=True)

        scan_all()  # the scanner ran meanwhile in a deployment: a network not scanned lately takes no charges
        topup_orders = charges(args.tokens, {"amount": Decimal("25"), "currency": "USDT", "channel": "usdt_erc20"})
        funded_orders = charges(args.tokens, {"amount": Decimal("25"), "currency": "USDT", "channel": "usdt_erc20"})
        send_many([token_tx(o.deposit_address, 25 * 10**6) for o in topup_orders + funded_orders]
                  + [{"to": Web3.to_checksum_address(o.deposit_address), "value": 10**16, "gas": 21_000}
                     for o in funded_orders])
        node.rpc("evm_mine")
        scan_all()
        token_seconds, token_rounds, _ = settle(topup_orders + funded_orders)  # planned together by the beat

        # -- what the chain says ------------------------------------------------------------------
        def gas_of(orders: list[Order]) -> list[int]:
            settlements = list(Settlement.objects.filter(order_id__in=[o.pk for o in orders]))
            outbounds = list(Outbound.objects.filter(legs__settlement__in=settlements).exclude(txid="")
                             .values_list("legs__settlement_id", "txid"))
            receipts = _rpc_batch(node.url, [("eth_getTransactionReceipt", [txid]) for _, txid in outbounds])
            per: dict[str, int] = {}
            for (settlement_id, _), receipt in zip(outbounds, receipts):
                assert int(receipt["status"], 16) == 1
                per[settlement_id] = per.get(settlement_id, 0) + int(receipt["gasUsed"], 16)
            assert len(per) == len(settlements)
            return list(per.values())

        def lost(orders: list[Order]) -> tuple[Decimal, Decimal, Decimal]:
            settlements = list(Settlement.objects.filter(order_id__in=[o.pk for o in orders]))
            gross = sum((s.gross for s in settlements), Decimal(0))
            cost = sum((s.network_cost for s in settlements), Decimal(0))
            left = sum(Decimal(w3.eth.get_balance(Web3.to_checksum_address(o.deposit_address))) / WEI
                       for o in orders)
            return gross, cost, left

        eth_gas = gas_of(eth_orders)
        topup_gas = gas_of(topup_orders)
        funded_gas = gas_of(funded_orders)
        eth_gross, eth_cost, eth_left = lost(eth_orders)
        _, topup_cost, _ = lost(topup_orders)
        _, funded_cost, _ = lost(funded_orders)
        settled_eth = Settlement.objects.filter(order_id__in=[o.pk for o in eth_orders])
        merchant_got = Decimal(w3.eth.get_balance(Web3.to_checksum_address(merchant_payout))) / WEI
        assert merchant_got == sum((s.amount for s in settled_eth), Decimal(0)), "the payout address disagrees"
        operator_got = Decimal(w3.eth.get_balance(Web3.to_checksum_address(operator))) / WEI
        assert operator_got == sum((s.fee for s in settled_eth), Decimal(0)), "the operator address disagrees"
        base_fee = w3.eth.get_block("latest")["baseFeePerGas"]
        prices = [int(r["effectiveGasPrice"], 16) for r in _rpc_batch(node.url, [
            ("eth_getTransactionReceipt", [t]) for t in Outbound.objects.filter(
                legs__settlement__in=settled_eth).exclude(txid="").values_list("txid", flat=True)[:200]])]
    finally:
        node.stop()

    per_minute = args.orders / eth_seconds * 60
    eth_gas_median = statistics.median(eth_gas)
    topup_median, funded_median = statistics.median(topup_gas), statistics.median(funded_gas)
    price = statistics.median(prices)
    section = "\n".join([
        BEGIN,
        "## Settlements (EVM)",
        "",
        f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} cores (shared with other work), Python {platform.python_version()}: "
        "`bash bench/run_settlements.sh` (bench/settlements.py; private PostgreSQL with bench/services.sh's durable "
        f"settings, anvil from scripts/nodes.sh with automine, all on 127.0.0.1; whole run "
        f"{time.monotonic() - wall_started:.0f} s).",
        "",
        f"Workload: {args.orders:,} live ETH orders of 0.05 ETH made by the charge service (derived deposit "
        "addresses), each paid by a real transfer and seen paid by the scanner; then the beat jobs in one process, "
        "one thread (`plan_settlements()`, `advance_outbounds()`, one block mined per round; "
        f"{args.confirmations} confirmations per outgoing transfer, reorg margin 0). Every settlement is a net "
        "transfer to the merchant and a fee transfer to the operator (nonce + 1, after the net is confirmed).",
        "",
        "| measure | result |",
        "|---|---|",
        f"| {args.orders:,} ETH settlements confirmed | {eth_seconds:.1f} s, {eth_rounds} beat rounds "
        f"(CPU {eth_cpu:.1f} s in the beat process) |",
        f"| **settlements confirmed per minute** | **{per_minute:,.0f}** |",
        f"| {2 * args.tokens} USDT settlements ({args.tokens} with a gas top-up, {args.tokens} without: the deposit "
        f"held gas) | {token_seconds:.1f} s, {token_rounds} beat rounds |",
        "",
        "Gas per settlement (sum of gasUsed of its landed transactions, median; all settlements of a kind used "
        "the same gas unless a range is shown: the top of a range is the first token transfers to the merchant's "
        f"and the operator's still empty token balances, which cost {bare_fresh - bare_holder:,} gas more each), against the bare "
        "transfers sent in the same run:",
        "",
        "| settlement | gas | transactions | bare reference |",
        "|---|---|---|---|",
        f"| ETH native (net + fee) | {eth_gas_median:,.0f}{_range(eth_gas)} | 2 × 21,000 | a plain transfer: "
        f"{plain:,} ({eth_gas_median / plain:.2f}×) |",
        f"| USDT with top-up (top-up + net + fee) | {topup_median:,.0f}{_range(topup_gas)} | 21,000 + 2 token "
        f"transfers | a bare token transfer: {bare_fresh:,} to a fresh address, {bare_holder:,} to a holder "
        f"({topup_median / bare_fresh:.2f}× the fresh one) |",
        f"| USDT without top-up (net + fee) | {funded_median:,.0f}{_range(funded_gas)} | 2 token transfers | "
        f"{funded_median / bare_fresh:.2f}× a bare transfer to a fresh address |",
        "",
        f"Value lost to the network (what the chain charged, gasUsed × effectiveGasPrice, at this node's prices: "
        f"median effective gas price {price / 10**9:.3f} gwei, base fee {base_fee / 10**9:.3f} gwei at the end): "
        f"ETH settlements {eth_cost:.8f} of {eth_gross:.2f} ETH gross = "
        f"**{eth_cost / eth_gross:.4%}** ({eth_cost / args.orders:.10f} ETH each); USDT settlements "
        f"{topup_cost / args.tokens:.10f} ETH each with the top-up (paid by the operator's fee payer), "
        f"{funded_cost / args.tokens:.10f} ETH each without. At 20 gwei the ETH settlement's "
        f"{eth_gas_median:,.0f} gas would cost {Decimal(int(eth_gas_median) * 20) / 10**9:.5f} ETH, "
        f"{Decimal(int(eth_gas_median) * 20) / 10**9 / Decimal('0.05'):.2%} of a 0.05 ETH order.",
        "",
        f"What the fee caps did not use (maxFeePerGas is 2 × base fee + tip; the chain charges base fee + tip) stays "
        f"on the deposit addresses: {eth_left:.8f} ETH over the {args.orders:,} ETH deposits "
        f"({eth_left / eth_gross:.4%} of the gross), for the operator to sweep later. The merchant's payout address "
        f"and the operator's address were checked on the chain against the settlements' amounts and fees.",
        *(["", args.note] if args.note else []),
        END,
    ])
    if not args.no_doc:
        write_section(DOC, BEGIN, END, section)
    print(section)
    return 0


def _range(values: list[int]) -> str:
    low, high = min(values), max(values)
    return "" if low == high else f" ({low:,}–{high:,})"


if __name__ == "__main__":
    sys.exit(main())
