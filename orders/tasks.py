from celery import shared_task

from orders.services import orders_expire_due


@shared_task(name="orders.tasks.expire_orders", ignore_result=True)
def expire_orders() -> int:
    """Beat, every 30 s: unpaid orders past their expiry become expired."""
    return orders_expire_due()
