from django.db import models
from django.db.models import F, Q

from core.modes import Mode
from orders.models import SettlementMode


class Channel(models.Model):
    """One way to pay: an asset on a network (usdt_trc20 = USDT on tron). Operators edit
    channels in the admin; the catalogue ships as a data migration (charges/catalogue.py)."""

    code = models.CharField(primary_key=True, max_length=32)
    name = models.CharField(max_length=100)
    network = models.CharField(max_length=32, db_index=True)
    asset = models.CharField(max_length=16)
    asset_decimals = models.PositiveSmallIntegerField()
    token_contract = models.CharField(max_length=128, blank=True, help_text="Token contract or mint (live).")
    token_contract_test = models.CharField(
        max_length=128, blank=True, help_text="Token contract or mint on the test network."
    )
    required_confirmations = models.PositiveIntegerField()
    min_amount = models.DecimalField(max_digits=38, decimal_places=18)
    max_amount = models.DecimalField(max_digits=38, decimal_places=18, null=True, blank=True)
    settlement_mode = models.CharField(max_length=16, choices=SettlementMode.choices, default=SettlementMode.DIRECT)
    enabled = models.BooleanField(default=True)
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(min_amount__gt=0), name="channel_min_amount_positive"),
            models.CheckConstraint(
                condition=Q(max_amount__isnull=True) | Q(max_amount__gte=F("min_amount")),
                name="channel_max_at_least_min",
            ),
            models.CheckConstraint(condition=Q(asset_decimals__lte=36), name="channel_decimals_range"),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def is_token(self) -> bool:
        return bool(self.token_contract or self.token_contract_test)

    def token_contract_for(self, mode: str) -> str:
        if mode == Mode.TEST and self.token_contract_test:
            return self.token_contract_test
        return self.token_contract
from charges.rates import ExchangeRate  # noqa: E402,F401  (the rates model lives with its logic)
