"""Serializer fields shared by the API: money as decimal strings, in and out (written by
core.money.money), and times in UTC (core.times.iso_utc)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from operator import attrgetter, itemgetter

from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject

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


class BuiltOnceMixin:
    """For output serializers: the fields are built once per class instead of per instance.

    DRF builds a ModelSerializer's fields (model introspection, then a deepcopy of each field)
    every time one is instantiated, which costs more than turning a row into JSON. The fields
    of an output serializer depend on nothing but the class, so they are built once, on a
    template instance, and shared (read-only) by every instance and thread; to_representation
    is DRF's own loop over them, reading plain attributes with operator.attrgetter (anything
    else, such as a callable or a missing attribute, goes through the field's get_attribute).
    It also takes a dict, such as a row of QuerySet.values(): a plain field's source is then a
    key (a missing key is an error, and so is a dotted source such as "channel.name").
    A SerializerMethodField calls its method on the live instance, so methods may read
    self.context. Not for input: validation binds fields to the instance. Model datetimes
    become UtcDateTimeField.
    """

    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping,
                                models.DateTimeField: UtcDateTimeField}

    @classmethod
    def _built_fields(cls) -> list[tuple]:
        built = cls.__dict__.get("_built_once")
        if built is None:
            built = []
            for f in cls().fields.values():
                if f.write_only:
                    continue
                method = isinstance(f, serializers.SerializerMethodField)
                plain = not method and f.source != "*" and bool(f.source_attrs)
                built.append((f.field_name, f, method, attrgetter(".".join(f.source_attrs)) if plain else None,
                              itemgetter(f.source_attrs[0]) if plain and len(f.source_attrs) == 1 else None))
            cls._built_once = built  # a race builds it twice, harmlessly
        return built

    def to_representation(self, instance) -> dict:
        data = {}
        row = type(instance) is dict
        for name, f, method, getter, key in self._built_fields():
            if method:
                data[name] = getattr(self, f.method_name)(instance)
                continue
            if row:
                if key is None:
                    raise TypeError(f"{type(self).__name__}.{name} cannot be read from a row: source {f.source!r}")
                value = key(instance)
                data[name] = None if value is None else f.to_representation(value)
                continue
            try:
                attribute = getter(instance) if getter else f.get_attribute(instance)
            except SkipField:
                continue
            except Exception:  # noqa: BLE001 - DRF's own rules (defaults, required, errors) decide
                attribute = _drf_attribute(f, instance)
                if attribute is SkipField:
                    continue
            if getter and callable(attribute):
                attribute = _drf_attribute(f, instance)
                if attribute is SkipField:
                    continue
            value = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
            data[name] = None if value is None else f.to_representation(attribute)
        return data


class ValidatedOnceMixin:
    """For input serializers that are never partial: the fields are built and bound once per
    class, on a template instance, instead of deep-copied for every request.

    Validation only reads a bound field (its source, its validators, and the root's `partial`
    flag, which is False on the template as on every instance of such a serializer); errors
    and validated data live on the serializer instance, and `validate_<field>` methods run on
    it. So every instance and thread can share them. Not for serializers built with
    partial=True, nor for fields that read self.context (it is the template's, empty).
    """

    @property
    def fields(self):
        cls = type(self)
        built = cls.__dict__.get("_fields_once")
        if built is None:
            template = cls()
            built = serializers.Serializer.fields.real_func(template)  # DRF's own building and binding
            cls._fields_once = built  # a race builds it twice, harmlessly
        return built


def _drf_attribute(field, instance):
    try:
        return field.get_attribute(instance)
    except SkipField:
        return SkipField
