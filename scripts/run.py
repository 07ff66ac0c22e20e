"""`make run`: the gateway on its embedded defaults, one command, Ctrl-C stops all of it.

SQLite and kombu's filesystem broker under the data folder (git-ignored .data/ by default);
secrets for this installation are generated into <data>/run.env on first start (mode 0600).
Starts the web server and a Celery worker with embedded beat, and stops both on Ctrl-C or
SIGTERM, or as soon as either of them exits.
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--data-dir", default=os.environ.get("FLUXA_DATA_DIR", str(ROOT / ".data")))
    args = parser.parse_args()

    data_dir = Path(args.data_dir).resolve()
    for sub in ("broker/out", "broker/processed", "broker/control", "staticfiles"):
        (data_dir / sub).mkdir(parents=True, exist_ok=True)
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

    _manage("migrate", "--noinput", "-v", "0", env=env)
    _manage("demo_bootstrap", env=env)

    procs = [
        subprocess.Popen(
            [PYTHON, str(ROOT / "manage.py"), "runserver", f"{args.host}:{args.port}", "--noreload"],
            env=env, cwd=ROOT, start_new_session=True,
        ),
        subprocess.Popen(
            [PYTHON, "-m", "celery", "-A", "fluxa_site", "worker", "--beat", "--loglevel", "INFO",
             "--concurrency", "2", "--without-gossip", "--without-mingle",
             "--schedule", str(data_dir / "celerybeat-schedule")],
            env=env, cwd=ROOT, start_new_session=True,
        ),
    ]
    print(f"fluxa is running at http://{args.host}:{args.port}/ (docs: /api/v1/docs). Ctrl-C stops it.",
          flush=True)

    stopping = False

    def _on_signal(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    exit_code = 0
    try:
        while not stopping:
            for proc in procs:
                if proc.poll() is not None:
                    print(f"process {proc.args[2:4]} exited with {proc.returncode}; stopping.", file=sys.stderr)
                    exit_code = proc.returncode or 1
                    stopping = True
            time.sleep(0.2)
    finally:
        _stop(procs)
    print("fluxa stopped.", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
