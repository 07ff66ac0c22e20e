"""Serializer fields shared by the API: money as decimal strings, in and out (written by
core.money.money), and times in UTC (core.times.iso_utc)."""

from __future__ import annotations

import copy
import re
from decimal import Decimal, InvalidOperation

from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.money import money
from core.times import iso_utc

# ASCII digits only (Python's \d also matches "١٠" and "１００"); at most 15 integer digits, so
# that sums of amounts (an order's received total) stay far inside NUMERIC(38, 18), the amount
# columns, and inside what SQLite's REAL keeps (make run); at most 18 fractional digits.
_DECIMAL = re.compile(r"^[0-9]{1,15}(\.[0-9]{1,18})?$", re.ASCII)


class UtcDateTimeField(serializers.DateTimeField):
    """A DateTimeField whose output is core.times.iso_utc()."""

    def to_representation(self, value) -> str | None:
        if not value or isinstance(value, str):
            return value or None
        return iso_utc(value)


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


class UtcModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer whose model datetimes are UtcDateTimeField (DRF's documented
    `serializer_field_mapping`)."""

    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping,
                                models.DateTimeField: UtcDateTimeField}


class FieldsCopiedOnceMixin:
    """For input serializers that are never partial and whose fields do not read
    self.context: the fields are built once per class, and each instance gets shallow copies
    of them, instead of DRF's deep copy of every declared field per instance (a deep copy
    runs the field's __init__ again; for the charge body's twelve fields that is about as
    much CPU as validating them).

    Only public API: get_fields() is DRF's hook for the fields of an instance, which DRF then
    binds to it (Serializer.fields), so each copy has its own name, parent and source. The
    copies share what validation only reads (validators, error messages, choices); errors and
    validated data live on the serializer instance. A nested serializer's copy builds its own
    fields the first time they are read.
    """

    def get_fields(self):
        cls = type(self)
        built = cls.__dict__.get("_fields_built_once")
        if built is None:
            built = super().get_fields()  # DRF's own deep copies of the declared fields, unbound
            cls._fields_built_once = built  # a race builds it twice, harmlessly
        return {name: copy.copy(field) for name, field in built.items()}


class AliasedChoiceField(serializers.ChoiceField):
    """A ChoiceField that also takes the spellings in `aliases` (alias -> choice) and any case
    ("Cancelled", "PAID"); the value is always the canonical choice. The schema's enum lists
    the choices and the aliases (api.schema.AliasedChoiceFieldExtension), so a client reading
    the schema sees what it may send."""

    def __init__(self, *, choices, aliases: dict[str, str] | None = None, **kwargs):
        self.aliases = {k.lower(): v for k, v in (aliases or {}).items()}
        super().__init__(choices=choices, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str):
            key = data.strip().lower()
            canonical = self.aliases.get(key, key)
            if canonical in self.choices:
                return canonical
        return super().to_internal_value(data)
