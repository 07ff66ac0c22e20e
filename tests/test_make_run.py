"""`make run` end to end: scripts/run.py on a fresh data folder, as a new user starts it.

It runs on its embedded defaults (SQLite, file broker), serves /healthz and the docs,
prints the demo test key once, that key signs a request the API accepts, a worker with beat
comes up, and SIGINT (Ctrl-C) stops every process. With a local chain (`--devchain`: anvil) it
starts on the first try, sees a real payment, survives an empty broker message file and a
killed worker.
"""

import http.cookiejar
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from fluxa_client import FluxaClient
from testing.httpserver import QuietHandler, free_port, serve, url_of

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


class _Run:
    def __init__(self, data_dir: Path, port: int, *, devchain: str | None = None):
        env = {k: v for k, v in os.environ.items()
               if k not in {"SECRET_KEY", "FLUXA_ENCRYPTION_KEYS", "DATABASE_URL", "CELERY_BROKER_URL",
                            "CACHE_URL", "FLUXA_DATA_DIR", "DJANGO_SETTINGS_MODULE", "FLUXA_CHAINS", "DEVCHAIN"}}
        self.env = env
        self.port = port
        self.lines: list[str] = []
        extra = [] if devchain is None else ["--devchain", "--devchain-args", devchain]
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "run.py"), "--port", str(port), "--data-dir", str(data_dir),
             *extra],
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


def _portal_sign_in(port: int, email: str, password: str) -> str:
    """Django's login form at /portal/login, as a browser posts it; returns where it lands."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    base = f"http://127.0.0.1:{port}"
    opener.open(base + "/", timeout=10).read()  # / sends a visitor to the portal, then to its login
    token = next(c.value for c in jar if c.name == "csrftoken")
    form = urllib.parse.urlencode({"username": email, "password": password, "csrfmiddlewaretoken": token})
    with opener.open(urllib.request.Request(base + "/portal/login", data=form.encode(),
                                            headers={"Referer": base + "/portal/login"}), timeout=10) as resp:
        assert b"Dashboard" in resp.read()
        return resp.url


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

        # The demo owner's portal login, printed next to the key, signs in.
        login = run.wait_for(lambda l: "Portal: /portal/login" in l).split()
        email, password = login[login.index("email") + 1], login[login.index("password") + 1]
        assert _portal_sign_in(run.port, email, password) == f"http://127.0.0.1:{run.port}/portal/"

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


def _children(pid: int) -> dict[int, str]:
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found[int(entry)] = cmdline
    return found


def _worker_pid(run: _Run) -> int:
    pids = [pid for pid, cmd in _children(run.proc.pid).items() if "celery" in cmd]
    assert len(pids) == 1, _children(run.proc.pid)
    return pids[0]


def test_make_run_with_a_local_chain_starts_first_try_sees_a_real_payment_and_outlives_its_worker(tmp_path):
    """`make run DEVCHAIN=1`: anvil started, the first start bootstraps the demo merchant (no
    network_unavailable), a charge paid on anvil with `manage.py devchain pay` is seen paid; an
    empty message file in the broker folder is set aside, and a worker killed outright is
    started again while the web server stays up."""
    data = tmp_path / "data"
    run = _Run(data, free_port(), devchain="--no-litecoin --anvil-port 0 --block-time 1")
    try:
        key_id = run.wait_for(lambda l: "FLUXA_KEY_ID=" in l).split("=", 1)[1]
        secret = run.wait_for(lambda l: l.strip().startswith("FLUXA_SECRET=")).split("=", 1)[1]
        run.wait_for(lambda l: "devchain is up" in l)
        run.wait_healthy()
        run.wait_for(lambda l: "ready." in l and "celery@" in l)
        client = FluxaClient(f"http://127.0.0.1:{run.port}", key_id=key_id, secret=secret)

        # A charge on the local chain: accepted once the scanner has seen anvil once.
        deadline = time.monotonic() + 40
        while True:
            status, charge = client.request("POST", "/api/v1/charges", json_body={
                "amount": "2.5", "currency": "USDT", "channel": "usdt_erc20"})
            if status == 201 or time.monotonic() > deadline:
                break
            assert charge["error"]["code"] == "network_unavailable", charge
            time.sleep(1)
        assert status == 201, charge
        state = json.loads((data / "devchain" / "state.json").read_text())
        assert charge["instruction"]["token_contract"] == state["token_contract"]
        paid = subprocess.run([sys.executable, str(ROOT / "manage.py"), "devchain", "pay", charge["order"]["id"]],
                              cwd=ROOT, env={**run.env, "FLUXA_DATA_DIR": str(data),
                                             "FLUXA_ENV_FILE": str(data / "run.env")},
                              capture_output=True, text=True, timeout=60)
        assert paid.returncode == 0 and "sent 2.5 USDT" in paid.stdout, paid.stdout + paid.stderr

        # Meanwhile the broker folder gets what kombu's own writer could leave: an empty file (in
        # the maintenance queue, which the one worker consumes with the three others).
        (data / "broker" / "out" / "1_00000000-0000-0000-0000-000000000000.maintenance.msg").write_bytes(b"")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status, body = client.request("GET", f"/api/v1/orders/{charge['order']['id']}")
            if body["order"]["status"] == "paid":
                break
            time.sleep(1)
        assert body["order"]["status"] == "paid", body
        run.wait_for(lambda l: "set aside unreadable message file" in l)
        assert [p.name for p in (data / "broker" / "corrupt").iterdir()] == [
            "1_00000000-0000-0000-0000-000000000000.maintenance.msg"]

        # The worker dies outright: run.py starts it again, the web server stays up throughout.
        first = _worker_pid(run)
        os.killpg(first, signal.SIGKILL)
        run.wait_for(lambda l: "starting worker again" in l, timeout=30)
        assert run.get("/healthz")[0] == 200
        deadline = time.monotonic() + 30
        while _worker_pid(run) == first and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _worker_pid(run) != first
        assert run.proc.poll() is None

        assert run.interrupt() == 0
        assert not _port_open(run.port)
        assert not _children(run.proc.pid)
        with pytest.raises(OSError):
            urllib.request.urlopen(state["anvil_url"], timeout=2)
    finally:
        run.kill()
