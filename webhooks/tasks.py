from celery import current_app, shared_task
from django.conf import settings

from webhooks.services import BATCH_TASK, DELIVER_TASK, deliveries_drain, dispatch_due


@shared_task(name=BATCH_TASK, ignore_result=True)
def deliver_batch(delivery_ids: list[int] | None = None) -> int:
    """Deliver what is due, in batches, for up to FLUXA_WEBHOOK_BATCH_SECONDS (`delivery_ids`,
    the deliveries whose commit sent this task, are among them unless another batch took them).
    When the budget ran out with work left, another batch task is queued behind the others."""
    made, budget_spent = deliveries_drain(budget_seconds=settings.FLUXA_WEBHOOK_BATCH_SECONDS)
    if budget_spent:
        current_app.send_task(BATCH_TASK)  # more may be due: go on after the tasks queued meanwhile
    return made


@shared_task(name=DELIVER_TASK, ignore_result=True)
def deliver(delivery_id: int) -> None:
    """The per-delivery task of earlier releases (messages may still be queued): routed into the
    batch path, which takes this delivery if it is still due, and whatever else is."""
    deliver_batch(delivery_ids=[delivery_id])


@shared_task(name="webhooks.tasks.dispatch_due_deliveries", ignore_result=True)
def dispatch_due_deliveries() -> int:
    """Beat, every 15 s: retries that are due, and deliveries whose task was lost or whose
    worker died (once its lease expired)."""
    return len(dispatch_due())
