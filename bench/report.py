"""docs/benchmarks.md from one run of bench/run.py (every number in it comes from that run,
except the hand-written analysis, which is bench/analysis.md included verbatim)."""

from __future__ import annotations

import datetime
import os
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CREATE_RATIO, CREATE_P99_MS, LIST_RATIO = 0.8, 50.0, 0.8


def write_section(doc: Path, begin: str, end: str, section: str) -> None:
    """Put `section` (which starts with `begin` and ends with `end`) into `doc`: in place of the
    previous run's section between those markers, else appended. The other sections stay."""
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if begin in text:
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: section, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    doc.write_text(text)


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def _meminfo() -> str:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "?"


def _cpu_model() -> str:
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "?"


def environment(*, args, seeded: dict, merchant_id: str, root, statements: dict, pool: dict, memory: dict,
                seconds: float) -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        pg_version = cursor.fetchone()[0].split(" on ")[0].removeprefix("PostgreSQL ")
        settings = {}
        for name in ("shared_buffers", "effective_cache_size", "work_mem", "maintenance_work_mem", "max_wal_size",
                     "fsync", "synchronous_commit", "full_page_writes", "random_page_cost", "jit"):
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM orders_order")
        orders_after = cursor.fetchone()[0]
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {"nproc": os.cpu_count(), "memory": _meminfo(), "cpu": _cpu_model(),
                    "kernel": platform.release()},
        "commit": _git("rev-parse", "--short", "HEAD") + (" (with uncommitted changes)" if dirty else ""),
        "command": args.command,
        "args": vars(args),
        "versions": {"Python": platform.python_version(), **{
            name: metadata.version(name) for name in ("Django", "djangorestframework", "gunicorn", "psycopg")},
            "PostgreSQL": pg_version},
        "pg_settings": settings,
        "seeded": seeded,
        "orders_after": orders_after,
        "merchant_id": merchant_id,
        "root_fingerprint": root.fingerprint,
        "statements": statements,
        "pool": pool,
        "memory": memory,
        "seconds": seconds,
    }


def _brief(sql: str) -> str:
    """One statement on one line, column lists elided."""
    sql = re.sub(r"\s+", " ", sql).strip()
    sql = re.sub(r"^SELECT (?!COUNT).*? FROM ", "SELECT … FROM ", sql)
    sql = re.sub(r"^(INSERT INTO \S+) \(.*?\) VALUES \(.*?\)( ON CONFLICT .*)?( RETURNING .*)?$", r"\1 (…) VALUES (…)\2", sql)
    sql = re.sub(r"^(UPDATE \S+ SET) .*? WHERE ", r"\1 … WHERE ", sql)
    sql = re.sub(r"'(ord|pay|evt|mer)_[0-9A-Za-z]{16}'", r"'\1_…'", sql)
    return sql if len(sql) <= 220 else sql[:219] + "…"


def _fmt_ms(value: float) -> str:
    return f"{value:.1f}"


def _indexes(plan: str) -> tuple[list[str], list[str]]:
    used = re.findall(r"(?:Index Only Scan|Index Scan|Index Scan Backward|Bitmap Index Scan)(?: Backward)? (?:using|on) (\S+)",
                      plan)
    seq = [table for table in re.findall(r"Seq Scan on (\S+)", plan) if table == "orders_order"]
    return list(dict.fromkeys(used)), seq


def _exec_ms(plan: str) -> str:
    m = re.search(r"Execution Time: ([\d.]+) ms", plan)
    return m.group(1) if m else "?"


