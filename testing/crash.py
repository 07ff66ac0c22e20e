"""Kill a real worker process at a chosen point of the outgoing-transfer engine, for the crash
tests of settlements and refunds, or of a webhook batch.

    result = run_killed("after_send")       # a subprocess steps the due outbounds; SIGKILLed there
    assert result.killed                    # it really died at that point (not before, not after)
    advance_outbounds()                     # "restart": the same steps in the test process
    ...assert exactly one transfer on the chain

Points (settlements/engine.py):

* ``after_sign``: the signed transaction is stored and committed; the process dies as the
  send step starts (nothing broadcast).
* ``after_send``: the node accepted the bytes; the process dies before the database records it.
* ``before_record``: the transaction is in a block; the process dies before the reconciler
  writes that down.
* ``webhook_after_posts``: a webhook batch (``webhooks.services.deliveries_run`` over every due
  delivery) is under way; the process dies as the ``after_posts``-th POST returns, with other
  POSTs in flight and claimed deliveries not sent yet (webhooks/tests/test_webhooks_batch.py).

The subprocess is a plain Python process (not a mock): it sets up Django on the test database
(the test must use ``django_db(transaction=True)`` so its rows are committed and visible), takes
every ``FLUXA_*`` setting of the test process (so ``settings`` fixture overrides such as
FLUXA_CHAINS apply there too), runs ``settlements.tasks.advance`` over the due outbounds (or the
given ones), and ``os.kill(os.getpid(), SIGKILL)`` at the point: no ``finally``, no atexit,
no rollback courtesy, exactly like a worker killed by the OOM killer or a deploy.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
POINTS = ("after_sign", "after_send", "before_record", "webhook_after_posts")
NOT_REACHED = 3  # the worker's exit code when it finished without reaching the point


@dataclass(frozen=True)
class Crash:
    returncode: int
    stdout: str
    stderr: str

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL


def _settings_snapshot() -> dict:
    snapshot = {}
    for name in dir(settings):
        if name.startswith("FLUXA_"):
            value = getattr(settings, name)
            try:
                json.dumps(value)
            except TypeError:
                continue
            snapshot[name] = value
    return snapshot


def _database_env() -> dict:
    db = connection.settings_dict
    if db["ENGINE"] != "django.db.backends.postgresql":
        raise RuntimeError("crash tests run on PostgreSQL (make test)")
    url = f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return {"DATABASE_URL": url}


def run_killed(point: str, *, outbound_ids: list[str] | None = None, purposes: list[str] | None = None,
               after_posts: int = 1, timeout: float = 120) -> Crash:
    if point not in POINTS:
        raise ValueError(f"unknown crash point {point!r}; one of {POINTS}")
    env = {**os.environ, **_database_env(), "FLUXA_CRASH_POINT": point,
           "FLUXA_CRASH_SETTINGS": json.dumps(_settings_snapshot()),
           "FLUXA_CRASH_OUTBOUNDS": json.dumps(outbound_ids or []),
           "FLUXA_CRASH_PURPOSES": json.dumps(purposes or []), "FLUXA_CRASH_AFTER_POSTS": str(after_posts),
           "DJANGO_SETTINGS_MODULE": "fluxa_site.settings", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "testing.crash"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    return Crash(done.returncode, done.stdout, done.stderr)


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _install_webhooks(after_posts: int) -> None:
    import threading

    from webhooks import transport  # the worker side: imported after django.setup()

    real_post = transport.post
    lock, returned = threading.Lock(), [0]

    def post(**kwargs):
        outcome = real_post(**kwargs)
        with lock:
            returned[0] += 1
            if returned[0] >= after_posts:
                _die()
        return outcome

    transport.post = post


def _install(point: str) -> None:
    if point == "webhook_after_posts":
        _install_webhooks(int(os.environ["FLUXA_CRASH_AFTER_POSTS"]))
        return
    from settlements import engine  # the worker side: imported after django.setup()

    if point == "after_sign":
        engine.outbound_send = lambda *args, **kwargs: _die()
    elif point == "before_record":
        engine._record_landed = lambda *args, **kwargs: _die()
    elif point == "after_send":
        real_family_for = engine.family_for

        def family_for(network, mode):
            family = real_family_for(network, mode)
            real_send = family.send

            def send(raw):
                real_send(raw)
                _die()

            family.send = send
            return family

        engine.family_for = family_for


def _main() -> int:
    import django

    django.setup()
    for name, value in json.loads(os.environ["FLUXA_CRASH_SETTINGS"]).items():
        setattr(settings, name, value)
    _install(os.environ["FLUXA_CRASH_POINT"])
    if os.environ["FLUXA_CRASH_POINT"] == "webhook_after_posts":
        from webhooks import services

        services.deliveries_run()
        return NOT_REACHED
    from settlements import engine, tasks

    ids = json.loads(os.environ["FLUXA_CRASH_OUTBOUNDS"]) or engine.outbounds_due(
        purposes=json.loads(os.environ["FLUXA_CRASH_PURPOSES"]) or None)
    tasks.advance(ids)
    return NOT_REACHED


if __name__ == "__main__":
    sys.exit(_main())
