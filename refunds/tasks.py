"""Worker tasks and beat jobs of deposit refunds. Each is idempotent and safe to run twice at
once: the engine re-checks every outbound under its lock, refund_sync the refund under the
order's and its own."""

from __future__ import annotations

import logging

from celery import shared_task

from refunds import selectors, services
from settlements import engine
from settlements.tasks import advance

logger = logging.getLogger(__name__)


def _sync_refunds_of(outbound_id: str) -> None:
    for refund_id in selectors.refund_ids_of_outbound(outbound_id):
        services.refund_sync(refund_id=refund_id)


@shared_task(name="refunds.tasks.advance_refund", ignore_result=True)
def advance_refund(refund_id: str) -> int:
    """Step a deposit refund's transfers as far as they go now (enqueued after it is created)."""
    ids = selectors.open_outbound_ids_of_refund(refund_id)
    moved = advance(ids, sync=_sync_refunds_of)
    if not ids:
        services.refund_sync(refund_id=refund_id)
    return moved


@shared_task(name="refunds.tasks.advance_refunds", ignore_result=True)
def advance_refunds() -> int:
    """Beat: every open deposit refund's due transfers."""
    return advance(engine.outbounds_due(among=selectors.open_refund_outbounds()), sync=_sync_refunds_of)


@shared_task(name="refunds.tasks.auto_refunds", ignore_result=True)
def auto_refunds() -> int:
    """Beat: the automatic refunds of merchants who turned them on (Merchant.auto_refund)."""
    sent = 0
    for order_id in services.auto_refunds_due():
        if services.auto_refund(order_id=order_id) is not None:
            sent += 1
    return sent
