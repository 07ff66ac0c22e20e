"""Serializer fields shared by the API: money as decimal strings, in and out."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from wallets.units import format_amount

MAX_SCALE = 18  # the scale of every amount column
_DECIMAL = re.compile(r"^\d{1,20}(\.\d{1,18})?$")


def money(value: Decimal | None) -> str | None:
    """A plain decimal string without exponent or trailing zeros: Decimal("49.900") -> "49.9"."""
    if value is None:
        return None
    return format_amount(value, MAX_SCALE) if value else "0"


@extend_schema_field({"type": "string", "format": "decimal", "example": "49.90",
                     "description": "A decimal string; compare as a decimal, not as text."})
class MoneyField(serializers.Field):
    """Input: a decimal string ("49.90"), never a JSON number (floats lose money).
    Output: a plain decimal string."""

    default_error_messages = {
        "not_a_string": "Send amounts as decimal strings, e.g. \"49.90\", not as JSON numbers.",
        "invalid": "Must be a positive decimal number such as \"49.90\".",
        "zero": "Must be greater than 0.",
    }

    def __init__(self, *, allow_zero: bool = False, **kwargs):
        self.allow_zero = allow_zero
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> Decimal:
        if not isinstance(data, str):
            self.fail("not_a_string")
        text = data.strip()
        if not _DECIMAL.match(text):
            self.fail("invalid")
        try:
            value = Decimal(text)
        except InvalidOperation:
            self.fail("invalid")
        if value == 0 and not self.allow_zero:
            self.fail("zero")
        return value

    def to_representation(self, value) -> str | None:
        return money(value)
