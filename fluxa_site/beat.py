"""Celery beat that is safe to run more than once: only the holder of the schedule lease sends.

Every beat process (`celery beat`, or `worker --beat`) uses this scheduler
(CELERY_BEAT_SCHEDULER). Before it sends anything it must hold the lease `lease:fluxa-beat` in
the cache (core/leases.py: Redis in production), which lasts FLUXA_BEAT_LEASE_SECONDS and is
renewed every third of that. A second beat, on this machine or another, finds the lease taken
and stands by, checking it as often; when the holder stops, its lease is released at once, and
when it dies or loses Redis, the lease expires, and a standby takes over within about one
lease. A holder that failed to renew in time (paused, cut off) stops sending before its next
due task, since a renewal always comes first once a third of the lease has gone by.

The lease makes duplicate sends rare, not impossible (a takeover just after the old holder
sent a task sends it again); every scheduled task is also safe to run twice, as the table in
docs/deploy.md shows task by task.
"""

from __future__ import annotations

import logging
import time

from celery.beat import PersistentScheduler
from django.conf import settings

from core.leases import Lease

logger = logging.getLogger("fluxa.beat")

LEASE_NAME = "fluxa-beat"


class LeasedScheduler(PersistentScheduler):
    def __init__(self, *args, **kwargs):
        self.lease = Lease(LEASE_NAME, seconds=float(getattr(settings, "FLUXA_BEAT_LEASE_SECONDS", 30)))
        self.renew_every = self.lease.seconds / 3
        self.leading = False
        self._checked_at: float | None = None
        super().__init__(*args, **kwargs)

    def _check_lease(self) -> None:
        try:
            held = self.lease.hold()
        except Exception:  # the cache is unreachable: nobody can tell who leads, so do not send
            logger.warning("beat: cannot reach the cache for the schedule lease; not sending", exc_info=True)
            held = False
        if held and not self.leading:
            logger.info("beat: holding the schedule lease as %s; sending scheduled tasks", self.lease.token)
        elif self.leading and not held:
            logger.warning("beat: lost the schedule lease; standing by")
        elif not held and self._checked_at is None:
            logger.info("beat: the schedule lease is held by %s; standing by", self.lease.holder())
        self.leading = held
        self._checked_at = time.monotonic()

    def tick(self, *args, **kwargs):
        now = time.monotonic()
        if self._checked_at is None or now - self._checked_at >= self.renew_every:
            self._check_lease()
        wait_lease = max(0.0, self._checked_at + self.renew_every - time.monotonic())
        if not self.leading:
            return wait_lease
        return min(super().tick(*args, **kwargs), wait_lease)

    def close(self):
        try:
            super().close()
        finally:
            if self.leading:
                try:
                    self.lease.release()
                    logger.info("beat: released the schedule lease")
                except Exception:
                    logger.warning("beat: could not release the schedule lease; it expires on its own",
                                   exc_info=True)
                self.leading = False
