"""Beat job of the deposit address pool that needs no catalogue: idle addresses go back to the
pool (docs/wallets.md). The refill and chain scanning are charges/tasks.py's."""

from __future__ import annotations

import logging

from celery import shared_task

from wallets.services import deposit_address_release_idle

logger = logging.getLogger("fluxa.wallets")


@shared_task(name="wallets.tasks.release_idle_addresses", ignore_result=True)
def release_idle_addresses() -> int:
    """Return the unfunded addresses of expired/canceled orders to the pool once their
    monitoring window is over. Returns how many were released."""
    released = total = deposit_address_release_idle()
    while released:  # one bounded batch per transaction
        released = deposit_address_release_idle()
        total += released
    if total:
        logger.info("Released %d idle deposit address(es) back to the pool.", total)
    return total
