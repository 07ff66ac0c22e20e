"""Scan throughput (transfers matched per second) with 1,000 and with 100,000 watched addresses.

Run: `bash bench/run_scan.sh` (private PostgreSQL + Redis via bench/services.sh, anvil via
scripts/nodes.sh; everything on 127.0.0.1).

1. A real anvil node; the test token (testing/artifacts/TestStablecoin.json) is deployed
   and wired in as the live usdt_erc20 contract, exactly as tests/test_chain_evm.py does.
2. One merchant and the PAID deposit addresses (1,000 by default: 800 for usdt_erc20 orders,
   200 for eth orders), each with a real live order, written with bulk_create (state
   "assigned"; the addresses are random 20-byte addresses: derivation is not what is measured).
3. One on-chain workload, made once: BLOCKS blocks (automine off, pre-signed transactions sent
   as one JSON-RPC batch per block, then `evm_mine`), each with token transfers and ether
   transfers to those addresses and to addresses nobody watches, then a few empty blocks.
4. Measured: `charges.watching.network_scan` (the scanner, then the orders it touched) over the whole range in one pass (the cursor,
   transfers, scanned blocks, order states and events are reset before each pass), REPEATS
   times per configuration, median taken. Then filler addresses (each with its own assigned
   order, as a busy deployment has) are added up to 100,000 watched, and the same passes run
   again on the same blocks. The time split inside a pass comes from timing wrappers put around
   the scanner's own steps (`_watch`, `adapter.scan`, `_record`, `_confirm`,
   `orders_apply_transfers`) for the duration of the run; no app code is changed.
5. Also per configuration: `adapter.scan` alone over the same range with the same Watch, once
   right before each pass (so each reference runs in the conditions of the pass it is compared
   with; the ratio is the medians'), and building the watch set (`_watch`) alone, with its
   Python memory (tracemalloc) measured once.

The result replaces the "Scan throughput" section of docs/benchmarks.md (between markers).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import resource
import statistics
import sys
import time
import tracemalloc
import urllib.request
from decimal import Decimal
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.report import write_section  # noqa: E402  (the repo root is on the path now)
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- scan:begin -->", "<!-- scan:end -->"
TOKEN_UNITS = 10_000_000  # 10 USDT (6 decimals) per token transfer
WEI = 10**16  # 0.01 ETH per ether transfer
ROOT_FINGERPRINT = "b0000000"


class Timers:
    """Cumulative seconds per scanner step, filled by the wrappers below."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.seconds: dict[str, float] = {}

    def wrap(self, name, fn):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
        return timed