def render(*, results: dict, plans: list[dict], env: dict) -> str:
    r = results
    create_ratio = r["create_fluxa"].rps / r["create_bare"].rps
    list_ratio = r["list_fluxa"].rps / r["list_bare"].rps
    create_ok = create_ratio >= CREATE_RATIO and r["create_fluxa"].p99 < CREATE_P99_MS
    list_ok = list_ratio >= LIST_RATIO
    a = env["args"]
    seeded = env["seeded"]
    out: list[str] = []
    w = out.append

    w("# Benchmarks: create-charge and list-orders\n")
    w("Acceptance of the issue \"Charges and orders\": `POST /api/v1/charges` and `GET /api/v1/orders` under "
      "load on gunicorn + PostgreSQL, each measured in the same run, on the same server processes, next to a "
      "bare Django + DRF endpoint that does the same minimum work (`bench/bare.py`). This file is written by "
      "the benchmark itself; only the last section (\"Analysis\", `bench/analysis.md`) is written by hand.\n")
    w(f"- **Date**: {env['date']}; **commit** {env['commit']}")
    m = env["machine"]
    w(f"- **Machine**: {m['nproc']} cores ({m['cpu']}), {m['memory']} RAM, Linux {m['kernel']}. The load "
      "generator, gunicorn, PostgreSQL and Redis all share these cores.")
    w(f"- **Command**: `{env['command']}` (the whole run took {env['seconds'] / 60:.1f} minutes, seeding "
      f"included)")
    w(f"- **Load**: {a['clients']} concurrent clients, each on one keep-alive HTTP/1.1 connection to 127.0.0.1, "
      f"closed loop (a client sends its next request as soon as the previous answer arrived); "
      f"{a['duration']:g} s measured per endpoint, in {a.get('rounds', 1)} segments each preceded by "
      f"{a['warmup']:g} s of warm-up.\n")

    w("## Results\n")
    w("| endpoint | req/s | p50 ms | p99 ms | mean ms | ratio to bare (req/s) | target | met |")
    w("|---|---:|---:|---:|---:|---:|---|---|")
    rows = [
        ("`POST /api/v1/charges` (fluxa)", r["create_fluxa"], f"{create_ratio:.2f}x",
         f"≥ {CREATE_RATIO}x and p99 < {CREATE_P99_MS:g} ms", "yes" if create_ok else "**no**"),
        ("`POST /bare/charges` (bare)", r["create_bare"], "1.00x", "", ""),
        ("`GET /api/v1/orders` (fluxa)", r["list_fluxa"], f"{list_ratio:.2f}x", f"≥ {LIST_RATIO}x",
         "yes" if list_ok else "**no**"),
        ("`GET /bare/orders` (bare)", r["list_bare"], "1.00x", "", ""),
    ]
    for label, res, ratio, target, met in rows:
        w(f"| {label} | {res.rps:.0f} | {_fmt_ms(res.p50)} | {_fmt_ms(res.p99)} | {_fmt_ms(res.mean)} | {ratio} | "
          f"{target} | {met} |")
    w("")
    w(f"Every measured request got its expected status (201 for creates, 200 for lists): "
      f"{sum(x.errors for x in r.values())} errors in all. Each endpoint's measured "
      f"{a['duration']:g} s come in {a.get('rounds', 1)} segments, fluxa's and bare's alternating (fluxa first in "
      "odd rounds, bare first in even ones), so that a change in the machine's speed during the run touches "
      "both sides; each segment has its own warm-up. Order: the list segments, a 3-second unmeasured create "
      "of each side (the first requests of each worker, and the rate that sizes the address pool), the pool "
      "fill, the create segments. Before each measured segment the tables the run writes are vacuumed "
      "(`VACUUM (ANALYZE)`) and PostgreSQL checkpoints, so that no segment pays for the autovacuum or the "
      "dirty pages of an earlier one.\n")
    w("Where the CPU went during each endpoint's measured segments, in % of one core (the machine has "
      f"{m['nproc']} cores, so {m['nproc'] * 100} % is everything). \"others\" is whatever else ran on the "
      f"machine meanwhile (the run waits up to {a.get('quiet_wait', 90):g} s for it to drop under 25 % before each "
      "segment):\n")
    w("| phase | gunicorn | postgres | redis | load generator | others |")
    w("|---|---:|---:|---:|---:|---:|")
    for key, res in (("create_fluxa", r["create_fluxa"]), ("create_bare", r["create_bare"]),
                     ("list_fluxa", r["list_fluxa"]), ("list_bare", r["list_bare"])):
        c = res.server_cpu
        w(f"| {res.name} | {c.get('gunicorn', 0):.0f} | {c.get('postgres', 0):.0f} | {c.get('redis', 0):.0f} | "
          f"{res.client_cpu_percent:.0f} | {max(0.0, c.get('others', 0)):.0f} |")
    w("")
    w("Server CPU per request (gunicorn + postgres + redis CPU time divided by requests):\n")
    for key in ("create_fluxa", "create_bare", "list_fluxa", "list_bare"):
        res = r[key]
        c = res.server_cpu
        per = (c.get("gunicorn", 0) + c.get("postgres", 0) + c.get("redis", 0)) / 100 / max(res.rps, 1e-9) * 1000
        w(f"- {res.name}: {per:.2f} ms (gunicorn {c.get('gunicorn', 0) / 100 / max(res.rps, 1e-9) * 1000:.2f}, "
          f"postgres {c.get('postgres', 0) / 100 / max(res.rps, 1e-9) * 1000:.2f})")
    w("")

    w("### Targets\n")
    cf, cb, lf, lb = r["create_fluxa"], r["create_bare"], r["list_fluxa"], r["list_bare"]
    w(f"- create-charge: {cf.rps:.0f} req/s against {cb.rps:.0f} bare = **{create_ratio:.2f}x** (target "
      f"≥ {CREATE_RATIO}x), p99 **{cf.p99:.1f} ms** (target < {CREATE_P99_MS:g} ms) at {a['clients']} clients: "
      + ("**met**." if create_ok else "**missed**" + (
          f" (ratio {create_ratio:.2f}x < {CREATE_RATIO}x)" if create_ratio < CREATE_RATIO else "")
         + (f" (p99 {cf.p99:.1f} ms ≥ {CREATE_P99_MS:g} ms)" if cf.p99 >= CREATE_P99_MS else "") + "."))
    w(f"- list-orders with {seeded['orders']:,} orders in the table: {lf.rps:.0f} req/s against {lb.rps:.0f} "
      f"bare = **{list_ratio:.2f}x** (target ≥ {LIST_RATIO}x): " + ("**met**." if list_ok else "**missed**."))
    seq = [p["label"] for p in plans for s in p["plans"] if _indexes(s["plan"])[1]]
    w("- every filter of `GET /api/v1/orders` served by an index: " + (
        "**yes**, no plan below has a sequential scan of orders_order." if not seq
        else f"**no**: sequential scans in {', '.join(seq)}."))
    w("- web worker peak memory: see below.\n")

    w("## Memory\n")
    mem = env["memory"]
    w("Peak resident set size (VmHWM in /proc/<pid>/status) of each gunicorn process at the end of the run "
      "(after every phase, so the peak covers both fluxa's and the bare endpoints' requests):\n")
    w("| process | pid | peak RSS (VmHWM) | RSS at the end |")
    w("|---|---:|---:|---:|")
    for pid, kib in mem["kib"].items():
        role = "master" if pid == mem["master"] else "worker"
        w(f"| {role} | {pid} | {kib['VmHWM'] / 1024:.0f} MiB | {kib['VmRSS'] / 1024:.0f} MiB |")
    w("")

    w("## What is compared\n")
    w("**fluxa** is the real API: `HmacSignatureAuthentication` (key and merchant in one query, Fernet-decrypted "
      "secret, timestamp window, HMAC compare, and for POST the replay row in `merchants_requestnonce`), the "
      "throttle (disabled here: `FLUXA_API_RATE=None`), the `Idempotency-Key` hook (no header sent), input "
      "validation by the serializers, the service, and the full response serializers.\n")
    w("- `POST /api/v1/charges` with `{\"amount\": \"25.50\", \"currency\": \"USDT\", \"network\": \"tron\", "
      "\"merchant_order_id\": \"BENCH-F-<client>-<n>\"}` (a test key): routing to usdt_trc20 (the per-process "
      "channel catalogue), pricing and fee, a deposit address of the stored wallet root claimed from the pool "
      "(one `UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING`), the payment URI, and in one "
      "statement the order (its unique merchant_order_id is the idempotency check), the payment, the "
      "`OrderEvent`, the webhook event `order.created` and its deliveries (the merchant has no webhook "
      "endpoint, so none is queued); then the full order + payment + instruction (payment URI, signed QR links) "
      "in the response.")
    w("- `GET /api/v1/orders` (no filter: the newest 20 of the key's merchant and mode, not deleted), with "
      "query validation and `total`, the count of all matching orders.\n")
    w("**bare** (`bench/bare.py`) is a DRF `APIView` with no authentication, permission or throttle classes. "
      "It verifies the same signature itself: the key with its merchant (one query), the secret decrypted with "
      "Fernet, the timestamp window, HMAC-SHA256 compared. Then:\n")
    w("- `POST /bare/charges` parses the JSON body (DRF's parser), inserts an `Order`, its `Payment` and its "
      "first `OrderEvent` with the ORM in one transaction, and answers `{id, payment_id, status, amount, "
      "created_at}`. It does **not** record the signature against replays, validate input beyond parsing the "
      "amount, check merchant_order_id idempotency, route (the channel is hard-wired), read the wallet root, "
      "reserve a deposit address, build a payment URI or QR links, write the webhook event, or serialize the "
      "order.")
    w("- `GET /bare/orders` selects the same 13 columns of the newest 20 orders of the key's merchant and mode "
      "(not deleted, `ORDER BY created_at DESC, id DESC`) with `.values()` and answers `{data: [...]}`. It "
      "does **not** validate query parameters, support filters, or count the total.\n")
    w("SQL statements per request (captured in-process; BEGIN, COMMIT and SAVEPOINTs count, each is a round "
      "trip):\n")
    for name, sqls in env["statements"].items():
        short = [_brief(s) for s in sqls]
        w(f"- `{name}`: **{len(sqls)}**")
        w("  <details><summary>statements</summary>\n")
        w("  ```sql")
        for s in short:
            w(f"  {s}")
        w("  ```\n  </details>")
    w("")

    w("## Configuration\n")
    w(f"- Versions: " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()) + ".")
    w(f"- gunicorn (`bench/gunicorn.conf.py`, the same master and workers serve fluxa's and the bare endpoints): "
      f"`gthread` worker class, **{a['workers']} workers x {a['threads']} threads**, keepalive 5 s, no access log, "
      "no `--preload`. Sync workers were not used: they close the connection after every response (no "
      "keep-alive). Settings module `bench.settings` = `fluxa_site.settings` with `ROOT_URLCONF = "
      "\"bench.urls\"` (fluxa's URLs plus the two bare ones).")
    w("- Environment: `DEBUG=false`, `FLUXA_API_RATE=None` (no throttling), `LOG_LEVEL=WARNING`, "
      "`FLUXA_WALLET_MNEMONIC` = the BIP39 test vector \"legal winner thank year wave sausage worth useful "
      f"legal winner thank yellow\" (root fingerprint {env['root_fingerprint']}), a private Redis as cache and "
      "Celery broker (no Celery worker or beat runs: nothing else touches the database during the phases), "
      "database connections kept open (`CONN_MAX_AGE` 60 s, fluxa's default).")
    pg = env["pg_settings"]
    w("- PostgreSQL: a private cluster on a free loopback port (`bench/services.sh`), durable defaults (fsync "
      f"{pg['fsync']}, synchronous_commit {pg['synchronous_commit']}, full_page_writes {pg['full_page_writes']}), "
      f"shared_buffers {pg['shared_buffers']}, effective_cache_size {pg['effective_cache_size']}, work_mem "
      f"{pg['work_mem']}, maintenance_work_mem {pg['maintenance_work_mem']}, max_wal_size {pg['max_wal_size']}, "
      f"random_page_cost {pg['random_page_cost']}, jit {pg['jit']}.")
    pool = env["pool"]
    fills = pool["fills"]
    w(f"- Deposit addresses: before timing, the (tron, test) pool was filled with the real "
      f"`wallets.services.deposit_address_pool_replenish` ({sum(f['created'] for f in fills):,} addresses in "
      f"{sum(f['seconds'] for f in fills):.1f} s, derivations included; \"Address derivation\" below). A "
      "3-second unmeasured fluxa run sized the pool for the measured phase. "
      f"Free addresses before the measured fluxa phase: {pool['before']['free']:,}, after: "
      f"{pool['after']['free']:,}; addresses derived on demand during it: "
      f"**{pool['after']['next_index'] - pool['before']['next_index']}**.")
    w(f"- Requests are pre-signed before each phase (`fluxa_client.signed_headers`, the same timestamp for a "
      "phase, a unique `merchant_order_id` and so a unique signature per POST); the load generator "
      "(`bench/load.py`) is one process with one thread per client.\n")

    w("### Data\n")
    shares = sorted(seeded["shares"].values(), reverse=True)
    w(f"{seeded['orders']:,} orders written with `COPY` (`bench/seed.py`, {seeded['seconds']:.0f} s with the "
      f"index rebuild, VACUUM ANALYZE and CHECKPOINT); table {seeded['table_size'][0]}, its indexes "
      f"{seeded['table_size'][1]}. {env['orders_after']:,} orders at the end of the run (the create phases "
      "add theirs).\n")
    w("- 100 merchants. The benchmark merchant (\"Bench Co\") owns 60,000: **50,000 test-mode orders** (what "
      "its test key lists and counts) and 10,000 live ones. The 99 others share the rest with Zipf-like "
      f"weights (1/rank^0.8): from {shares[0]:,} down to {shares[-1]:,} orders each, 85 % live and 15 % test.")
    w("- created_at uniform over the last 365 days, rows written in created_at order (as the table grows in "
      "production); merchant_order_id `INV-000123` numbered per merchant, absent on 8 %.")
    by_status = ", ".join(f"{k} {v:,}" for k, v in sorted(seeded["by_status"].items(), key=lambda kv: -kv[1]))
    by_channel = ", ".join(f"{k} {v:,}" for k, v in sorted(seeded["by_channel"].items(), key=lambda kv: -kv[1]))
    w(f"- Statuses: {by_status} (created and pending only in the last 2 hours, as expiry would leave them); "
      "2 % of paid overpaid, 3 % of expired underpaid, 0.5 % of expired or canceled deleted (`deleted_at`).")
    w(f"- Channels (network and asset follow): {by_channel}.")
    w("- A customer (email and name, from 20,000 people) on 60 % of the orders.")
    w("- Payments, order events and deposit addresses of the seeded orders are not written (the list never "
      "reads them; create-charge only appends to those tables).\n")

    w("## Plans of `GET /api/v1/orders`, filter by filter\n")
    w("For every filter the request was sent through the real view (Django's test client, signed with the "
      "benchmark merchant's test key), its SQL captured, and each statement on `orders_order` run again under "
      "`EXPLAIN (ANALYZE, BUFFERS)`, after the data was seeded and vacuumed and before any load. \"page\" is "
      "the 20 rows; \"count\" is `total`, which the view only counts when the page is full (a short first page "
      "is its own total).\n")
    w("| filter | rows / total | page: index, ms | count: index, ms |")
    w("|---|---:|---|---|")
    for item in plans:
        cells = {}
        for s in item["plans"]:
            used, seqs = _indexes(s["plan"])
            cells[s["kind"]] = (", ".join(f"`{u}`" for u in used) + (" **Seq Scan**" if seqs else "")
                                + f", {_exec_ms(s['plan'])}")
        w(f"| {item['label']} | {item['rows']} / {item['total']:,} | {cells.get('page', '-')} | "
          f"{cells.get('count', 'not run')} |")
    w("")
    for item in plans:
        w(f"### {item['label']}\n")
        w(f"`GET /api/v1/orders{'?' + item['query'] if item['query'] else ''}` → {item['rows']} rows, total "
          f"{item['total']:,}\n")
        for s in item["plans"]:
            w(f"{s['kind']}:\n")
            w("```sql")
            w(s["sql"])
            w("```")
            w("```")
            w(s["plan"])
            w("```\n")

    analysis = ROOT / "bench/analysis.md"
    if analysis.exists():
        w("## Analysis\n")
        w(analysis.read_text().strip() + "\n")
    return "\n".join(out) + "\n"


_OTHER_SECTION = re.compile(r"<!-- (\w+):begin -->.*?<!-- \1:end -->", re.S)


def with_other_sections(text: str, previous: str) -> str:
    """`text` followed by the sections other benchmarks keep in the same file between their
    own markers (bench/webhooks.py, bench/scan.py): this run rewrites only its own part."""
    kept = [m.group(0) for m in _OTHER_SECTION.finditer(previous)]
    return text.rstrip("\n") + "".join(f"\n\n{section}" for section in kept) + "\n"
