"""Where a request's time goes, in-process: for tuning, not for docs/benchmarks.md.

    bash bench/percall.sh [--requests 400] [--cprofile charge|bare|list|bare-list] [--top 40]

Sends each benchmarked request `--requests` times (in `--rounds` interleaved rounds) through Django's test client (signed like a
merchant, no HTTP server, one thread) against the private PostgreSQL of bench/services.sh and
prints, per endpoint, the web process's and PostgreSQL's CPU time and the wall time per request
(the best round), and the SQL
statements of one request. With --cprofile, one endpoint runs again under cProfile and its
functions are listed by cumulative time. The orders table holds only what these requests
write (no 1,000,000-order seed): this measures the per-request cost of the code, not the list's
plans.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ENDPOINTS = {
    "charge": ("POST", "/api/v1/charges"),
    "bare": ("POST", "/bare/charges"),
    "list": ("GET", "/api/v1/orders"),
    "bare-list": ("GET", "/bare/orders"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--cprofile", choices=sorted(ENDPOINTS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()

    from bench import run

    run.configure_environment(argparse.Namespace(workers=1, threads=1, worker_class="gthread"))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from merchants.services import merchant_create
    from testing.client import SignedClient
    from wallets.services import wallet_root_ensure

    call_command("migrate", verbosity=0)
    merchant, keys = merchant_create(name="Profile Co", email="ops@profile.example")
    wallet_root_ensure()
    runs = (2 * args.rounds + 1) * args.requests + 20
    run.pool_fill(free_target=runs)
    client = SignedClient(key_id=keys["test"].api_key.key_id, secret=keys["test"].secret,
                          merchant_id=merchant.id, mode="test", client=Client(HTTP_HOST="127.0.0.1"))
    counter = iter(range(10**9))

    def send(name: str):
        method, path = ENDPOINTS[name]
        body = None
        if method == "POST":
            body = {"amount": "25.50", "currency": "USDT", "network": "tron",
                    "merchant_order_id": f"PROFILE-{name}-{next(counter)}"}
        response = client.request(method, path, body)
        if response.status_code not in (200, 201):
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.body}")

    for name in ENDPOINTS:  # warm up: imports, first connection, caches
        for _ in range(5):
            send(name)
    from bench.load import proc_cpu_seconds

    best: dict[str, tuple[float, float, float]] = {}
    for _ in range(args.rounds):  # interleaved rounds, the best of each: less noise from the machine
        for name in ENDPOINTS:
            pids = run.postgres_pids()
            cpu, pg, wall = time.process_time(), proc_cpu_seconds(pids), time.perf_counter()
            for _ in range(args.requests):
                send(name)
            cpu, pg, wall = (time.process_time() - cpu, proc_cpu_seconds(pids) - pg,
                             time.perf_counter() - wall)
            best[name] = min(best.get(name, (cpu, pg, wall)), (cpu, pg, wall))
    print(f"{'endpoint':<10} {'CPU ms/req':>10} {'PG CPU ms':>10} {'wall ms/req':>11}   (best of {args.rounds} "
          f"rounds of {args.requests})")
    for name, (cpu, pg, wall) in best.items():
        n = args.requests
        print(f"{name:<10} {1000 * cpu / n:>10.2f} {1000 * pg / n:>10.2f} {1000 * wall / n:>11.2f}")
    for name in ENDPOINTS:
        seen: list[str] = []

        def record(execute, sql, params, many, context):
            seen.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(record):
            send(name)
        print(f"{name}: {len(seen)} statements (BEGIN and COMMIT not counted)")
        for sql in seen:
            print(f"    {sql[:int(os.environ.get('PERCALL_SQL_WIDTH', 150))]}")
    if args.cprofile:
        profile = cProfile.Profile(time.process_time)  # CPU, not waits
        profile.enable()
        for _ in range(args.requests):
            send(args.cprofile)
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
