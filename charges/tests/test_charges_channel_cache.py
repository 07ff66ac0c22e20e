"""The per-process channel catalogue of charge routing (FLUXA_CHANNEL_CACHE_SECONDS): read once
per interval, forgotten at once when a channel is saved or deleted in this process."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from charges.models import Channel
from charges.services import catalogue, channel_route
from core.errors import DomainError

pytestmark = pytest.mark.django_db


def _route(**kw):
    return channel_route(channel_code=kw.get("channel"), network=kw.get("network"), currency=kw.get("currency", "USDT"))


def _reads(call) -> int:
    with CaptureQueriesContext(connection) as captured:
        call()
    return sum('"charges_channel"' in q["sql"] for q in captured.captured_queries)


def test_the_catalogue_is_read_once_per_interval(settings, monkeypatch):
    settings.FLUXA_CHANNEL_CACHE_SECONDS = 5
    catalogue.forget()
    assert _reads(lambda: _route(network="tron")) == 1
    assert _reads(lambda: _route(network="tron")) == 0
    assert _reads(lambda: _route(channel="eth")) == 0
    # A change written behind the cache's back (another process) shows once the interval is over.
    Channel.objects.filter(code="usdt_trc20").update(enabled=False)
    assert _route(network="tron").code == "usdt_trc20"
    import charges.services as services

    later = services.time.monotonic() + 6
    monkeypatch.setattr(services.time, "monotonic", lambda: later)
    with pytest.raises(DomainError) as raised:
        _route(network="tron")
    assert raised.value.code == "no_route"


def test_a_channel_saved_in_this_process_applies_at_once(settings):
    settings.FLUXA_CHANNEL_CACHE_SECONDS = 3600
    catalogue.forget()
    assert _route(channel="trx").enabled
    channel = Channel.objects.get(code="trx")
    channel.enabled = False
    channel.save()  # what the admin does
    with pytest.raises(DomainError) as raised:
        _route(channel="trx")
    assert raised.value.code == "channel_disabled"
    Channel.objects.get(code="trx").delete()
    with pytest.raises(DomainError) as raised:
        _route(channel="trx")
    assert raised.value.code == "unknown_channel"


def test_zero_reads_the_catalogue_for_every_charge(settings):
    settings.FLUXA_CHANNEL_CACHE_SECONDS = 0
    catalogue.forget()
    assert _reads(lambda: _route(network="tron")) == 1
    assert _reads(lambda: _route(network="tron")) == 1
