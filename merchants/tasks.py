from celery import shared_task

from merchants.auth import purge_nonces


@shared_task(name="merchants.tasks.purge_request_nonces", ignore_result=True)
def purge_request_nonces() -> int:
    return purge_nonces()
