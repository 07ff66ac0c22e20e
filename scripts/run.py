"""`make run`: the gateway on its embedded defaults, one command, Ctrl-C stops all of it.

SQLite and the file broker (fluxa_site/broker.py) under the data folder (git-ignored .data/ by
default); secrets for this installation are generated into <data>/run.env on first start
(mode 0600). Starts the web server and a Celery worker with embedded beat and supervises them:
a process that exits on its own is started again (after 1 s, doubling up to 30 s while it keeps
failing within a minute of its start), so a crashed worker never takes the web server down;
one that fails RESTART_LIMIT times in a row stops everything. Ctrl-C or SIGTERM stops all.

With --devchain (`make run DEVCHAIN=1`), `manage.py devchain` is started first: a local anvil
and a regtest litecoind, the test token deployed, and FLUXA_CHAINS pointed at them
(docs/chains.md, "Local chains for development"). The chains are not restarted: when devchain
exits, everything stops.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
sys.path.insert(0, str(ROOT))

from fluxa_site.localenv import ensure_env_file  # noqa: E402


def _manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([PYTHON, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, check=True)


def _stop(procs: list[subprocess.Popen], grace: float = 10.0) -> None:
    for proc in procs:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


RESTART_LIMIT = 5        # failures in a row (each within STABLE_SECONDS of its start) that stop make run
STABLE_SECONDS = 60.0    # a process up this long has its failure count reset
BACKOFF_MAX = 30.0


class Service:
    """One supervised child process (its own process group, so a stop reaches its children)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], *, restart: bool = True):
        self.name, self.argv, self.env, self.restart = name, argv, env, restart
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0
        self.failures = 0
        self.restarts = 0
        self.due_at: float | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=ROOT, start_new_session=True)
        self.started_at = time.monotonic()
        self.due_at = None

    def check(self) -> str | None:
        """Restart the process when it has exited and its backoff is over; returns why make
        run must stop, or None."""
        now = time.monotonic()
        if self.due_at is not None:
            if now >= self.due_at:
                self.restarts += 1
                print(f"run.py: starting {self.name} again (restart {self.restarts}).", file=sys.stderr, flush=True)
                self.start()
            return None
        code = self.proc.poll()
        if code is None:
            return None
        if not self.restart:
            return f"{self.name} exited with {code}"
        self.failures = self.failures + 1 if now - self.started_at < STABLE_SECONDS else 1
        if self.failures >= RESTART_LIMIT:
            return f"{self.name} exited with {code}, {self.failures} times in a row"
        delay = min(BACKOFF_MAX, 2.0 ** (self.failures - 1))
        print(f"run.py: {self.name} (pid {self.proc.pid}) exited with {code}; starting it again in {delay:.0f} s.",
              file=sys.stderr, flush=True)
        self.due_at = now + delay
        return None


def _wait_for_devchain(service: Service, env_path: Path, stopping, timeout: float = 120.0) -> dict:
    import json

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stopping():
            raise SystemExit("run.py: interrupted while devchain was starting")
        if env_path.exists():
            return json.loads(env_path.read_text())
        if service.proc.poll() is not None:
            raise SystemExit(f"run.py: devchain exited with {service.proc.returncode} before its chains were up")
        time.sleep(0.2)
    raise SystemExit(f"run.py: devchain did not write {env_path} within {timeout:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--data-dir", default=os.environ.get("FLUXA_DATA_DIR", str(ROOT / ".data")))
    parser.add_argument("--devchain", action="store_true", default=os.environ.get("DEVCHAIN", "") not in ("", "0"),
                        help="start local anvil + regtest litecoind (manage.py devchain) and scan them")
    parser.add_argument("--devchain-args", default="",
                        help="extra arguments for manage.py devchain, e.g. '--no-litecoin --anvil-port 0'")
    args = parser.parse_args()

    data_dir = Path(args.data_dir).resolve()
    (data_dir / "staticfiles").mkdir(parents=True, exist_ok=True)
    env_file = ensure_env_file(data_dir)

    env = {
        **os.environ,
        "FLUXA_ENV_FILE": str(env_file),
        "FLUXA_DATA_DIR": str(data_dir),
        "DJANGO_SETTINGS_MODULE": "fluxa_site.settings",
        "PYTHONUNBUFFERED": "1",
    }
    # The embedded defaults: drop any server URLs inherited from the shell (e.g. from `make test`).
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL"):
        env.pop(name, None)

    stopping = False

    def _on_signal(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)

    _manage("migrate", "--noinput", "-v", "0", env=env)
    services: list[Service] = []
    exit_code = 0
    try:
        if args.devchain:
            import shlex

            ready = data_dir / "devchain" / "env.json"
            ready.unlink(missing_ok=True)
            chain = Service("devchain", [PYTHON, str(ROOT / "manage.py"), "devchain",
                                         *shlex.split(args.devchain_args)], env, restart=False)
            services.append(chain)
            chain.start()
            env.update(_wait_for_devchain(chain, ready, lambda: stopping))
        _manage("demo_bootstrap", "--base-url", f"http://{args.host}:{args.port}", env=env)

        services += [
            Service("web", [PYTHON, str(ROOT / "manage.py"), "runserver", f"{args.host}:{args.port}", "--noreload"],
                    env),
            # No -Q: the one worker consumes every queue of CELERY_TASK_QUEUES (scan, settlements,
            # webhooks, maintenance), and its embedded beat is the only holder of the beat lease.
            Service("worker", [PYTHON, "-m", "celery", "-A", "fluxa_site", "worker", "--beat", "--loglevel", "INFO",
                               "--concurrency", "2", "--without-gossip", "--without-mingle",
                               "--schedule", str(data_dir / "celerybeat-schedule")], env),
        ]
        for service in services:
            if service.proc is None:
                service.start()
        print(f"fluxa is running at http://{args.host}:{args.port}/ (docs: /api/v1/docs). Ctrl-C stops it.",
              flush=True)
        while not stopping:
            for service in services:
                reason = service.check()
                if reason:
                    print(f"run.py: {reason}; stopping.", file=sys.stderr, flush=True)
                    exit_code = 1
                    stopping = True
            time.sleep(0.2)
    finally:
        _stop([s.proc for s in services if s.proc is not None])
    print("fluxa stopped.", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
