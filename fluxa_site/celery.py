"""The Celery app shared by the web process, the worker and beat."""

import gc
import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fluxa_site.settings")

app = Celery("fluxa")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def freeze_startup_heap() -> None:
    """Move every object alive now (Django, the apps, the chain libraries: a few hundred
    thousand) out of the garbage collector's sight (gc.freeze). A scan pass or a webhook batch
    allocates enough to trigger full collections, and each would walk that whole heap again:
    in bench/scan.py a pass took 10-25 % longer without this. Objects made later are collected
    as usual; the frozen ones are never freed, which is what a worker's startup heap is."""
    gc.collect()
    gc.freeze()


@worker_process_init.connect
def _freeze_in_each_worker_process(**_kwargs) -> None:
    freeze_startup_heap()
