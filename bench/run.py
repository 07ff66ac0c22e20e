"""The benchmark of docs/benchmarks.md. Run it with `bash bench/run.sh` (which starts a private
PostgreSQL and Redis on free 127.0.0.1 ports and stops them afterwards); this script expects
the environment that bench/services.sh exports.

Steps: migrate; create 100 merchants and COPY the orders (bench/seed.py); VACUUM ANALYZE;
capture the SQL of GET /api/v1/orders for every filter and EXPLAIN (ANALYZE, BUFFERS) it;
start gunicorn (bench/gunicorn.conf.py) with bench.settings; run the load phases, each fluxa
endpoint next to its bare twin (bench/bare.py) in the same run, with the same server; read the
workers' peak memory; stop gunicorn; write docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The BIP39 test vector (Trezor's vectors.json): public, never for real funds.
MNEMONIC = "legal winner thank year wave sausage worth useful legal winner thank yellow"
HOST = "127.0.0.1"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def configure_environment(args) -> None:
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "FLUXA_API_RATE": "None",
        "DEBUG": "false",
        "FLUXA_WALLET_MNEMONIC": MNEMONIC,
        "LOG_LEVEL": "WARNING",
        "BENCH_WORKERS": str(args.workers),
        "BENCH_THREADS": str(args.threads),
        "BENCH_WORKER_CLASS": args.worker_class,
    })


# --- the address pool ------------------------------------------------------------------------


def pool_fill(*, free_target: int) -> dict:
    """Fill the (tron, test) pool to `free_target` free addresses with the real
    wallets.services.deposit_address_pool_replenish (its lock, counter reservations, derivation
    and inserts)."""
    from wallets import services as wallet_services
    from wallets.models import AddressState, DepositAddress, DerivationCounter

    started = time.monotonic()
    created = wallet_services.deposit_address_pool_replenish(network="tron", mode="test", size=free_target)
    free = DepositAddress.objects.filter(network="tron", mode="test", state=AddressState.FREE).count()
    counter = DerivationCounter.objects.filter(network="tron", mode="test").first()
    return {"created": created, "free": free, "next_index": counter.next_index if counter else 0,
            "seconds": time.monotonic() - started}


def pool_state() -> dict:
    from wallets.models import AddressState, DepositAddress, DerivationCounter

    counter = DerivationCounter.objects.filter(network="tron", mode="test").first()
    return {"free": DepositAddress.objects.filter(network="tron", mode="test", state=AddressState.FREE).count(),
            "next_index": counter.next_index if counter else 0}


# --- EXPLAIN of every list filter ----------------------------------------------------------------


def list_filters(bench_merchant_id: str) -> list[tuple[str, str]]:
    """(label, query string) of GET /api/v1/orders, with values that exist for the merchant."""
    from orders.models import Order

    scope = Order.objects.filter(merchant_id=bench_merchant_id, mode="test", deleted_at__isnull=True)
    moids = scope.exclude(merchant_order_id=None).order_by("created_at").values_list("merchant_order_id", flat=True)
    moid = moids[moids.count() // 2]
    recent = scope.order_by("-created_at").first().created_at
    week_to = int((recent - datetime.timedelta(days=30)).timestamp())
    week_from = week_to - 7 * 86400
    person = scope.exclude(customer_email="").order_by("-created_at").first()
    email_local = person.customer_email.split("@")[0]
    surname = person.customer_name.split()[-1].lower()
    return [
        ("no filter (the default page, newest 20)", ""),
        ("status=paid", "status=paid"),
        ("status=pending (rare)", "status=pending"),
        ("merchant_order_id (exact)", f"merchant_order_id={moid}"),
        ("merchant_order_id_prefix", f"merchant_order_id_prefix={moid[:-2]}"),
        ("channel=usdt_erc20", "channel=usdt_erc20"),
        ("network=bitcoin", "network=bitcoin"),
        ("created_from/created_to (7 days, a month ago)", f"created_from={week_from}&created_to={week_to}"),
        ("customer (one person's email)", f"customer={email_local}"),
        ("customer (a common surname)", f"customer={surname}"),
        ("display_status=Action Required", "display_status=action_required"),
        ("display_status=Paid", "display_status=paid"),
        # The seed writes no transfers: this shows the plan's shape (the sender index), not a page.
        ("from_address (an EVM payer; no transfer seeded)",
         "from_address=0x9858EfFD232B4033E47d90003D41EC34EcaEda94"),
    ]


def explain_filters(*, key_id: str, secret: str, merchant_id: str) -> list[dict]:
    """Send GET /api/v1/orders in-process (Django's test client, signed like a merchant), capture
    the SQL the view really runs, and EXPLAIN (ANALYZE, BUFFERS) each statement on the orders
    table (after one warm-up run of the same request)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from testing.client import SignedClient

    client = SignedClient(key_id=key_id, secret=secret, merchant_id=merchant_id, mode="test",
                          client=Client(HTTP_HOST="127.0.0.1"))
    results = []
    for label, query in list_filters(merchant_id):
        client.get("/api/v1/orders", query=query)  # warm the cache
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/api/v1/orders", query=query)
        if response.status_code != 200:
            raise RuntimeError(f"GET /api/v1/orders?{query}: {response.status_code} {response.body}")
        statements = [q["sql"] for q in captured.captured_queries
                      if '"orders_order"' in q["sql"] or "orders_ordercount" in q["sql"]]
        plans = []
        for sql in statements:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                plan = "\n".join(row[0] for row in cursor.fetchall())
            kind = "count" if (sql.lstrip().upper().startswith("SELECT COUNT(")
                               or "orders_ordercount" in sql) else "page"
            plans.append({"kind": kind, "sql": sql, "plan": plan})
        results.append({"label": label, "query": query, "rows": len(response.body["data"]),
                        "total": response.body["total"], "plans": plans})
    return results


def queries_per_request(*, key_id: str, secret: str, merchant_id: str) -> dict[str, list[str]]:
    """The SQL statements (BEGIN/COMMIT/SAVEPOINT included) each benchmarked request sends,
    captured in-process after one warm-up request."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from testing.client import SignedClient

    client = SignedClient(key_id=key_id, secret=secret, merchant_id=merchant_id, mode="test",
                          client=Client(HTTP_HOST="127.0.0.1"))
    out = {}
    for method, path in (("POST", "/api/v1/charges"), ("POST", "/bare/charges"), ("GET", "/api/v1/orders"),
                         ("GET", "/bare/orders")):
        for attempt in range(2):
            body = {"amount": "25.50", "currency": "USDT", "network": "tron",
                    "merchant_order_id": f"QUERIES-{path}-{attempt}"} if method == "POST" else None
            with CaptureQueriesContext(connection) as captured:
                response = client.request(method, path, body)
            if response.status_code not in (200, 201):
                raise RuntimeError(f"{method} {path}: {response.status_code} {response.body}")
        out[f"{method} {path}"] = [q["sql"] for q in captured.captured_queries]
    return out


# --- gunicorn --------------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_gunicorn(port: int) -> subprocess.Popen:
    env = dict(os.environ, BENCH_BIND=f"{HOST}:{port}")
    proc = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "-c", str(ROOT / "bench/gunicorn.conf.py")],
                            cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer /healthz within 60 s")


def stop_gunicorn(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # the master stops its workers
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def memory_kib(pid: int) -> dict:
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmHWM:", "VmRSS:")):
                name, value = line.split(":")
                values[name] = int(value.split()[0])
    return values


# What the phases and the pool fill write: vacuumed before every measured phase.
WRITTEN_TABLES = ("orders_order", "orders_payment", "orders_orderevent", "webhooks_event", "webhooks_delivery",
                  "wallets_depositaddress", "wallets_derivationcounter", "merchants_requestnonce",
                  "orders_ordercount")


def postgres_pids() -> list[int]:
    from bench.load import children

    pidfile = Path(os.environ["BENCH_TMP"]) / "pg/data/postmaster.pid"
    master = int(pidfile.read_text().split()[0])
    return [master, *children(master)]


# --- phases ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds per endpoint")
    parser.add_argument("--rounds", type=int, default=3,
                        help="the measured seconds of each endpoint come in this many segments, fluxa's and "
                             "bare's alternating, so that a drift of the machine's speed touches both")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds before each segment")
    parser.add_argument("--quiet-wait", type=float, default=90.0,
                        help="at most this many seconds of waiting for other processes to calm down before a "
                             "segment (a shorter wait keeps a run on a busy machine inside run.sh's 15 minutes)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    parser.add_argument("--out", default=str(ROOT / "docs/benchmarks.md"))
    parser.add_argument("--json", default="", help="also write the raw results here")
    parser.add_argument("--command", default="bash bench/run.sh", help="(for the report)")
    args = parser.parse_args()
    run_started = time.monotonic()
    # bench/run.sh's timeout sends SIGTERM: unwind, so that gunicorn is stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    configure_environment(args)

    import django

    django.setup()
    from django.core.management import call_command

    from bench import load, report
    from bench.seed import MERCHANTS, seed_orders
    from charges.models import Channel
    from merchants.models import Merchant
    from merchants.services import merchant_create
    from wallets.services import wallet_root_ensure

    log("migrating")
    call_command("migrate", verbosity=0)
    merchant, keys = merchant_create(name="Bench Co", email="ops@bench.example")
    others = Merchant.objects.bulk_create([Merchant(name=f"Shop {i:02d}", email=f"ops@shop{i:02d}.example")
                                           for i in range(1, MERCHANTS)])
    key_id, secret = keys["test"].api_key.key_id, keys["test"].secret
    channels = {c.code: (c.network, c.asset, c.asset_decimals) for c in Channel.objects.all()}
    log(f"seeding {args.orders:,} orders")
    seeded = seed_orders(dsn=os.environ["DATABASE_URL"], bench_merchant=merchant.id,
                         other_merchants=[m.id for m in others], total=args.orders, channels=channels, log=log)
    root = wallet_root_ensure()
    log("EXPLAIN of every list filter")
    plans = explain_filters(key_id=key_id, secret=secret, merchant_id=merchant.id)

    log("filling the (tron, test) address pool (first part)")
    pool_log = [pool_fill(free_target=args.clients * 250)]
    statements = queries_per_request(key_id=key_id, secret=secret, merchant_id=merchant.id)

    port = free_port()
    log(f"starting gunicorn on {HOST}:{port} ({args.workers} {args.worker_class} workers x {args.threads} threads)")
    gunicorn = start_gunicorn(port)
    results: dict[str, load.PhaseResult] = {}
    try:
        workers = load.children(gunicorn.pid)

        redis_pid = int((Path(os.environ["BENCH_TMP"]) / "redis.pid").read_text())

        def cpu_probe() -> dict:
            return {"gunicorn": load.proc_cpu_by_pid([gunicorn.pid, *workers]),
                    "postgres": load.proc_cpu_by_pid(postgres_pids()),
                    "redis": load.proc_cpu_by_pid([redis_pid]),
                    "machine": load.machine_busy_seconds()}

        def settle() -> None:
            """Before a measured phase: vacuum what the previous phases and the pool fill wrote and
            checkpoint, so that neither side pays for the other's autovacuum or dirty pages."""
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute("VACUUM (ANALYZE) " + ", ".join(WRITTEN_TABLES))
                cursor.execute("CHECKPOINT")

        def phase(name: str, expect: int, make, warmup=None, duration=None, measured=True) -> load.PhaseResult:
            if measured:
                settle()
            load.wait_for_quiet(own_pids=[gunicorn.pid, *workers, *postgres_pids(), redis_pid], log=log,
                                max_wait=args.quiet_wait)
            log(f"phase {name}: {args.clients} clients, {warmup if warmup is not None else args.warmup:g} s "
                f"warm-up + {duration or args.duration:g} s")
            result = load.run_phase(name=name, host=HOST, port=port, clients=args.clients,
                                    warmup=args.warmup if warmup is None else warmup,
                                    duration=duration or args.duration, next_request=make, expect=expect,
                                    cpu_probe=cpu_probe)
            log(f"  {result.rps:.0f} req/s, p50 {result.p50:.1f} ms, p99 {result.p99:.1f} ms, "
                f"{result.errors} errors, CPU % client {result.client_cpu_percent:.0f} "
                + " ".join(f"{k} {v:.0f}" for k, v in result.server_cpu.items())
                + (f"; first error {result.first_error}" if result.first_error else ""))
            return result

        def get_requests(path: str):
            ts = int(time.time())
            raw = load.build_request(host=HOST, port=port, method="GET", target=path, key_id=key_id,
                                     secret=secret, timestamp=ts)
            return lambda c, n: raw

        def post_requests(path: str, tag: str, per_client: int):
            ts = int(time.time())

            def make(c: int, n: int) -> bytes:
                body = load.charge_body(f"BENCH-{tag}-{c}-{n:06d}")
                return load.build_request(host=HOST, port=port, method="POST", target=path, key_id=key_id,
                                          secret=secret, body=body, timestamp=ts)

            # Pre-signed; past the table (not expected) a client signs on the fly.
            table = [[make(c, n) for n in range(per_client)] for c in range(args.clients)]
            return lambda c, n: table[c][n] if n < per_client else make(c, n)

        def compare(key: str, label: str, expect: int, fluxa, bare) -> None:
            """results[key + "_fluxa"] and [key + "_bare"]: args.rounds segments each, alternating
            (fluxa first in odd rounds, bare first in even ones), merged."""
            parts: dict[str, list[load.PhaseResult]] = {"fluxa": [], "bare": []}
            segment = args.duration / args.rounds
            for i in range(args.rounds):
                for side in (("fluxa", "bare") if i % 2 == 0 else ("bare", "fluxa")):
                    make = fluxa if side == "fluxa" else bare
                    parts[side].append(phase(f"{label} {side} ({i + 1}/{args.rounds})", expect, make(),
                                             duration=segment))
            for side, segments in parts.items():
                results[f"{key}_{side}"] = load.PhaseResult.merge(f"{label} {side}", segments)
                log(f"{label} {side}: {results[f'{key}_{side}'].rps:.0f} req/s over {args.rounds} segments")

        compare("list", "list-orders", 200, lambda: get_requests("/api/v1/orders"),
                lambda: get_requests("/bare/orders"))
        per_client = 6000
        # A short unmeasured run of each sizes the pool for the measured fluxa one (and loads
        # what each worker's first charge imports: the chain libraries).
        probes = [phase(f"create-charge {side} (pool sizing probe)", 201, post_requests(path, tag, per_client),
                        warmup=0.5, duration=3, measured=False)
                  for side, path, tag in (("fluxa", "/api/v1/charges", "P"), ("bare", "/bare/charges", "Q"))]
        # The fluxa probe's rate is low (its first charges import), and on a shared machine a
        # probe may run slower than the measured segments: size for twice the faster of the two,
        # at least 10,000 (the refill fills that in a few seconds), so the pool cannot run dry.
        rate = max(*(p.rps for p in probes), 50)
        need = max(math.ceil(rate * (args.rounds * (args.warmup + 1) + args.duration) * 2) + 200, 10_000)
        log(f"filling the (tron, test) address pool to {need} free addresses")
        pool_log.append(pool_fill(free_target=need))
        before = pool_state()
        segments = iter(range(10**6))  # each segment signs new merchant_order_ids
        compare("create", "create-charge", 201,
                lambda: post_requests("/api/v1/charges", f"F{next(segments)}", per_client),
                lambda: post_requests("/bare/charges", f"B{next(segments)}", per_client))
        after = pool_state()
        memory = {pid: memory_kib(pid) for pid in [gunicorn.pid, *workers]}
    finally:
        stop_gunicorn(gunicorn)
    if after["next_index"] != before["next_index"]:
        log(f"WARNING: the pool ran dry: {after['next_index'] - before['next_index']} addresses derived on demand")
    failed = [r for r in results.values() if r.errors]
    environment = report.environment(args=args, seeded=seeded, merchant_id=merchant.id, root=root,
                                     statements=statements,
                                     pool={"fills": pool_log, "before": before, "after": after},
                                     memory={"master": gunicorn.pid, "workers": workers, "kib": memory},
                                     seconds=time.monotonic() - run_started)
    out = Path(args.out)
    previous = out.read_text() if out.exists() else ""
    out.write_text(report.with_other_sections(report.render(results=results, plans=plans, env=environment),
                                              previous))
    log(f"wrote {args.out} ({time.monotonic() - run_started:.0f} s in all)")
    if args.json:
        import pickle

        # Everything render() needs, to render the report again (e.g. after editing analysis.md,
        # then report.with_other_sections to keep the other benchmarks' sections):
        # python -c "import pickle,sys; sys.path.insert(0,'.'); from bench import report; ..."
        Path(args.json + ".pkl").write_bytes(pickle.dumps({"results": results, "plans": plans, "env": environment}))
        Path(args.json).write_text(json.dumps({
            "results": {k: {"rps": r.rps, "p50": r.p50, "p99": r.p99, "errors": r.errors,
                            "client_cpu": r.client_cpu_percent, "server_cpu": r.server_cpu}
                        for k, r in results.items()},
            "env": environment}, default=str, indent=2))
    if failed:
        log("FAILED: some requests did not get the expected status: " + ", ".join(r.name for r in failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
