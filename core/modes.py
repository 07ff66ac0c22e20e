"""The two modes every merchant operates in: live (mainnets, real money) and test (public
testnets). Keys, orders, addresses and webhooks all belong to one mode."""

from __future__ import annotations

from django.db import models


class Mode(models.TextChoices):
    TEST = "test", "Test"
    LIVE = "live", "Live"


# Every mode, in the order jobs iterate them.
MODES: tuple[str, ...] = (Mode.LIVE.value, Mode.TEST.value)
