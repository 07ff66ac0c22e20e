from celery import shared_task

from webhooks.services import DELIVER_TASK, delivery_attempt, dispatch_due


@shared_task(name=DELIVER_TASK, ignore_result=True)
def deliver(delivery_id: int) -> None:
    delivery_attempt(delivery_id=delivery_id)


@shared_task(name="webhooks.tasks.dispatch_due_deliveries", ignore_result=True)
def dispatch_due_deliveries() -> int:
    """Beat, every 15 s: retries that are due, and deliveries whose task was lost."""
    return len(dispatch_due())
