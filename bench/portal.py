"""The portal's server time next to the API's, at 1,000,000 orders, in the same run.

Run: `bash bench/run_portal.sh` (private PostgreSQL + Redis via bench/services.sh, PostgreSQL
with the durable settings of the other benchmarks).

Steps: migrate; the benchmark merchant (merchant_create, so real keys) with an owner user,
99 others; COPY 1,000,000 orders (bench/seed.py, the distribution of docs/benchmarks.md);
then, in this one process with DEBUG off, each pair of requests is sent through Django's
full request handling (every middleware, the session and auth lookups, the view, the
template or the serializer, the database) with django.test.Client, alternating the portal
and the API request in each round so both see the same caches and the same machine load:

* the orders page (/portal/orders, 50 rows, HTML) vs GET /api/v1/orders?limit=50 (JSON);
* the same with status=paid, and with a reference prefix;
* a deep page: the portal's keyset page 10,000 rows deep vs the API's offset=10000;
* the order page (/portal/orders/{id}) vs GET /api/v1/orders/{id}, the same order, one of
  100 made by charge_create (half paid by a simulated transfer).

"Server time" is the wall time of Client.get (no socket, no HTTP parsing: both sides alike).
The result replaces the "Merchant portal" section of docs/benchmarks.md (between its markers).
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.report import write_section  # noqa: E402  (the repo root is on the path now)
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- portal:begin -->", "<!-- portal:end -->"
MNEMONIC = "legal winner thank year wave sausage worth useful legal winner thank yellow"
PASSWORD = "bench portal password 1"
DETAIL_ORDERS = 100


def log(message: str) -> None:
    print(f"[bench-portal {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.95) - 1] * 1000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()

    os.environ.update({"DJANGO_SETTINGS_MODULE": "fluxa_site.settings", "FLUXA_API_RATE": "None",
                       "DEBUG": "false", "LOG_LEVEL": "WARNING", "FLUXA_WALLET_MNEMONIC": MNEMONIC,
                       "SECURE_COOKIES": "false"})
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from bench.seed import MERCHANTS, seed_orders
    from charges.models import Channel
    from charges.services import charge_create
    from fluxa_client import signed_headers
    from merchants.models import Merchant, Role
    from merchants.services import merchant_create, merchant_user_create
    from orders.models import Order
    from orders.services import order_simulate_payment
    from wallets.services import wallet_root_ensure

    log("migrating")
    call_command("migrate", verbosity=0)
    merchant, keys = merchant_create(name="Bench Co", email="ops@bench.example")
    merchant_user_create(merchant=merchant, email="ops@bench.example", role=Role.OWNER, password=PASSWORD)
    others = Merchant.objects.bulk_create([Merchant(name=f"Shop {i:02d}", email=f"ops@shop{i:02d}.example")
                                           for i in range(1, MERCHANTS)])
    channels = {c.code: (c.network, c.asset, c.asset_decimals) for c in Channel.objects.all()}
    log(f"seeding {args.orders:,} orders")
    seed_orders(dsn=os.environ["DATABASE_URL"], bench_merchant=merchant.id, other_merchants=[m.id for m in others],
                total=args.orders, channels=channels, log=log)

    key_id, secret = keys["test"].api_key.key_id, keys["test"].secret
    api = Client(HTTP_HOST="127.0.0.1")

    def api_get(target: str):
        headers = signed_headers(key_id=key_id, secret=secret, method="GET", target=target)
        return api.get(target, headers=headers)

    portal = Client(HTTP_HOST="127.0.0.1")
    signed_in = portal.post("/portal/login", {"username": "ops@bench.example", "password": PASSWORD})
    assert signed_in.status_code == 302, signed_in.status_code

    # The order pages read real orders: made by charge_create (payment, deposit address, event)
    # and, for half of them, paid by a simulated transfer (transfer, events); COPY-seeded rows
    # have none of these (and deposit addresses that are not real addresses).
    log(f"making {DETAIL_ORDERS} real orders for the order pages")
    wallet_root_ensure()
    ids = []
    for n in range(DETAIL_ORDERS):
        made = charge_create(merchant=merchant, mode="test", actor="bench", data={
            "channel": "usdt_bsc", "currency": "USDT", "amount": Decimal("19.90"), "subject": f"Bench {n}",
            "customer": {"email": f"buyer{n}@example.com", "name": f"Buyer {n}"}})
        if n % 2 == 0:
            order_simulate_payment(order_id=made.order.id, actor="bench")
        ids.append(made.order.id)
    rng = random.Random(7)
    rng.shuffle(ids)
    # The 10,000th row of the newest-first list: the portal's page there (its keyset cursor)
    # against the API's offset=10000.
    deep = Order.objects.filter(merchant=merchant, mode="test", deleted_at__isnull=True).order_by(
        "-created_at", "-id").values_list("created_at", "id")[9999]
    deep_cursor = f"{deep[0].isoformat()}~{deep[1]}".replace("+", "%2B")
    pairs = [
        ("orders page", "/portal/orders", "/api/v1/orders?limit=50"),
        ("orders page, status=paid", "/portal/orders?status=paid", "/api/v1/orders?limit=50&status=paid"),
        ("orders page, reference prefix", "/portal/orders?merchant_order_id_prefix=INV-0001",
         "/api/v1/orders?limit=50&merchant_order_id_prefix=INV-0001"),
        ("orders page 10,000 rows deep", f"/portal/orders?before={deep_cursor}",
         "/api/v1/orders?limit=50&offset=10000"),
        ("order detail", "/portal/orders/{id}", "/api/v1/orders/{id}"),
    ]
    results = []
    for name, portal_path, api_path in pairs:
        portal_times, api_times = [], []
        for warm in range(10):
            order_id = ids[warm % len(ids)]
            assert portal.get(portal_path.format(id=order_id)).status_code == 200
            assert api_get(api_path.format(id=order_id)).status_code == 200
        for i in range(args.rounds):
            order_id = ids[i % len(ids)]
            first_portal = rng.random() < 0.5
            for side in ((0, 1) if first_portal else (1, 0)):
                started = time.perf_counter()
                response = portal.get(portal_path.format(id=order_id)) if side == 0 else api_get(
                    api_path.format(id=order_id))
                elapsed = time.perf_counter() - started
                assert response.status_code == 200, (name, side, response.status_code)
                (portal_times if side == 0 else api_times).append(elapsed)
        (p50, p95), (a50, a95) = _ms(portal_times), _ms(api_times)
        results.append((name, portal_path.replace("{id}", "ord_…"), api_path.replace("{id}", "ord_…"),
                        p50, p95, a50, a95))
        log(f"{name}: portal p50 {p50:.1f} ms p95 {p95:.1f} ms; API p50 {a50:.1f} ms p95 {a95:.1f} ms")

    lines = [
        BEGIN,
        "## Merchant portal",
        "",
        f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores: "
        f"`bash bench/run_portal.sh` ({args.orders:,} orders seeded as above; the benchmark merchant's "
        f"50,000 test orders are listed; {args.rounds} rounds per pair after 10 warm-up ones, the portal and "
        "the API request alternating in random order in each round). Server time: the wall time of Django's "
        "full request handling in one process (django.test.Client: every middleware, session, auth and "
        "signature checks, view, template or serializer, PostgreSQL), no socket on either side. The order "
        f"pages read {DETAIL_ORDERS} orders made by charge_create among them, half of them paid by a simulated "
        "transfer (payment, transfer, events).",
        "",
        "| page | portal | API | portal p50 / p95 | API p50 / p95 | portal / API (p50) |",
        "|---|---|---|---|---|---|",
    ]
    within = True
    for name, portal_path, api_path, p50, p95, a50, a95 in results:
        ratio = p50 / a50
        within &= ratio <= 2
        lines.append(f"| {name} | `{portal_path[:60]}` | `{api_path}` | {p50:.1f} / {p95:.1f} ms | "
                     f"{a50:.1f} / {a95:.1f} ms | {ratio:.2f} |")
    lines += [
        "",
        "The portal pages list 50 rows, as the API requests here ask (`limit=50`). The portal pages with "
        "keyset pagination (`before=<created_at>~<id>`), so a deep page costs what the first does; the API's "
        "offset pages scan the rows they skip. The portal's filtered pages show no total; the API counts the "
        "filtered rows for `total`.",
        END,
    ]
    section = "\n".join(lines)
    write_section(DOC, BEGIN, END, section)
    print(section)
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
