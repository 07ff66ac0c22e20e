"""api/fields.py: API times are written as DRF writes them in UTC, always in UTC."""

import datetime

from django.utils import timezone
from rest_framework import serializers

from api.fields import UtcDateTimeField
from core.times import iso_utc

CET = datetime.timezone(datetime.timedelta(hours=1))
VALUES = [
    datetime.datetime(2026, 11, 30, 14, 0, tzinfo=datetime.timezone.utc),
    datetime.datetime(2026, 11, 30, 14, 0, 5, 123456, tzinfo=datetime.timezone.utc),
    datetime.datetime(2026, 11, 30, 15, 0, 5, 10, tzinfo=CET),
]


def test_iso_utc_is_what_drf_writes_under_utc():
    drf = serializers.DateTimeField()
    for value in VALUES:
        assert iso_utc(value) == drf.to_representation(value)
    assert iso_utc(VALUES[2]) == "2026-11-30T14:00:05.000010Z"
    assert iso_utc(None) is None and UtcDateTimeField().to_representation(None) is None


def test_an_activated_time_zone_does_not_change_api_times():
    with timezone.override("America/New_York"):
        assert iso_utc(VALUES[0]) == "2026-11-30T14:00:00Z"
        assert UtcDateTimeField().to_representation(VALUES[1]) == "2026-11-30T14:00:05.123456Z"
