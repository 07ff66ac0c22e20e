"""Run one settlement beat pass (settlements.tasks.advance_outbounds) in a REAL child process
that SIGKILLs itself at a chosen point, for the crash tests of a chain family.

The child is `python -c` with the test's settings handed over the way a deployment hands them
(environment variables: DATABASE_URL naming the test database, FLUXA_CHAINS, ...), so it sees
what the test committed (the test needs `django_db(transaction=True)`). The points:

* "after_sign": the family's `send` kills the process before it reaches the node (the signed
  candidate is committed, nothing was broadcast);
* "after_broadcast": `send` reaches the node, which accepts the transaction, then the process
  dies before the database records the broadcast;
* "before_record": the reconciler found the transaction in a block and the process dies
  before it writes that down (engine._record_landed).

    rc = run_killed("after_broadcast", family="xrpl", env={"FLUXA_CHAINS": {...}})
    assert rc == -signal.SIGKILL
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import os, signal, sys
import django
django.setup()
from settlements import engine, tasks
from settlements.families import FAMILIES

point, family = sys.argv[1], sys.argv[2]
cls = FAMILIES[family]
original_send = cls.send

def die():
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)

if point == "after_sign":
    cls.send = lambda self, raw: die()
elif point == "after_broadcast":
    def send(self, raw):
        original_send(self, raw)
        die()
    cls.send = send
elif point == "before_record":
    engine._record_landed = lambda *args, **kwargs: die()
else:
    raise SystemExit(f"unknown point {point}")
tasks.advance_outbounds()
print("finished without reaching", point)
"""


def database_url() -> str:
    db = settings.DATABASES["default"]
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    return f"postgres://{auth}{db.get('HOST') or ''}:{db.get('PORT') or 5432}/{db['NAME']}"


def run_killed(point: str, *, family: str, env: dict[str, object], timeout: float = 60) -> int:
    """The child's return code (-SIGKILL when it died at the point). `env` values that are not
    strings are passed as JSON (the settings read them with env.json)."""
    child_env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "fluxa_site.settings",
                 "PYTHONPATH": str(ROOT)}
    for name, value in env.items():
        child_env[name] = value if isinstance(value, str) else json.dumps(value)
    done = subprocess.run([sys.executable, "-c", _CHILD, point, family], env=child_env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode not in (0, -9):
        raise RuntimeError(f"the child failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.returncode
