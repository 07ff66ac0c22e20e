"""Kill a real worker process at a chosen point of the outgoing-transfer engine, for the crash
tests of settlements and refunds, of a webhook batch, or of a chain scan pass.

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

Points of a scan pass (``charges.tasks.scan_network(network, mode)``, the beat job: the adapter
built from FLUXA_CHAINS, ``charges.watching.network_scan`` over it; tests/test_chain_evm.py):

* ``scan_after_commit``: the scanner's transaction (``wallets.scanning.scan_network``) has
  committed the pass's transfers and left the touched orders pending on the cursor; the process
  dies as ``orders_apply_transfers`` is called, before any order is applied.
* ``scan_mid_apply``: ``orders.services.orders_apply_transfers`` applies the touched orders in
  chunks of ``APPLY_CHUNK`` (``apply_chunk=`` sets it, in the subprocess only), one
  transaction each; the process dies as the first chunk's COMMIT returns (before its on-commit
  callbacks), with the later chunks not applied and the cursor not cleared.

The subprocess is a plain Python process (not a mock): it sets up Django on the test database
(the test must use ``django_db(transaction=True)`` so its rows are committed and visible), takes
every ``FLUXA_*`` setting of the test process (so ``settings`` fixture overrides such as
FLUXA_CHAINS apply there too), runs ``settlements.tasks.advance`` over the due outbounds (or the
given ones; a webhook batch or a scan pass for their points), and ``os.kill(os.getpid(),
SIGKILL)`` at the point: no ``finally``, no atexit, no rollback courtesy, exactly like a worker
killed by the OOM killer or a deploy.
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
from django.db import connection, connections

ROOT = Path(__file__).resolve().parent.parent
POINTS = ("after_sign", "after_send", "before_record", "webhook_after_posts", "scan_after_commit", "scan_mid_apply")
SCAN_POINTS = ("scan_after_commit", "scan_mid_apply")
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
               after_posts: int = 1, network: str | None = None, mode: str | None = None,
               apply_chunk: int | None = None, timeout: float = 120) -> Crash:
    """`network` and `mode`: the pass a scan point runs (required there); `apply_chunk`: the
    orders applied per transaction in that subprocess (orders.services.APPLY_CHUNK)."""
    if point not in POINTS:
        raise ValueError(f"unknown crash point {point!r}; one of {POINTS}")
    if point in SCAN_POINTS and not (network and mode):
        raise ValueError(f"the crash point {point!r} scans one (network, mode): give both")
    if apply_chunk is not None and apply_chunk < 1:
        raise ValueError("apply_chunk is a number of orders, at least 1")
    env = {**os.environ, **_database_env(), "FLUXA_CRASH_POINT": point,
           "FLUXA_CRASH_SETTINGS": json.dumps(_settings_snapshot()),
           "FLUXA_CRASH_OUTBOUNDS": json.dumps(outbound_ids or []),
           "FLUXA_CRASH_PURPOSES": json.dumps(purposes or []), "FLUXA_CRASH_AFTER_POSTS": str(after_posts),
           "FLUXA_CRASH_NETWORK": network or "", "FLUXA_CRASH_MODE": mode or "",
           "FLUXA_CRASH_APPLY_CHUNK": "" if apply_chunk is None else str(apply_chunk),
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


def _install_scan(point: str, apply_chunk: str) -> None:
    from charges import watching  # the worker side: imported after django.setup()
    from orders import services

    if apply_chunk:
        if not hasattr(services, "APPLY_CHUNK"):
            raise RuntimeError("orders.services.APPLY_CHUNK is gone: the crash runner cannot set the chunk size")
        services.APPLY_CHUNK = int(apply_chunk)
    if point == "scan_after_commit":
        watching.orders_apply_transfers = lambda **kwargs: _die()
        return
    # scan_mid_apply: each chunk is its own outermost transaction, so the first COMMIT while the
    # orders are applied is the first chunk's (the scanner's own has committed before).
    real_apply, database = watching.orders_apply_transfers, connections["default"]
    real_commit, applying = database.commit, [False]

    def commit():
        real_commit()
        if applying[0]:
            _die()

    def apply(**kwargs):
        applying[0] = True
        return real_apply(**kwargs)

    database.commit = commit
    watching.orders_apply_transfers = apply


def _install(point: str) -> None:
    if point in SCAN_POINTS:
        _install_scan(point, os.environ["FLUXA_CRASH_APPLY_CHUNK"])
        return
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
    if os.environ["FLUXA_CRASH_POINT"] in SCAN_POINTS:
        from charges import tasks as charge_tasks

        charge_tasks.scan_network(os.environ["FLUXA_CRASH_NETWORK"], os.environ["FLUXA_CRASH_MODE"])
        return NOT_REACHED
    from settlements import engine, tasks

    ids = json.loads(os.environ["FLUXA_CRASH_OUTBOUNDS"]) or engine.outbounds_due(
        purposes=json.loads(os.environ["FLUXA_CRASH_PURPOSES"]) or None)
    tasks.advance(ids)
    return NOT_REACHED


if __name__ == "__main__":
    sys.exit(_main())
