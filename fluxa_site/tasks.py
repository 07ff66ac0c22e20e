from celery import shared_task

from fluxa_site.api.idempotency import idempotency_purge


@shared_task(name="fluxa_site.tasks.purge_idempotency_keys", ignore_result=True)
def purge_idempotency_keys() -> int:
    return idempotency_purge()
