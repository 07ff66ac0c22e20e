"""The first request of a fresh gunicorn worker against the warm ones, and against a bare
reference in the same run.

    bash bench/run_coldstart.sh [--starts 3] [--warm 30]

Two configurations, each started `--starts` times, alternating:

- **fluxa**: the repo's gunicorn.conf.py (`preload_app`, fluxa_site/wsgi.py importing the
  URLconf and the chain libraries in the master), as production runs it;
- **cold** (the reference): bench/gunicorn.conf.py's options without preload and
  bench/cold_wsgi.py, the plain Django WSGI application, which is how fluxa ran before.

Both with one worker and one thread (so "the worker's first request" is one request on one
connection to PostgreSQL). After each start the bench waits until the worker has finished
booting (its CPU time stops moving for a second), then sends one signed POST /api/v1/charges
(tron, test mode, on a pre-filled address pool), then `--warm` more, one at a time, each on a
new connection. The first request's latency is compared with the median of the warm ones.
PostgreSQL and Redis come from bench/services.sh. The result replaces the "First request of a
fresh worker" section of docs/benchmarks.md (between markers).
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.report import write_section  # noqa: E402  (the repo root is on the path now)
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- coldstart:begin -->", "<!-- coldstart:end -->"
MNEMONIC = "legal winner thank year wave sausage worth useful legal winner thank yellow"
HOST = "127.0.0.1"
NOTE_LEFT = ("What the first request of a preloaded worker still pays over a warm one: the copy-on-write page "
             "faults of the master's pages it writes to first (the minor-fault column: a warm request has almost none), "
             "and the few statements "
             "the warm-up could only run in another form inside its rolled-back transaction (the replay row's "
             "asynchronous-commit INSERT, BEGIN/COMMIT where the warm-up had savepoints), each parsed once more by "
             "psycopg and planned by the new PostgreSQL backend.")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def wait_booted(master: subprocess.Popen, timeout: float = 120.0) -> int:
    """The worker's pid once it exists and its CPU time has not moved for a second."""
    deadline = time.monotonic() + timeout
    last, still_since = None, None
    while time.monotonic() < deadline:
        if master.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {master.returncode}")
        workers = children(master.pid)
        if workers:
            ticks = cpu_ticks(workers[0])
            if ticks != last:
                last, still_since = ticks, time.monotonic()
            elif time.monotonic() - still_since >= 1.0:
                return workers[0]
        time.sleep(0.1)
    raise RuntimeError("the gunicorn worker did not finish booting")


def cpu_ns(pids: list[int]) -> int:
    """CPU time (ns) of these processes so far, all their threads (/proc/<pid>/task/*/schedstat)."""
    total = 0
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, IndexError, ValueError):
                pass
    return total


def postgres_pids() -> list[int]:
    master = int((Path(os.environ["BENCH_TMP"]) / "pg/data/postmaster.pid").read_text().split()[0])
    return [master, *children(master)]


def post(port: int, raw: bytes) -> tuple[int, float]:
    started = time.perf_counter()
    with socket.create_connection((HOST, port), timeout=60) as sock:
        sock.sendall(raw)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            match = re.search(rb"Content-Length: (\d+)", head, re.I)
            if match and len(body) >= int(match.group(1)):
                break
    elapsed = time.perf_counter() - started
    return int(data.split(b" ", 2)[1]), elapsed


