"""Seeding the benchmark database: 100 merchants and N orders (1,000,000 by default) written
with COPY straight into orders_order.

Distribution (docs/benchmarks.md repeats it):

* the benchmark merchant ("Bench Co", created with merchant_create, so it has real keys) owns
  BENCH_TEST_ORDERS test-mode orders (the list phase reads these) and BENCH_LIVE_ORDERS live ones;
* the other 99 merchants share the rest with Zipf-like weights (1 / rank^0.8: of 1,000,000
  orders the biggest has about 116,000, the smallest about 2,900), 85 % live and 15 % test;
* created_at uniform over the last 365 days, rows written in created_at order (as a live table
  grows); merchant_order_id "INV-000123" numbered per merchant in time order, absent on 8 %;
* channels weighted like a USDT-heavy gateway (usdt_trc20 38 %, usdt_erc20 14 %, btc 10 %,
  usdt_bsc 8 %, usdc_base 7 %, ...), network and asset following the channel;
* statuses: orders older than 2 hours are paid 64 %, expired 29 %, canceled 4 %, refunded
  1.5 %, partially_refunded 1 %, failed 0.5 %; younger ones created 50 %, pending 10 %, paid
  40 %; 2 % of paid are overpaid, 3 % of expired underpaid; 0.5 % of expired or canceled
  orders are deleted (deleted_at set, hidden from the list);
* a customer (email and name, from 20,000 distinct people) on 60 % of orders.

Payments, order events and deposit addresses of the seeded orders are not written: the list
endpoint never reads them, and create-charge only appends to those tables.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import random
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import psycopg

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
HEX = "0123456789abcdef"
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

MERCHANTS = 100
BENCH_TEST_ORDERS = 50_000
BENCH_LIVE_ORDERS = 10_000

CHANNEL_WEIGHTS = {
    "usdt_trc20": 38, "usdt_erc20": 14, "btc": 10, "usdt_bsc": 8, "usdc_base": 7, "usdc_erc20": 4,
    "eth": 4, "sol": 3, "usdc_polygon": 3, "ltc": 2.5, "trx": 2, "usdc_sol": 1.5, "xrp": 1.2,
    "bnb": 0.8, "eth_base": 0.6, "usdc_arbitrum": 0.4,
}
OLD_STATUSES = {"paid": 64, "expired": 29, "canceled": 4, "refunded": 1.5, "partially_refunded": 1,
                "failed": 0.5}
YOUNG_STATUSES = {"created": 50, "pending": 10, "paid": 40}
FIRST = ("olivia liam emma noah amelia oliver ava elijah sophia james isabella william mia benjamin "
         "charlotte lucas harper henry evelyn theodore luna jack camila levi gianna alexander "
         "abigail jackson ella mateo elizabeth daniel sofia michael avery mason scarlett sebastian "
         "emily ethan aria logan penelope owen chloe samuel layla jacob mila asher nora aiden hazel "
         "john madison joseph ellie wyatt lily david nova leo isla luke grace julian violet hudson "
         "aurora grayson riley matthew zoey ezra willow gabriel emilia carter stella isaac zoe "
         "jayden victoria luca hannah anthony addison dylan leah lincoln lucy thomas eliana maverick "
         "ivy elias everly josiah lillian").split()
LAST = ("smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez "
        "gonzalez wilson anderson thomas taylor moore jackson martin lee perez thompson white harris "
        "sanchez clark ramirez lewis robinson walker young allen king wright scott torres nguyen hill "
        "flores green adams nelson baker hall rivera campbell mitchell carter roberts gomez phillips "
        "evans turner diaz parker cruz edwards collins reyes stewart morris morales murphy cook "
        "rogers gutierrez ortiz morgan cooper peterson bailey reed kelly howard ramos kim cox ward "
        "richardson watson brooks chavez wood james bennett gray mendoza ruiz hughes price alvarez "
        "castillo sanders patel myers long ross foster jimenez").split()
DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "proton.me", "icloud.com", "example.org")

ORDER_COLUMNS = (
    "id", "mode", "merchant_order_id", "network", "settlement_mode", "amount", "currency", "asset",
    "amount_due", "rate", "rate_source", "rate_at", "fee_percent", "fee_amount", "amount_received",
    "amount_confirmed", "refunded_amount", "status", "payment_exception", "deposit_address",
    "destination_tag", "payment_uri", "checkout_url", "subject", "description", "metadata", "return_url",
    "cancel_url", "customer_email", "customer_name", "request_fingerprint", "expires_at", "paid_at",
    "created_at", "updated_at", "deleted_at", "channel_id", "merchant_id",
    "refund_address", "amount_settled", "amount_returned",
)


class Weighted:
    def __init__(self, rng: random.Random, weights: dict):
        self.rng = rng
        self.keys = list(weights)
        self.cum = list(itertools.accumulate(weights.values()))
        self.total = self.cum[-1]

    def __call__(self):
        return self.keys[bisect.bisect(self.cum, self.rng.random() * self.total)]


def _people(rng: random.Random, n: int) -> list[tuple[str, str]]:
    people = []
    for i in range(n):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first}.{last}{i % 1000}@{rng.choice(DOMAINS)}"
        people.append((email, f"{first.title()} {last.title()}"))
    return people


def merchant_shares(total: int, bench_total: int, others: list[str]) -> dict[str, int]:
    weights = [1 / (rank ** 0.8) for rank in range(1, len(others) + 1)]
    rest = total - bench_total
    counts = [int(rest * w / sum(weights)) for w in weights]
    counts[0] += rest - sum(counts)
    return dict(zip(others, counts))


def seed_orders(*, dsn: str, bench_merchant: str, other_merchants: list[str], total: int,
                channels: dict[str, tuple[str, str, int]], seed: int = 20260101, log=print) -> dict:
    """COPY `total` orders into orders_order (indexes dropped during the load and rebuilt after,
    foreign keys checked once at the end instead of per row); VACUUM ANALYZE; CHECKPOINT.
    `channels` maps code -> (network, asset, decimals). Returns what was written."""
    rng = random.Random(seed)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    start = now - timedelta(days=365)
    span = (now - start).total_seconds()
    bench_total = BENCH_TEST_ORDERS + BENCH_LIVE_ORDERS
    shares = merchant_shares(total, bench_total, other_merchants)

    # One (merchant, mode) label per order, shuffled over time.
    owners: list[tuple[str, str]] = []
    owners += [(bench_merchant, "test")] * BENCH_TEST_ORDERS + [(bench_merchant, "live")] * BENCH_LIVE_ORDERS
    for merchant, count in shares.items():
        test = int(count * 0.15)
        owners += [(merchant, "test")] * test + [(merchant, "live")] * (count - test)
    rng.shuffle(owners)
    seconds = sorted(rng.random() * span for _ in range(total))

    pick_channel = Weighted(rng, CHANNEL_WEIGHTS)
    old_status = Weighted(rng, OLD_STATUSES)
    young_status = Weighted(rng, YOUNG_STATUSES)
    people = _people(rng, 20_000)
    counters: dict[str, int] = {}
    young_after = (now - timedelta(hours=2) - start).total_seconds()
    rand, choices = rng.random, rng.choices
    written = {"orders": 0, "by_status": {}, "by_channel": {}}

    def rows():
        for i in range(total):
            merchant, mode = owners[i]
            sec = seconds[i]
            created = start + timedelta(seconds=sec)
            code = pick_channel()
            network, asset, decimals = channels[code]
            status = young_status() if sec > young_after else old_status()
            n = counters[merchant] = counters.get(merchant, 0) + 1
            moid = f"INV-{n:06d}" if rand() >= 0.08 else None
            scale = 2 if asset in ("USDT", "USDC") else min(decimals, 8)
            if asset in ("USDT", "USDC"):
                amount = Decimal(int(rand() * 200_000) + 100).scaleb(-2)
            elif asset == "BTC":
                amount = Decimal(int(rand() * 2_000_000) + 10_000).scaleb(-8)
            else:
                amount = Decimal(int(rand() * 50_000_000) + 100_000).scaleb(-scale)
            fee = (amount / 100).quantize(Decimal(1).scaleb(-scale))
            received = confirmed = refunded = Decimal(0)
            exception = ""
            paid_at = deleted_at = None
            if status in ("paid", "refunded", "partially_refunded"):
                received = confirmed = amount
                paid_at = created + timedelta(seconds=60 + int(rand() * 1500))
                if status == "paid" and rand() < 0.02:
                    received = confirmed = amount * 2
                    exception = "overpaid"
                if status == "refunded":
                    refunded = amount
                elif status == "partially_refunded":
                    refunded = (amount / 2).quantize(Decimal(1).scaleb(-scale))
            elif status == "pending":
                received = amount
            elif status == "expired" and rand() < 0.03:
                received = confirmed = (amount / 3).quantize(Decimal(1).scaleb(-scale))
                exception = "underpaid"
            expires = created + timedelta(hours=1)
            updated = paid_at or (expires if status == "expired" else created)
            if status in ("expired", "canceled") and rand() < 0.005:
                deleted_at = updated + timedelta(days=1)
            address = "".join(choices(B58 if network in ("tron", "bitcoin", "litecoin", "solana", "xrpl")
                                      else HEX, k=34 if network != "solana" else 44))
            address = ("T" + address[1:]) if network == "tron" else ("0x" + address + "abcdef")[:42] \
                if network in ("ethereum", "base", "bsc", "polygon", "arbitrum") else address
            if rand() < 0.6:
                email, name = people[int(rand() * len(people))]
            else:
                email = name = ""
            yield (
                "ord_" + "".join(choices(ALPHABET, k=16)), mode, moid, network, "direct", amount, asset,
                asset, amount, None, "", None, "1.0000", fee, received, confirmed, refunded, status,
                exception, address, (n if network == "xrpl" else None),
                f"{network}:{address}?amount={amount}", "", f"Order {moid or n}", "", "{}",
                f"https://shop.example/{merchant[-6:]}/return", "", email, name,
                hashlib.sha256(b"%d" % i).hexdigest(), expires, paid_at, created, updated, deleted_at, code,
                merchant, "", "0", "0",
            )
            written["by_status"][status] = written["by_status"].get(status, 0) + 1
            written["by_channel"][code] = written["by_channel"].get(code, 0) + 1

    with psycopg.connect(dsn, autocommit=True) as conn:
        indexes = conn.execute(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid "
            "WHERE i.indrelid = 'orders_order'::regclass AND k.oid IS NULL ORDER BY c.relname"
        ).fetchall()
        started = time.monotonic()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")  # FK triggers off; checked below
            with conn.cursor() as cur:
                with cur.copy(f"COPY orders_order ({', '.join(ORDER_COLUMNS)}) FROM STDIN") as copy:
                    for row in rows():
                        copy.write_row(row)
        written["orders"] = total
        copied = time.monotonic()
        log(f"seed: COPY of {total:,} orders took {copied - started:.1f} s")
        conn.execute("SET maintenance_work_mem = '512MB'")
        for name, ddl in indexes:
            conn.execute(ddl)
        indexed = time.monotonic()
        log(f"seed: rebuilding {len(indexes)} indexes took {indexed - copied:.1f} s")
        orphans = conn.execute(
            "SELECT count(*) FROM orders_order o WHERE NOT EXISTS "
            "(SELECT 1 FROM merchants_merchant m WHERE m.id = o.merchant_id) OR NOT EXISTS "
            "(SELECT 1 FROM charges_channel c WHERE c.code = o.channel_id)").fetchone()[0]
        if orphans:
            raise RuntimeError(f"seed: {orphans} orders reference a missing merchant or channel")
        # COPY ran with triggers off: rebuild the live-order counts behind the list's total.
        from orders.counting import RECOUNT_SQL

        with conn.transaction():
            conn.execute(RECOUNT_SQL)
        conn.execute("VACUUM (ANALYZE) orders_order")
        conn.execute("CHECKPOINT")
        log(f"seed: FK check, VACUUM ANALYZE and CHECKPOINT took {time.monotonic() - indexed:.1f} s")
        written["seconds"] = time.monotonic() - started
        written["shares"] = shares
        written["table_size"] = conn.execute(
            "SELECT pg_size_pretty(pg_table_size('orders_order')), "
            "pg_size_pretty(pg_indexes_size('orders_order'))").fetchone()
    return written
