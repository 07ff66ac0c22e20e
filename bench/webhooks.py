"""Webhook deliveries per second to a local receiver with 2 Celery workers.

Run: `bash bench/run_webhooks.sh` (private PostgreSQL + Redis via bench/services.sh).

A receiver (a separate process: ThreadingHTTPServer on 127.0.0.1 answering 200 at once) gets
the deliveries of N events. The events and their delivery rows are written first with the
workers stopped (as a burst of order changes would leave them), then two worker processes
(prefork, concurrency 1 each) start and the clock runs until every delivery has succeeded or
the time limit is hit. Each delivery is the real path: claim, sign, POST, record the attempt.
The result replaces the "Webhook deliveries" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import signal
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing import Process, Value
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.report import write_section  # noqa: E402  (the repo root is on the path now)
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- webhooks:begin -->", "<!-- webhooks:end -->"


def _receiver(port_out, stop_after: float) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_out.value = server.server_address[1]
    server.timeout = 0.5
    deadline = time.monotonic() + stop_after
    while time.monotonic() < deadline:
        server.handle_request()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit-seconds", type=float, default=180)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fluxa_site.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from merchants.services import merchant_create
    from webhooks import services
    from webhooks.models import Delivery

    call_command("migrate", "--noinput", "-v", "0")
    port = Value("i", 0)
    receiver = Process(target=_receiver, args=(port, args.limit_seconds + 60), daemon=True)
    receiver.start()
    while not port.value:
        time.sleep(0.05)

    merchant, _ = merchant_create(name="Bench", email="bench@example.com")
    services.endpoint_create(merchant=merchant, mode="test", url=f"http://127.0.0.1:{port.value}/hook")
    payload = {"order": {"id": "ord_bench", "status": "paid", "amount": "49.9", "currency": "USDT"}}
    original_enqueue = services.enqueue
    services.enqueue = lambda ids: None  # the rows only: the workers are not running yet
    for start in range(0, args.events, 500):
        with transaction.atomic():
            for _ in range(min(500, args.events - start)):
                services.event_emit(merchant=merchant, mode="test", type="order.paid", data=payload)
    services.enqueue = original_enqueue
    ids = list(Delivery.objects.values_list("pk", flat=True))
    services.enqueue(ids)  # what the on-commit hook does, all at once
    connection.close()

    workers = [
        subprocess.Popen([sys.executable, "-m", "celery", "-A", "fluxa_site", "worker", "--pool", "prefork",
                          "--concurrency", "1", "--loglevel", "WARNING", "-n", f"bench{i}@%h",
                          "--without-gossip", "--without-mingle", "--without-heartbeat"],
                         cwd=ROOT, start_new_session=True)
        for i in range(args.workers)
    ]
    started = time.monotonic()
    done = 0
    try:
        while time.monotonic() - started < args.limit_seconds:
            done = Delivery.objects.filter(status="succeeded").count()
            if done >= len(ids):
                break
            time.sleep(0.25)
        elapsed = time.monotonic() - started
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=30)
        receiver.terminate()

    attempts = sorted(Delivery.objects.filter(status="succeeded").values_list("delivered_at", flat=True))
    # The steady rate: from the first success to the last (worker start-up excluded).
    steady = (attempts[-1] - attempts[0]).total_seconds() if len(attempts) > 1 else float("nan")
    rate_steady = (len(attempts) - 1) / steady if steady else float("nan")
    rate_wall = done / elapsed
    section = "\n".join([
        BEGIN,
        "## Webhook deliveries",
        "",
        f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores: "
        f"`bash bench/run_webhooks.sh` ({args.events} events, {args.workers} Celery worker processes, "
        "prefork with concurrency 1 each, Redis broker, PostgreSQL, one receiver process on 127.0.0.1 "
        "answering 200 at once). Each delivery is the real path: claim the row, sign, POST, record the "
        "attempt and the outcome.",
        "",
        "| deliveries | succeeded | wall time (incl. worker start) | deliveries/s (wall) | deliveries/s (steady) |",
        "|---|---|---|---|---|",
        f"| {len(ids)} | {done} | {elapsed:.1f} s | {rate_wall:.0f} | {rate_steady:.0f} |",
        "",
        "Each worker process handles one delivery at a time, waiting on the receiver and on PostgreSQL; "
        "more worker processes or a threads pool (`--pool threads`) should raise the rate (not measured here).",
        END,
    ])
    write_section(DOC, BEGIN, END, section)
    print(section)
    return 0 if done == len(ids) else 1


if __name__ == "__main__":
    sys.exit(main())
