"""Requests per second one gunicorn worker answers on the checkout page's status endpoint
(GET /pay/<token>/status, what every open checkout page polls), against a bare Django view in
the same run and the same worker (bench/bare.py, bare_checkout_status).

Run: `bash bench/run_checkout.sh` (private PostgreSQL + Redis via bench/services.sh).

Orders: --orders test orders of one merchant, a third of them partly paid (their status
builds the payment URI of what is still due, signs its QR link and counts confirmations), a
third waiting, a third paid. Each client thread polls the tokens round robin over one
keep-alive connection. fluxa's side runs with its per-address rate limit on (one Redis round
trip per request) at a limit no client reaches. The measured seconds come in rounds, fluxa's
and bare's alternating. The result replaces the "Checkout status" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.report import write_section  # noqa: E402  (the repo root is on the path now)
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- checkout:begin -->", "<!-- checkout:end -->"
HOST = "127.0.0.1"
MNEMONIC = "legal winner thank year wave sausage worth useful legal winner thank yellow"  # a BIP39 test vector


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--threads", type=int, default=4, help="gthread threads of the one worker")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per round and side")
    parser.add_argument("--warmup", type=float, default=2.0)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "bench.settings", "DEBUG": "false", "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "FLUXA_WALLET_MNEMONIC": MNEMONIC, "FLUXA_CHECKOUT_RATE": "100000000/min",
        "BENCH_WORKERS": "1", "BENCH_THREADS": str(args.threads), "BENCH_WORKER_CLASS": "gthread",
    })
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from bench import load
    from bench.run import free_port, start_gunicorn, stop_gunicorn
    from charges.services import charge_create
    from merchants.services import merchant_create
    from orders.services import order_simulate_payment

    call_command("migrate", "--noinput", "-v", "0")
    merchant, _ = merchant_create(name="Bench checkout", email="bench-checkout@example.com")
    tokens = []
    for n in range(args.orders):
        order = charge_create(merchant=merchant, mode="test", actor="bench", base_url="http://127.0.0.1",
                              data={"amount": Decimal("10"), "currency": "USDT", "network": "tron"}).order
        if n % 3 == 1:
            order_simulate_payment(order_id=order.id, amount=Decimal("4"), confirmations=3, actor="bench")
        elif n % 3 == 2:
            order_simulate_payment(order_id=order.id, actor="bench")
        tokens.append(order.checkout_token)
    connection.close()

    load_before = os.getloadavg()[0]
    port = free_port()
    gunicorn = start_gunicorn(port)
    results: dict[str, list] = {"fluxa": [], "bare": []}
    try:
        def requester(prefix: str, suffix: str):
            def next_request(c: int, n: int) -> bytes:
                token = tokens[(c * 7919 + n) % len(tokens)]
                return (f"GET {prefix}{token}{suffix} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                        "Accept: application/json\r\nAccept-Language: en\r\n\r\n").encode()
            return next_request

        sides = {"fluxa": requester("/pay/", "/status"), "bare": requester("/bare/checkout/", "/status")}
        for _ in range(args.rounds):
            for name in ("fluxa", "bare"):
                results[name].append(load.run_phase(
                    name=name, host=HOST, port=port, clients=args.clients, warmup=args.warmup,
                    duration=args.seconds, next_request=sides[name], expect=200))
    finally:
        stop_gunicorn(gunicorn)

    load_after = os.getloadavg()[0]
    merged = {name: load.PhaseResult.merge(name, parts) for name, parts in results.items()}
    fluxa, bare = merged["fluxa"], merged["bare"]
    errors = fluxa.errors + bare.errors
    section = "\n".join([
        BEGIN,
        "## Checkout status",
        "",
        f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores: "
        f"`bash bench/run_checkout.sh` (one gunicorn gthread worker with {args.threads} threads, "
        f"{args.clients} client threads on keep-alive connections, {args.orders} test orders polled round "
        "robin: a third waiting, a third partly paid, a third paid; "
        f"{args.rounds} rounds of {args.seconds:.0f} s per side, fluxa's and bare's alternating, after "
        f"{args.warmup:.0f} s of warm-up each). `GET /pay/<token>/status` is what every open checkout "
        "page polls (every `FLUXA_CHECKOUT_POLL_SECONDS`, 4 s by default): the per-address rate limit "
        "(one Redis round trip), the order with its channel, merchant and the confirmations of its "
        "unconfirmed transfers (one query), the payer's message, "
        "the still-due payment URI and its signed QR link. The bare reference is a plain Django view that "
        "reads three fields of the order by its token (bench/bare.py).",
        "",
        "| endpoint | requests/s | p50 | p99 | errors |",
        "|---|---|---|---|---|",
        f"| `GET /pay/<token>/status` | {fluxa.rps:.0f} | {fluxa.p50:.1f} ms | {fluxa.p99:.1f} ms | {fluxa.errors} |",
        f"| bare: `GET /bare/checkout/<token>/status` | {bare.rps:.0f} | {bare.p50:.1f} ms | {bare.p99:.1f} ms | "
        f"{bare.errors} |",
        "",
        f"fluxa answers {fluxa.rps / bare.rps:.2f}x the bare view's rate. At one poll every 4 s per open "
        f"page, one worker keeps about {fluxa.rps * 4:,.0f} open checkout pages current. The machine's "
        f"one-minute load average was {load_before:.1f} before the load and {load_after:.1f} after it "
        f"({os.cpu_count()} cores, shared with other work): the absolute rates are this machine's at that "
        "moment; the ratio, measured in alternating rounds, is the figure to compare.",
        END,
    ])
    write_section(DOC, BEGIN, END, section)
    print(section)
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
