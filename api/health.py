"""/healthz: is the database reachable, is the broker reachable. 200 when both are, else 503."""

import time

from celery import current_app
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from chains.adapters.registry import configured
from settlements.feepayer import fee_payer_notices
from wallets.selectors import network_health


def _check(probe) -> dict:
    started = time.monotonic()
    try:
        probe()
    except Exception as exc:  # reported, never raised: this endpoint must always answer
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True, "latency_ms": round((time.monotonic() - started) * 1000, 1)}


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _broker() -> None:

    with current_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def _chains() -> dict:
    """Each scanned network: can payments be seen on it, the age of the newest block its
    scanner saw, and what is wrong when they cannot."""
    report = {}
    for network, mode in configured():
        health = network_health(network=network, mode=mode)
        report[f"{network}/{mode}"] = {
            "ok": health.ok,
            "lag_seconds": None if health.lag_seconds is None else round(health.lag_seconds, 1),
            **({"problem": health.problem} if health.problem else {}),
        }
    return report


@require_GET
def healthz(request):
    checks = {"database": _check(_database), "broker": _check(_broker)}
    healthy = all(item["ok"] for item in checks.values())
    chains = _chains() if checks["database"]["ok"] else {}
    body = {"status": "ok" if healthy else "degraded", **checks, "chains": chains}
    if not all(item["ok"] for item in chains.values()):
        body["status"] = "degraded" if healthy else body["status"]
    # A fee payer below its threshold (settlements/feepayer.py) is reported before it blocks a
    # settlement; the process still serves.
    low = fee_payer_notices() if checks["database"]["ok"] else []
    if low:
        body["fee_payers_low"] = low
        body["status"] = "degraded" if healthy else body["status"]
    # A lagging chain degrades the report but not the process: the web tier still serves.
    return JsonResponse(body, status=200 if healthy else 503)