def run_once(name: str, argv: list[str], port: int, key_id: str, secret: str, warm: int, tag: str) -> dict:
    from bench.load import build_request, charge_body

    log = open(os.environ.get("BENCH_TMP", "/tmp") + f"/gunicorn-{tag}.log", "w")
    proc = subprocess.Popen(argv, cwd=ROOT, env=os.environ.copy(), start_new_session=True, stdout=log, stderr=log)
    try:
        boot_started = time.monotonic()
        worker = wait_booted(proc)
        boot = time.monotonic() - boot_started

        def request(n: int) -> tuple[float, float, int]:
            """(latency, CPU of the worker and of PostgreSQL meanwhile, in seconds; the worker's minor page
            faults meanwhile)."""
            raw = build_request(host=HOST, port=port, method="POST", target="/api/v1/charges", key_id=key_id,
                                secret=secret, body=charge_body(f"{tag}-{n}"))
            pids = [worker, *postgres_pids()]
            before, before_worker = cpu_ns(pids), cpu_ns([worker])
            flt = int(Path(f"/proc/{worker}/stat").read_text().rsplit(")", 1)[1].split()[7])
            status, seconds = post(port, raw)
            cpu = (cpu_ns(pids) - before) / 1e9
            if os.environ.get("BENCH_DEBUG"):
                print(f"  {name} #{n}: {seconds * 1000:.1f} ms, worker CPU {(cpu_ns([worker]) - before_worker) / 1e6:.1f} ms, "
                      f"all {cpu * 1000:.1f} ms, minor faults {int(Path(f'/proc/{worker}/stat').read_text().rsplit(')', 1)[1].split()[7]) - flt}", flush=True)
            if status != 201:
                raise RuntimeError(f"{name}: charge answered {status}")
            faults = int(Path(f"/proc/{worker}/stat").read_text().rsplit(")", 1)[1].split()[7]) - flt
            return seconds, cpu, faults

        first, first_cpu, first_faults = request(0)
        warm_runs = [request(n) for n in range(1, warm + 1)]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    return {"first": first, "warm": statistics.median(r[0] for r in warm_runs), "boot": boot,
            "first_cpu": first_cpu, "warm_cpu": statistics.median(r[1] for r in warm_runs),
            "first_faults": first_faults, "warm_faults": statistics.median(r[2] for r in warm_runs)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--warm", type=int, default=30)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    os.environ.update({"DJANGO_SETTINGS_MODULE": "fluxa_site.settings", "FLUXA_API_RATE": "None", "DEBUG": "false",
                       "FLUXA_WALLET_MNEMONIC": MNEMONIC, "LOG_LEVEL": "WARNING",
                       "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")})
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from merchants.services import merchant_create
    from wallets import services as wallet_services

    call_command("migrate", verbosity=0)
    _, keys = merchant_create(name="Coldstart Co", email="ops@coldstart.example")
    key_id, secret = keys["test"].api_key.key_id, keys["test"].secret
    wallet_services.wallet_root_ensure()
    need = args.starts * 2 * (args.warm + 1) + 50
    wallet_services.deposit_address_pool_replenish(network="tron", mode="test", size=need)
    connections.close_all()

    gunicorn = str(ROOT / ".venv/bin/gunicorn")
    load_start = os.getloadavg()[0]
    results: dict[str, list[dict]] = {"fluxa": [], "cold": []}
    for start in range(args.starts):
        for name in ("fluxa", "cold"):
            port = free_port()
            if name == "fluxa":
                argv = [gunicorn, "-c", str(ROOT / "gunicorn.conf.py"), "-b", f"{HOST}:{port}", "-w", "1",
                        "--threads", "1"]
            else:
                argv = [gunicorn, "-c", str(ROOT / "bench/gunicorn.conf.py"), "-b", f"{HOST}:{port}", "-w", "1",
                        "--threads", "1", "bench.cold_wsgi:application"]
            result = run_once(name, argv, port, key_id, secret, args.warm, f"{name}-{start}")
            results[name].append(result)
            print(name, {k: v if "faults" in k else round(v * 1000, 1) for k, v in result.items()}, flush=True)  # ms
    load_end = os.getloadavg()[0]

    def row(name: str) -> tuple[str, dict]:
        runs = results[name]
        first = statistics.median(r["first"] for r in runs) * 1000
        warm = statistics.median(r["warm"] for r in runs) * 1000
        first_cpu = statistics.median(r["first_cpu"] for r in runs) * 1000
        warm_cpu = statistics.median(r["warm_cpu"] for r in runs) * 1000
        each = ", ".join(f"{r['first'] * 1000:.0f}" for r in runs)
        faults = (f"{statistics.median(r['first_faults'] for r in runs):,.0f} / "
                  f"{statistics.median(r['warm_faults'] for r in runs):,.0f}")
        return (f"| {name} | {each} | {first:.0f} | {warm:.1f} | **{first / warm:.1f}x** | {first_cpu:.1f} | "
                f"{warm_cpu:.1f} | **{first_cpu / warm_cpu:.1f}x** | {faults} | "
                f"{statistics.median(r['boot'] for r in runs):.1f} s |",
                {"first": first, "warm": warm, "first_cpu": first_cpu, "warm_cpu": warm_cpu})

    fluxa_row, fluxa = row("fluxa")
    cold_row, cold = row("cold")
    met = fluxa["first"] <= 3 * fluxa["warm"]
    met_cpu = fluxa["first_cpu"] <= 3 * fluxa["warm_cpu"]
    section = "\n".join([
        BEGIN,
        "## First request of a fresh worker",
        "",
        f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores, "
        f"**shared with other engineers' work** (load average {load_start:.1f} at the start, {load_end:.1f} at the "
        f"end): `bash bench/run_coldstart.sh --starts {args.starts} --warm {args.warm}` (bench/coldstart.py). Each "
        "configuration started that many times, alternating, with 1 worker and 1 thread; after the worker "
        "finished booting, one signed `POST /api/v1/charges` (the worker's first request), then "
        f"{args.warm} more one at a time; latency from connect to the last byte of the answer.",
        "",
        "- **fluxa**: the repo's `gunicorn.conf.py` (`preload_app`; `fluxa_site/wsgi.py` imports the URLconf "
        "and the chain libraries in the master before it forks).",
        "- **cold** (reference, how fluxa ran before): bench/gunicorn.conf.py without preload and "
        "`bench/cold_wsgi.py`, the plain Django WSGI application.",
        "",
        "| configuration | first request of each start, ms | first, median ms | warm, median ms | first / warm | "
        "server CPU first, ms | server CPU warm, ms | first / warm (CPU) | minor page faults, first / warm | "
        "boot to idle worker |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        fluxa_row,
        cold_row,
        "",
        "Server CPU is the CPU time of the worker process (all threads) and of every PostgreSQL process "
        "while the request ran (`/proc/*/task/*/schedstat`): the other engineers' load moves it far less "
        "than latency. Before the first request, fluxa's worker has opened its thread's PostgreSQL connection "
        "and the Redis pool, had PostgreSQL read its tables' catalog, read the channel catalogue, sent "
        "itself one GET /healthz, then one test charge per chain family and one GET /api/v1/orders as a merchant "
        "made for it, in a transaction rolled back (`post_worker_init` in gunicorn.conf.py, "
        "`fluxa_site.wsgi.warm_up` and `warm_charges`; tests/test_web_start.py checks that it leaves no row, "
        "address claim or event behind and uses no real key); the cold reference does all of it, and imports "
        "the URLconf and the chain libraries, on the first request.",
        "",
        NOTE_LEFT,
        "",
        f"Target, the first request within 3x of a warm one: by latency **{'met' if met else 'missed'}** "
        f"({fluxa['first'] / fluxa['warm']:.1f}x; the cold reference {cold['first'] / cold['warm']:.1f}x), by server "
        f"CPU **{'met' if met_cpu else 'missed'}** ({fluxa['first_cpu'] / fluxa['warm_cpu']:.1f}x; the cold "
        f"reference {cold['first_cpu'] / cold['warm_cpu']:.1f}x).",
        END,
    ])
    print(section)
    if not args.no_write:
        write_section(DOC, BEGIN, END, section)
    return 0 if met and met_cpu else 1


if __name__ == "__main__":
    sys.exit(main())
