"""Beat jobs and worker tasks of settlements. Each is idempotent and safe to run twice at
once: every write re-checks its row under a lock (see settlements/engine.py)."""

from __future__ import annotations

import logging

from celery import shared_task

from settlements import engine, feepayer, selectors, services
from settlements.models import OutboundPurpose

logger = logging.getLogger(__name__)

SETTLEMENT_PURPOSES = [OutboundPurpose.SETTLEMENT, OutboundPurpose.FEE, OutboundPurpose.TOPUP]


@shared_task(name="settlements.tasks.plan_settlements", ignore_result=True)
def plan_settlements() -> int:
    planned = services.settlements_plan_due()
    planned += services.settlements_retry_held()
    return len(planned)


def advance(outbound_ids: list[str], *, sync=None) -> int:
    """Step each outbound as far as it goes, then bring its settlements in line (and, with
    `sync(outbound_id)`, whatever else it carries: a deposit refund)."""
    moved = 0
    for outbound_id in outbound_ids:
        try:
            for _ in range(4):  # planned -> signed -> broadcast -> (in a block) in one pass when it can
                step = engine.outbound_step(outbound_id)
                if not step.changed:
                    break
                moved += 1
        except Exception as error:  # one outbound's surprise never stops every other settlement
            logger.exception("outbound %s: step failed", outbound_id)
            engine.outbound_defer(outbound_id=outbound_id, reason=f"step failed: {error!r}", seconds=60)
        for settlement_id in selectors.settlement_ids_of_outbound(outbound_id):
            services.settlement_sync(settlement_id=settlement_id)
        if sync is not None:
            sync(outbound_id)
    return moved


@shared_task(name="settlements.tasks.advance_outbounds", ignore_result=True)
def advance_outbounds() -> int:
    return advance(engine.outbounds_due(purposes=SETTLEMENT_PURPOSES))


@shared_task(name="settlements.tasks.advance_settlement", ignore_result=True)
def advance_settlement(settlement_id: str) -> int:
    return advance(selectors.open_outbound_ids_of_settlement(settlement_id))


@shared_task(name="settlements.tasks.check_fee_payers", ignore_result=True)
def check_fee_payers() -> int:
    return len(feepayer.fee_payers_check())
