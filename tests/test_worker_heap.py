"""Each Celery worker process puts its startup heap out of the garbage collector's sight
(fluxa_site/celery.py: a scan pass's full collections would walk it again each time)."""

import gc

from celery.signals import worker_process_init


def test_a_new_worker_process_freezes_its_startup_heap():
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        worker_process_init.send(sender=None)  # what the prefork pool sends in each new child
        assert gc.get_freeze_count() > 10_000  # Django, the apps and the chain libraries
    finally:
        gc.unfreeze()