def _rpc_batch(url: str, calls: list[tuple[str, list]]) -> list:
    body = json.dumps([{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)])
    request = urllib.request.Request(url, data=body.encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        answers = json.loads(response.read())
    errors = [a["error"] for a in answers if "error" in a]
    if errors:
        raise RuntimeError(f"JSON-RPC batch errors: {errors[:3]}")
    return [a["result"] for a in sorted(answers, key=lambda a: a["id"])]


def _address(rng: random.Random) -> str:
    return "0x" + rng.randbytes(20).hex()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=1_000, help="watched addresses, first configuration")
    parser.add_argument("--large", type=int, default=100_000, help="watched addresses, second configuration")
    parser.add_argument("--blocks", type=int, default=60, help="blocks with transfers")
    parser.add_argument("--token-per-block", type=int, default=20, help="token transfers to watched addresses")
    parser.add_argument("--eth-per-block", type=int, default=5, help="ether transfers to watched addresses")
    parser.add_argument("--token-other-per-block", type=int, default=10, help="token transfers to unwatched")
    parser.add_argument("--eth-other-per-block", type=int, default=5, help="ether transfers to unwatched")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-doc", action="store_true", help="print the section, do not write the doc")
    parser.add_argument("--sql", action="store_true", help="print each measured pass's slowest statements")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of each measured pass (slows it)")
    args = parser.parse_args()
    wall_started = time.monotonic()
    load_before = os.getloadavg()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fluxa_site.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone
    from eth_account import Account
    from web3 import Web3

    from chains.adapters.evm import EvmAdapter
    from charges import watching
    from charges.models import Channel
    from merchants.services import merchant_create
    from orders.models import Order, OrderEvent
    from testing.anvil import TEST_TOKEN_ARTIFACT, start_anvil
    from fluxa_site.celery import freeze_startup_heap
    from wallets import scanning
    from wallets.models import ChainCursor, DepositAddress, ScannedBlock, Transfer
    from webhooks.models import Event

    call_command("migrate", "--noinput", "-v", "0")
    rng = random.Random(20240605)
    timers = Timers()
    node = start_anvil(chain_id=1)  # Ethereum mainnet's id: the bench scans it in live mode
    try:
        # -- the chain: token, workload ------------------------------------------------------
        started = time.monotonic()
        artifact = json.loads(TEST_TOKEN_ARTIFACT.read_text())
        payer = Account.from_key(node.private_keys[0])
        w3 = Web3(Web3.HTTPProvider(node.url))
        chain_id = w3.eth.chain_id
        nonce = w3.eth.get_transaction_count(payer.address)
        fees = {"chainId": chain_id, "maxFeePerGas": 2 * 10**10, "maxPriorityFeePerGas": 10**9}

        def signed(tx) -> str:
            nonlocal nonce
            tx = {**fees, "from": payer.address, "nonce": nonce, **tx}
            nonce += 1
            return "0x" + bytes(payer.sign_transaction(tx).raw_transaction).hex()

        contract = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        deploy = contract.constructor().build_transaction({**fees, "from": payer.address, "nonce": nonce,
                                                           "gas": 3_000_000})
        nonce += 1
        receipt = w3.eth.wait_for_transaction_receipt(
            w3.eth.send_raw_transaction(payer.sign_transaction(deploy).raw_transaction))
        assert receipt.status == 1
        token_address = receipt.contractAddress
        token = w3.eth.contract(address=token_address, abi=artifact["abi"])
        total_units = TOKEN_UNITS * args.blocks * (args.token_per_block + args.token_other_per_block)
        mint = token.functions.mint(payer.address, total_units).build_transaction(
            {**fees, "from": payer.address, "nonce": nonce, "gas": 200_000})
        nonce += 1
        assert w3.eth.wait_for_transaction_receipt(
            w3.eth.send_raw_transaction(payer.sign_transaction(mint).raw_transaction)).status == 1

        n_token_addresses = max(1, round(args.small * 0.8))
        paid = [_address(rng) for _ in range(args.small)]
        token_paid, eth_paid = paid[:n_token_addresses], paid[n_token_addresses:] or paid[:1]

        def transfer_data(to: str, units: int) -> str:
            return "0xa9059cbb" + to[2:].rjust(64, "0") + hex(units)[2:].rjust(64, "0")

        blocks_txs: list[list[str]] = []
        k_token = k_eth = 0
        for _ in range(args.blocks):
            txs = []
            for _ in range(args.token_per_block):
                to = token_paid[k_token % len(token_paid)]
                k_token += 1
                txs.append(signed({"to": token_address, "data": transfer_data(to, TOKEN_UNITS), "gas": 100_000}))
            for _ in range(args.token_other_per_block):
                txs.append(signed({"to": token_address, "data": transfer_data(_address(rng), TOKEN_UNITS),
                                   "gas": 100_000}))
            for _ in range(args.eth_per_block):
                to = eth_paid[k_eth % len(eth_paid)]
                k_eth += 1
                txs.append(signed({"to": Web3.to_checksum_address(to), "value": WEI, "gas": 21_000}))
            for _ in range(args.eth_other_per_block):
                txs.append(signed({"to": Web3.to_checksum_address(_address(rng)), "value": WEI, "gas": 21_000}))
            rng.shuffle(txs)  # the nonce orders them in the block anyway
            blocks_txs.append(txs)

        node.rpc("evm_setAutomine", [False])
        first_block = node.block_number() + 1
        for txs in blocks_txs:
            _rpc_batch(node.url, [("eth_sendRawTransaction", [tx]) for tx in txs])
            node.rpc("evm_mine")
        node.rpc("anvil_mine", [hex(5)])  # a few confirmations on top
        last_block = node.block_number()
        per_block = args.token_per_block + args.token_other_per_block + args.eth_per_block + args.eth_other_per_block
        for number in (first_block, first_block + args.blocks - 1):
            count = len(w3.eth.get_block(number)["transactions"])
            assert count == per_block, f"block {number} has {count} transactions, expected {per_block}"
        hashes = ["0x" + bytes(h).hex() for n in range(first_block, first_block + args.blocks)
                  for h in w3.eth.get_block(n)["transactions"]]
        receipts = _rpc_batch(node.url, [("eth_getTransactionReceipt", [h]) for h in hashes])
        assert {int(r["status"], 16) for r in receipts} == {1}, "a workload transaction failed"
        expected = args.blocks * (args.token_per_block + args.eth_per_block)
        chain_setup = time.monotonic() - started
        print(f"chain: blocks {first_block}..{last_block}, {args.blocks * per_block} transactions, "
              f"{expected} to watched addresses ({chain_setup:.1f} s)", flush=True)

        # -- the database: merchant, orders, deposit addresses ---------------------------------
        settings.FLUXA_CHAINS = {"ethereum": {"live": node.url}}
        Channel.objects.filter(code="usdt_erc20").update(token_contract=token_address, required_confirmations=3)
        Channel.objects.filter(code="eth").update(required_confirmations=3)
        channels = {c.code: c for c in Channel.objects.filter(code__in=["usdt_erc20", "eth"])}
        merchant, _ = merchant_create(name="Scan Bench", email="scan-bench@example.com")
        next_index = 0

        def add_watched(addresses: list[str], channel_code: str) -> list[str]:
            nonlocal next_index
            channel = channels[channel_code]
            due = Decimal("25") if channel_code == "usdt_erc20" else Decimal("0.025")
            now = timezone.now()
            ids = []
            for start in range(0, len(addresses), 5000):
                chunk = addresses[start:start + 5000]
                orders_ = Order.objects.bulk_create([
                    Order(merchant=merchant, mode="live", channel=channel, network="ethereum",
                          settlement_mode=channel.settlement_mode, amount=due, currency=channel.asset,
                          asset=channel.asset, amount_due=due, deposit_address=address)
                    for address in chunk])
                DepositAddress.objects.bulk_create([
                    DepositAddress(network="ethereum", mode="live", address=address,
                                   derivation_index=next_index + i, root_fingerprint=ROOT_FINGERPRINT,
                                   order=order, state="assigned", assigned_at=now)
                    for i, (address, order) in enumerate(zip(chunk, orders_))])
                next_index += len(chunk)
                ids += [o.pk for o in orders_]
            return ids

        started = time.monotonic()
        paid_orders = add_watched(token_paid, "usdt_erc20") + add_watched(
            [a for a in eth_paid if a not in set(token_paid)], "eth")
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
        adapter = EvmAdapter(network="ethereum", mode="live", rpc_url=node.url, timeout=60)

        # -- the timing wrappers (module attributes, for this process only) -------------------
        scanning._watch = timers.wrap("watch", scanning._watch)
        scanning._record = timers.wrap("record", scanning._record)
        scanning._confirm = timers.wrap("confirm", scanning._confirm)
        watching.orders_apply_transfers = timers.wrap("apply", watching.orders_apply_transfers)
        adapter.scan = timers.wrap("adapter_scan", adapter.scan)

        def reset() -> None:
            Transfer.objects.filter(network="ethereum", mode="live").delete()
            ScannedBlock.objects.filter(network="ethereum", mode="live").delete()
            ChainCursor.objects.filter(network="ethereum", mode="live").delete()
            DepositAddress.objects.filter(network="ethereum", mode="live", state="used").update(state="assigned")
            OrderEvent.objects.filter(order_id__in=paid_orders).delete()
            Event.objects.filter(merchant=merchant).delete()
            Order.objects.filter(pk__in=paid_orders).update(
                status="created", payment_exception="", amount_received=0, amount_confirmed=0, paid_at=None)

        tables = [m._meta.db_table for m in (Transfer, ScannedBlock, ChainCursor, DepositAddress, Order,
                                             OrderEvent, Event)]

        def settle() -> None:
            """No background work left over from the setup or the previous pass (autovacuum of
            the freshly inserted rows, a checkpoint) lands inside a measured pass."""
            with connection.cursor() as cur:
                cur.execute(f"VACUUM ANALYZE {', '.join(tables)}")
                cur.execute("CHECKPOINT")

        def measure(watched: int) -> dict:
            freeze_startup_heap()  # as each worker process does (fluxa_site/celery.py)
            assert DepositAddress.objects.filter(network="ethereum", mode="live").count() == watched
            reset()
            watching.network_scan(adapter=adapter, start_back=last_block - first_block,
                                 batch=last_block - first_block + 1)  # warm-up, not counted
            passes = []
            # The adapter alone over the same range with the same Watch, right before each pass
            # (same machine conditions as the pass it is compared with).
            watch, _ = scanning._watch(adapter, watching.watched_assets(network="ethereum", mode="live"))
            assert len(watch.addresses) == watched
            scan_alone = []
            for _ in range(args.repeats):
                reset()
                settle()
                t0 = time.perf_counter()
                observed = adapter.scan(from_block=first_block, to_block=last_block, watch=watch)
                scan_alone.append(time.perf_counter() - t0)
                assert len(observed) == expected
                del observed
                timers.reset()
                cpu0, t0 = time.process_time(), time.perf_counter()
                sql_times = []

                def timed_sql(execute, sql, params, many, context):
                    t = time.perf_counter()
                    try:
                        return execute(sql, params, many, context)
                    finally:
                        sql_times.append((time.perf_counter() - t, sql[:110]))
                profiler = None
                if args.profile:
                    import cProfile
                    profiler = cProfile.Profile()
                    profiler.enable()
                with connection.execute_wrapper(timed_sql):
                    result = watching.network_scan(adapter=adapter, start_back=last_block - first_block,
                                                   batch=last_block - first_block + 1)
                if profiler is not None:
                    import pstats
                    profiler.disable()
                    profiler.dump_stats("/tmp/scan.prof")
                    pstats.Stats(profiler).sort_stats("tottime").print_stats(35)
                    pstats.Stats(profiler).sort_stats("cumulative").print_stats(60)
                if args.sql:
                    for took, sql in sorted(sql_times, reverse=True)[:15]:
                        print(f"    sql {took * 1000:7.1f} ms  {sql}")
                elapsed = time.perf_counter() - t0
                cpu = time.process_time() - cpu0
                sql_seconds, statements = sum(t for t, _ in sql_times), len(sql_times)
                assert (result.from_block, result.to_block) == (first_block, last_block), result
                matched = Transfer.objects.filter(network="ethereum", mode="live").count()
                assert matched == result.recorded == expected, (matched, result.recorded, expected)
                passes.append({"seconds": elapsed, "cpu": cpu, "matched": matched, "orders": len(result.orders),
                               "sql": sql_seconds, "statements": statements,
                               **{k: v for k, v in timers.seconds.items()}})
                print(f"  {watched} watched: pass {elapsed:.2f} s (CPU {cpu:.2f} s), {matched} matched, "
                      f"{statements} statements {sql_seconds:.2f} s, "
                      + ", ".join(f"{k} {v:.2f}" for k, v in timers.seconds.items()), flush=True)
            # Keeping up: the cursor one block below the head (an empty block), the transfers above
            # already recorded, as in a scanner that runs every 10 s.
            keeping_up = []
            below = adapter.block(last_block - 1)
            for _ in range(args.repeats):
                settle()
                ChainCursor.objects.filter(network="ethereum", mode="live").update(
                    last_block=below.number, last_block_hash=below.hash)
                timers.reset()
                t0 = time.perf_counter()
                result = watching.network_scan(adapter=adapter)
                keeping_up.append((time.perf_counter() - t0, timers.seconds.get("watch", 0.0)))
                assert (result.from_block, result.to_block, result.recorded) == (last_block, last_block, 0), result
            # The watch set alone.
            watch_alone = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                scanning._watch(adapter, watching.watched_assets(network="ethereum", mode="live"))
                watch_alone.append(time.perf_counter() - t0)
            del watch
            tracemalloc.start()
            scanning._watch(adapter, watching.watched_assets(network="ethereum", mode="live"))
            _, watch_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            median = sorted(passes, key=lambda p: p["seconds"])[len(passes) // 2]  # its split adds up
            return {
                "watched": watched, "passes": passes, "seconds": median["seconds"], "cpu": median["cpu"],
                "all": [p["seconds"] for p in passes], "sql": median["sql"], "statements": median["statements"],
                "split": {k: median.get(k, 0.0) for k in ("adapter_scan", "watch", "record", "confirm", "apply")},
                "keep": statistics.median(k for k, _ in keeping_up),
                "keep_watch": statistics.median(w for _, w in keeping_up),
                "scan_alone": statistics.median(scan_alone), "watch_alone": statistics.median(watch_alone),
                "watch_peak_mb": watch_peak / 2**20, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }

        results = [measure(args.small)]
        small_setup = time.monotonic() - started
        started = time.monotonic()
        filler = [_address(rng) for _ in range(args.large - args.small)]
        add_watched(filler, "usdt_erc20")
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
        large_setup = time.monotonic() - started
        print(f"added {len(filler)} watched addresses with their orders ({large_setup:.1f} s)", flush=True)
        results.append(measure(args.large))
    finally:
        node.stop()

    # -- the report ------------------------------------------------------------------------------
    blocks = last_block - first_block + 1
    small, large = results
    ratio = large["seconds"] / small["seconds"]
    scan_ratio = large["scan_alone"] / small["scan_alone"]
    rest_small = small["seconds"] - small["split"]["watch"]
    rest_large = large["seconds"] - large["split"]["watch"]
    rest_ratio = rest_large / rest_small

    def row(r: dict) -> str:
        s = r["split"]
        other = r["seconds"] - sum(s.values())
        return (f"| {r['watched']:,} | {r['seconds']:.2f} s | {expected / r['seconds']:,.0f} | "
                f"{blocks / r['seconds']:.1f} | {s['adapter_scan']:.2f} | {s['watch']:.3f} | {s['record']:.2f} | "
                f"{s['confirm']:.2f} | {s['apply']:.2f} | {other:.2f} | {r['scan_alone']:.2f} s | "
                f"**{r['seconds'] / r['scan_alone']:.2f}×** | {r['statements']} ({r['sql']:.2f} s) | "
                f"{r['watch_alone'] * 1000:.0f} ms / {r['watch_peak_mb']:.1f} MB | {r['maxrss_mb']:.0f} MB | "
                f"{r['keep'] * 1000:.0f} ms ({r['keep_watch'] * 1000:.0f} ms `_watch`) |")

    flat = rest_ratio <= 1.10 and scan_ratio <= 1.10
    if flat:
        verdict = (f"**Scanning blocks and matching transfers does not grow with the number of watched addresses "
                   f"(within 10 %, run-to-run noise on this machine)**: "
                   f"over the same {blocks} blocks and {expected:,} matched transfers, the pass without building "
                   f"the watch set takes {rest_ratio:.2f}× as long with {args.large:,} watched addresses as with "
                   f"{args.small:,}, and `adapter.scan` alone {scan_ratio:.2f}× (medians of {args.repeats}); the "
                   f"whole pass {ratio:.2f}×.")
    else:
        verdict = (f"**The cost grows with the number of watched addresses**: over the same {blocks} blocks, the "
                   f"pass without building the watch set takes {rest_ratio:.2f}× as long with {args.large:,} "
                   f"watched addresses as with {args.small:,}, `adapter.scan` alone {scan_ratio:.2f}×, the whole "
                   f"pass {ratio:.2f}× (medians of {args.repeats}).")
    watch_note = (f"The watch set (`_watch`) is built once per process and (network, mode) and then extended "
                  f"with the deposit addresses added since the last pass (one indexed query), so a pass does not "
                  f"read the watched addresses again: `_watch` takes {small['watch_alone'] * 1000:.0f} ms with "
                  f"{args.small:,} and {large['watch_alone'] * 1000:.0f} ms with {args.large:,} addresses once "
                  f"built. The first build in a process is linear in the addresses and is not measured separately "
                  f"here (it happens in the unmeasured warm-up pass). A scanner that keeps up runs a pass every 10 s over one new block: that "
                  f"pass (last column; one empty block, the {expected:,} transfers above already recorded and "
                  f"checked for confirmations) takes {small['keep'] * 1000:.0f} ms with {args.small:,} watched "
                  f"addresses and {large['keep'] * 1000:.0f} ms with {args.large:,}, of which `_watch` is "
                  f"{small['keep_watch'] * 1000:.0f} ms and {large['keep_watch'] * 1000:.0f} ms: there the watch "
                  f"set is {large['keep_watch'] / large['keep']:.0%} of the pass at {args.large:,} addresses.")
    load_after = os.getloadavg()
    best = max(expected / r["seconds"] for r in results)
    worst_ratio = max(r["seconds"] / r["scan_alone"] for r in results)
    rates = ", ".join(f"{expected / r['seconds']:,.0f}" for r in results)
    ratios = ", ".join(f"{r['seconds'] / r['scan_alone']:.2f}×" for r in results)
    fastest_node = min(r["scan_alone"] for r in results)
    machine = ("Nothing else ran on the machine when the run started" if load_before[0] < 1.0 else
               "**The machine was shared** (2 cores, other work at the same time)")
    targets = (
        f"Targets (issue 18, section 2): at least 500 matched transfers/s, and the pass within 2× of "
        f"`adapter.scan` alone on the same blocks. Measured: {rates} transfers/s "
        f"({'met' if best >= 500 else 'not met'}), the pass {ratios} `adapter.scan` alone "
        f"({'met' if worst_ratio <= 2 else 'not met'}). {machine}: load average (1, 5, 15 min) "
        f"{', '.join(f'{x:.2f}' for x in load_before)} at the start of the run and "
        f"{', '.join(f'{x:.2f}' for x in load_after)} at the end. `adapter.scan` alone is the reference from "
        f"the same run, measured right before each pass, so the ratio holds under load better than the rate does: the rate is bounded by the "
        f"node side, which takes {fastest_node:.2f} s alone here ({expected / fastest_node:,.0f} transfers/s "
        f"with nothing recorded at all). Before the pass wrote in bulk (2026-11-22, same workload, one row per "
        f"statement): 87-94 transfers/s, a 17.3 s pass of which order apply 10.75 s, `_record` 3.39 s and "
        f"`_confirm` 1.06 s against `adapter.scan` alone 1.90 s (9.1×).")
    section = "\n".join([
        BEGIN,
        "## Scan throughput",
        "",
        f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}: `bash bench/run_scan.sh` (bench/scan.py; private PostgreSQL with "
        "bench/services.sh's durable settings, anvil 1.7.1 from scripts/nodes.sh, all on 127.0.0.1; whole run "
        f"{time.monotonic() - wall_started:.0f} s).",
        "",
        f"Workload, identical for both configurations: {args.blocks} blocks, each with "
        f"{args.token_per_block} test-token (ERC-20) transfers and {args.eth_per_block} ether transfers to watched "
        f"addresses and {args.token_other_per_block} token and {args.eth_other_per_block} ether transfers to "
        f"addresses nobody watches, then 5 empty blocks: {blocks} blocks, {args.blocks * per_block:,} transactions, "
        f"**{expected:,} transfers matched** (to {args.small:,} paid deposit addresses, each with a live order: "
        f"{len(token_paid)} usdt_erc20, {len(eth_paid)} eth). The second configuration adds "
        f"{args.large - args.small:,} watched addresses (each assigned to its own order, never paid). Each pass is one "
        "real `scan_network` over the whole range (cursor, transfers, scanned blocks, order states and events "
        f"reset, then `VACUUM ANALYZE` of the touched tables and a `CHECKPOINT` before it, outside the clock; one "
        f"warm-up pass first): the median of {args.repeats} passes, and the split is that pass's. A pass does "
        "everything the production pass does: "
        f"node calls, recording each transfer, confirmations, and moving the {len(paid_orders):,} orders (pending / "
        "paid, order events, webhook events).",
        "",
        "| watched addresses | pass | transfers matched/s | blocks/s | adapter.scan s | _watch s | _record s "
        "| _confirm s | order apply s | other s | adapter.scan alone | pass / adapter.scan alone "
        "| SQL statements (their time) | _watch alone (time / Python memory) "
        "| peak RSS after | keeping-up pass (1 new block) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        row(small),
        row(large),
        "",
        f"Every measured pass: {args.small:,}: {', '.join(f'{x:.2f}' for x in small['all'])} s; "
        f"{args.large:,}: {', '.join(f'{x:.2f}' for x in large['all'])} s.",
        "",
        f"Ratio {args.large:,} / {args.small:,}: pass {ratio:.2f}×, pass without `_watch` {rest_ratio:.2f}×, "
        f"adapter.scan alone {scan_ratio:.2f}×.",
        "",
        verdict,
        "",
        targets,
        "",
        watch_note,
        "",
        "How the pass splits: `adapter.scan` is the node side (one `eth_getLogs`, one "
        "`eth_getBlockByNumber(n, true)` per block and one receipt per matched ether transfer, sent as "
        "JSON-RPC batches of 20 calls) with the local "
        "matching; `_record` writes the pass's transfers, with their confirmations, in one INSERT ... ON "
        "CONFLICT DO NOTHING and their "
        "addresses' state in one UPDATE; `_confirm` reads the transfers of the reorg window in one query and "
        "writes the changed ones in one UPDATE; order apply (`orders_apply_transfers`) recomputes each touched "
        "order once, in chunks of 500 locked in id order, from one aggregate of their transfers, and writes the "
        "orders, audit rows, payments and webhook events one statement a kind. Only `_watch` reads the watched addresses; every other step is proportional "
        "to blocks and matched transfers. Peak RSS is the process's (ru_maxrss), after the configuration's "
        f"passes; the {args.large:,} row also includes the bulk insert of the filler orders. \"other\" is the rest of "
        "the pass: lease, head, reorg check, block hashes, cursor.",
        END,
    ])
    if not args.no_doc:
        write_section(DOC, BEGIN, END, section)
    print(section)
    print(f"setup: chain {chain_setup:.1f} s, {args.small} watched {small_setup:.1f} s (incl. passes), "
          f"filler {large_setup:.1f} s; total {time.monotonic() - wall_started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
