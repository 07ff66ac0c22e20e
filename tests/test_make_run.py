"""`make run` end to end: scripts/run.py on a fresh data folder, as a new user starts it.

It runs on its embedded defaults (SQLite, filesystem broker), serves /healthz and the docs,
prints the demo test key once, that key signs a request the API accepts, a worker with beat
comes up, and SIGINT (Ctrl-C) stops every process.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from fluxa_client import FluxaClient
from testing.httpserver import QuietHandler, free_port, serve, url_of

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


class _Run:
    def __init__(self, data_dir: Path, port: int):
        env = {k: v for k, v in os.environ.items()
               if k not in {"SECRET_KEY", "FLUXA_ENCRYPTION_KEYS", "DATABASE_URL", "CELERY_BROKER_URL",
                            "CACHE_URL", "FLUXA_DATA_DIR", "DJANGO_SETTINGS_MODULE"}}
        self.port = port
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "run.py"), "--port", str(port), "--data-dir", str(data_dir)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, predicate, timeout: float = 90.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if predicate(line):
                    return line
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError("not seen in output:\n" + "\n".join(self.lines[-60:]))

    def get(self, path: str) -> tuple[int, bytes]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as resp:
            return resp.status, resp.read()

    def wait_healthy(self, timeout: float = 90.0) -> bytes:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                status, body = self.get("/healthz")
                if status == 200:
                    return body
            except OSError:
                pass
            assert self.proc.poll() is None, "\n".join(self.lines[-60:])
            time.sleep(0.2)
        raise AssertionError("never healthy:\n" + "\n".join(self.lines[-60:]))

    def interrupt(self, timeout: float = 30.0) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_make_run_first_start_serves_and_ctrl_c_stops_everything(tmp_path):
    run = _Run(tmp_path / "data", free_port())
    try:
        key_id = run.wait_for(lambda l: "FLUXA_KEY_ID=" in l).split("=", 1)[1]
        secret = run.wait_for(lambda l: "FLUXA_SECRET=" in l).split("=", 1)[1]
        assert b'"database": {"ok": true' in run.wait_healthy()
        run.wait_for(lambda l: "ready." in l and "celery@" in l)  # the worker (with beat) is up

        status, docs = run.get("/api/v1/docs")
        assert status == 200 and b"swagger-ui" in docs

        client = FluxaClient(f"http://127.0.0.1:{run.port}", key_id=key_id, secret=secret)
        status, body = client.request("GET", "/api/v1/account")
        assert status == 200, body
        assert body["mode"] == "test" and body["key_id"] == key_id

        # Demo data: test orders in several states, and a charge works end to end.
        status, listed = client.request("GET", "/api/v1/orders")
        assert status == 200 and {o["status"] for o in listed["data"]} == {"paid", "pending", "created"}
        # The embedded worker and broker deliver a webhook for a new charge.
        received = []

        class Hook(QuietHandler):
            def do_POST(self):
                received.append(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(204)
                self.end_headers()

        with serve(Hook, name="webhook-hook") as hook:
            status, endpoint = client.request("POST", "/api/v1/webhook_endpoints", json_body={
                "url": url_of(hook, "/hook"), "enabled_events": ["order.created"]})
            assert status == 201, endpoint
            status, charge = client.request("POST", "/api/v1/charges", json_body={
                "amount": "5", "currency": "USDT", "network": "tron"})
            assert status == 201, charge
            deadline = time.monotonic() + 60
            while not received and time.monotonic() < deadline:
                time.sleep(0.2)
        assert received and charge["order"]["id"].encode() in received[0], "\n".join(run.lines[-40:])
        status, qr = run.get(charge["instruction"]["qr_url"].split(str(run.port), 1)[1])
        assert status == 200 and qr.startswith(b"\x89PNG")

        bad = FluxaClient(f"http://127.0.0.1:{run.port}", key_id=key_id, secret="wrong")
        status, body = bad.request("GET", "/api/v1/account")
        assert status == 401 and body["error"]["code"] == "invalid_signature"

        assert run.interrupt() == 0
        assert "fluxa stopped." in run.lines
        assert not _port_open(run.port)
        # Nothing secret was written where it should not be: the data folder holds the
        # encrypted store and run.env (0600), nothing else readable by others.
        assert oct((tmp_path / "data" / "run.env").stat().st_mode)[-3:] == "600"
    finally:
        run.kill()

    # A second start reuses the data: no new merchant, and the secret is not shown again.
    again = _Run(tmp_path / "data", free_port())
    try:
        again.wait_for(lambda l: "exists" in l and key_id in l)
        again.wait_healthy()
        assert not any(secret in line for line in again.lines)
        assert again.interrupt() == 0
    finally:
        again.kill()


def test_manage_py_works_in_a_fresh_checkout_without_any_environment(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in {"SECRET_KEY", "FLUXA_ENCRYPTION_KEYS", "FLUXA_ENV_FILE", "DATABASE_URL",
                        "CELERY_BROKER_URL", "CACHE_URL", "DJANGO_SETTINGS_MODULE"}}
    env["FLUXA_DATA_DIR"] = str(tmp_path / "data")

    done = subprocess.run([sys.executable, str(ROOT / "manage.py"), "makemigrations", "--check", "--dry-run"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stdout + done.stderr
    env_file = tmp_path / "data" / "run.env"
    assert "SECRET_KEY=" in env_file.read_text()
    assert oct(env_file.stat().st_mode)[-3:] == "600"
