"""Exchange rates (charges/rates.py) against a real local HTTP server that answers like Coinbase,
Kraken and Bitstamp do (their documented public ticker formats), with per-test control of what
each one answers: prices, HTTP errors, malformed bodies, slowness, missing pairs."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from api.errors import exception_handler
from charges.rates import (
    ExchangeRate,
    PegSource,
    Quote,
    RateUnavailable,
    convert_fiat_to_asset,
    rate_get,
    rates_refresh,
)
from core.errors import Unprocessable
from testing.httpserver import QuietHandler, closed_url, start_server, stop_server, url_of

SOURCES = ("coinbase", "kraken", "bitstamp")

# The exchange's own pair names, written out independently of the client code: Kraken names
# legacy markets with X/Z prefixes and newer ones plainly.
KRAKEN_RESULT_KEYS = {
    "XBTUSD": "XXBTZUSD", "XBTEUR": "XXBTZEUR", "ETHUSD": "XETHZUSD", "ETHEUR": "XETHZEUR",
    "LTCUSD": "XLTCZUSD", "XRPUSD": "XXRPZUSD", "SOLUSD": "SOLUSD", "USDTEUR": "USDTEUR",
}


class FakeExchanges:
    """State shared with the server thread. `prices[(source, base, quote)] = "64000.10"`;
    `behavior[source]` is one of None, "http_500", "malformed_json", "slow", "kraken_error",
    "missing_pair", "float_price"."""

    def __init__(self) -> None:
        self.prices: dict[tuple[str, str, str], str] = {}
        self.behavior: dict[str, str | None] = {}
        self.requests: list[str] = []
        self.release = threading.Event()  # frees "slow" handlers at teardown
        self.lock = threading.Lock()

    def set_price(self, base: str, quote: str, **by_source: str) -> None:
        for source, price in by_source.items():
            self.prices[(source, base, quote)] = price

    # --- the three providers' answers ---

    def answer(self, path: str) -> tuple[int, bytes]:
        with self.lock:
            self.requests.append(path)
        parts = urlsplit(path)
        source, _, rest = parts.path.lstrip("/").partition("/")
        behavior = self.behavior.get(source)
        if behavior == "http_500":
            return 500, b'{"message": "internal error"}'
        if behavior == "malformed_json":
            return 200, b'{"data": {"amount": "64000.1", '
        if behavior == "slow":
            self.release.wait(10)
            return 200, b"{}"
        if source == "coinbase":
            return self._coinbase("/" + rest, behavior)
        if source == "kraken":
            return self._kraken("/" + rest, parse_qs(parts.query), behavior)
        if source == "bitstamp":
            return self._bitstamp("/" + rest, behavior)
        return 404, b"{}"

    def _price(self, source: str, base: str, quote: str, behavior: str | None) -> str | None:
        if behavior == "missing_pair":
            return None
        return self.prices.get((source, base, quote))

    def _coinbase(self, path: str, behavior: str | None) -> tuple[int, bytes]:
        # GET /v2/prices/BTC-USD/spot -> {"data": {"amount": "...", "base": "BTC", "currency": "USD"}}
        segments = path.strip("/").split("/")
        if len(segments) != 4 or segments[:2] != ["v2", "prices"] or segments[3] != "spot":
            return 404, b'{"errors": [{"id": "not_found", "message": "Not found"}]}'
        base, _, quote = segments[2].partition("-")
        price = self._price("coinbase", base, quote, behavior)
        if price is None:
            return 404, b'{"errors": [{"id": "not_found", "message": "Invalid currency"}]}'
        amount: object = float(price) if behavior == "float_price" else price
        return 200, json.dumps({"data": {"amount": amount, "base": base, "currency": quote}}).encode()

    def _kraken(self, path: str, query: dict, behavior: str | None) -> tuple[int, bytes]:
        # GET /0/public/Ticker?pair=XBTUSD -> {"error": [], "result": {"XXBTZUSD": {"c": [...], ...}}}
        if path != "/0/public/Ticker":
            return 404, b""
        requested = query.get("pair", [""])[0]
        if behavior == "kraken_error":
            return 200, b'{"error": ["EService:Unavailable"]}'
        names = {"XBT": "BTC"}
        price = None
        for fiat in ("USD", "EUR"):
            if requested.endswith(fiat):
                asset = requested[: -len(fiat)]
                price = self._price("kraken", names.get(asset, asset), fiat, behavior)
                break
        if price is None:  # Kraken answers 200 with an error list for an unknown pair
            return 200, b'{"error": ["EQuery:Unknown asset pair"]}'
        key = KRAKEN_RESULT_KEYS.get(requested, requested)
        ticker = {
            "a": [price, "1", "1.000"], "b": [price, "1", "1.000"], "c": [price, "0.00067643"],
            "v": ["4083.67001100", "4412.73601799"], "p": [price, price], "t": [34619, 38907],
            "l": [price, price], "h": [price, price], "o": price,
        }
        return 200, json.dumps({"error": [], "result": {key: ticker}}).encode()

    def _bitstamp(self, path: str, behavior: str | None) -> tuple[int, bytes]:
        # GET /api/v2/ticker/btcusd/ -> {"last": "...", "high": ..., "bid": ..., ...}
        prefix = "/api/v2/ticker/"
        if not path.startswith(prefix):
            return 404, b""
        market = path[len(prefix):].strip("/")
        for fiat in ("usd", "eur"):
            if market.endswith(fiat):
                price = self._price("bitstamp", market[: -len(fiat)].upper(), fiat.upper(), behavior)
                break
        else:
            price = None
        if price is None:
            return 404, b'{"message": "Not Found"}'
        body = {
            "timestamp": "1700000000", "open": price, "high": price, "low": price, "last": price,
            "volume": "1234.5", "vwap": price, "bid": price, "ask": price, "side": "0",
            "open_24": price, "percent_change_24": "0.00",
        }
        return 200, json.dumps(body).encode()


@pytest.fixture
def exchanges(settings, monkeypatch):
    """A real HTTP server on 127.0.0.1 (free port) with one path prefix per provider; the
    settings point fluxa's sources at it. Stopped at the end of the test."""
    state = FakeExchanges()

    class Handler(QuietHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            status, body = state.answer(self.path)
            try:
                self.reply(status, body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts)
                pass

    server = start_server(Handler, name="fake-exchanges")
    url = url_of(server)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    settings.FLUXA_RATE_SOURCES = {name: f"{url}/{name}" for name in SOURCES}
    settings.FLUXA_RATE_HTTP_TIMEOUT_SECONDS = 5
    settings.FLUXA_RATE_MAX_SPREAD = "0.02"
    settings.FLUXA_RATE_MAX_AGE_SECONDS = 300
    settings.FLUXA_PRICING_FIATS = ["USD", "EUR"]
    if hasattr(settings, "FLUXA_RATE_MIN_SOURCES"):
        del settings.FLUXA_RATE_MIN_SOURCES
    try:
        yield state
    finally:
        state.release.set()
        stop_server(server)


def store(base: str, quote: str, rate: str, *, age_seconds: int = 0, source: str = "median(a,b)") -> ExchangeRate:
    return ExchangeRate.objects.create(
        base=base, quote=quote, rate=Decimal(rate), source=source, sources_used=[],
        fetched_at=timezone.now() - timedelta(seconds=age_seconds),
    )


# --- refresh ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_median_of_three_sources(exchanges):
    exchanges.set_price("BTC", "USD", coinbase="64000.10", kraken="64100.00000", bitstamp="64050")
    exchanges.set_price("ETH", "EUR", coinbase="3001.5", kraken="3000.00000", bitstamp="3010")

    summary = rates_refresh(pairs=[("BTC", "USD"), ("eth", "eur")])

    assert summary["skipped"] == {}
    assert set(summary["updated"]) == {"BTC/USD", "ETH/EUR"}
    btc = ExchangeRate.objects.get(base="BTC", quote="USD")
    assert btc.rate == Decimal("64050")
    assert btc.source == "median(bitstamp,coinbase,kraken)"
    assert btc.sources_used == [
        {"name": "bitstamp", "rate": "64050"},
        {"name": "coinbase", "rate": "64000.10"},
        {"name": "kraken", "rate": "64100.00000"},
    ]
    assert abs((timezone.now() - btc.fetched_at).total_seconds()) < 60
    assert ExchangeRate.objects.get(base="ETH", quote="EUR").rate == Decimal("3001.5")
    # Each provider was asked in its own format (Kraken's bitcoin is XBT).
    assert "/coinbase/v2/prices/BTC-USD/spot" in exchanges.requests
    assert "/kraken/0/public/Ticker?pair=XBTUSD" in exchanges.requests
    assert "/bitstamp/api/v2/ticker/btcusd/" in exchanges.requests
    assert "/kraken/0/public/Ticker?pair=ETHEUR" in exchanges.requests


@pytest.mark.django_db
def test_refresh_updates_the_one_row_of_a_pair(exchanges):
    store("BTC", "USD", "50000", age_seconds=1000)
    exchanges.set_price("BTC", "USD", coinbase="64000", kraken="64000", bitstamp="64000")

    rates_refresh(pairs=[("BTC", "USD")])

    assert ExchangeRate.objects.filter(base="BTC", quote="USD").count() == 1
    row = ExchangeRate.objects.get(base="BTC", quote="USD")
    assert row.rate == Decimal("64000")
    assert rate_get(base="BTC", quote="USD").pk == row.pk  # fresh again


@pytest.mark.django_db
@pytest.mark.parametrize(
    "failure", ["http_500", "malformed_json", "slow", "kraken_error", "missing_pair", "unreachable"]
)
def test_one_source_down_still_works_with_two(exchanges, settings, caplog, failure):
    exchanges.set_price("BTC", "USD", coinbase="64000", kraken="64100", bitstamp="64200")
    if failure == "unreachable":
        settings.FLUXA_RATE_SOURCES = {**settings.FLUXA_RATE_SOURCES, "kraken": closed_url()}
    else:
        exchanges.behavior["kraken"] = failure
    if failure == "slow":
        settings.FLUXA_RATE_HTTP_TIMEOUT_SECONDS = 0.3  # the server holds the answer longer

    with caplog.at_level(logging.WARNING, logger="fluxa.rates"):
        summary = rates_refresh(pairs=[("BTC", "USD")])

    row = ExchangeRate.objects.get(base="BTC", quote="USD")
    assert row.rate == Decimal("64100")  # the median of two is their mean
    assert row.source == "median(bitstamp,coinbase)"
    assert summary["updated"] == {"BTC/USD": str(row.rate)}
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "kraken" in r.getMessage()]
    assert warnings, f"no warning logged for {failure}"


@pytest.mark.django_db
def test_float_prices_in_json_are_read_as_decimal(exchanges):
    """A provider sending a JSON number instead of a string is parsed with Decimal, exactly."""
    exchanges.set_price("BTC", "USD", coinbase="64000.123456789", kraken="64000.123456789", bitstamp="64000.123456789")
    exchanges.behavior["coinbase"] = "float_price"

    rates_refresh(pairs=[("BTC", "USD")])

    row = ExchangeRate.objects.get(base="BTC", quote="USD")
    assert row.rate == Decimal("64000.123456789")
    assert {"name": "coinbase", "rate": "64000.123456789"} in row.sources_used


@pytest.mark.django_db
def test_one_answer_out_of_three_is_not_enough(exchanges, caplog):
    store("BTC", "USD", "60000", age_seconds=30)
    exchanges.set_price("BTC", "USD", coinbase="64000")  # kraken and bitstamp do not list it

    with caplog.at_level(logging.WARNING, logger="fluxa.rates"):
        summary = rates_refresh(pairs=[("BTC", "USD")])

    assert summary["updated"] == {}
    assert "BTC/USD" in summary["skipped"]
    assert ExchangeRate.objects.get(base="BTC", quote="USD").rate == Decimal("60000")
    assert any("1 of 3 sources answered, 2 required" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
def test_a_single_configured_source_is_enough_alone(exchanges, settings):
    settings.FLUXA_RATE_SOURCES = {"bitstamp": settings.FLUXA_RATE_SOURCES["bitstamp"]}
    exchanges.set_price("LTC", "EUR", bitstamp="71.25")

    rates_refresh(pairs=[("LTC", "EUR")])

    assert ExchangeRate.objects.get(base="LTC", quote="EUR").source == "median(bitstamp)"


@pytest.mark.django_db
def test_sources_disagreeing_beyond_the_spread_keep_the_old_rate(exchanges, caplog):
    old = store("BTC", "USD", "63000", age_seconds=45, source="median(bitstamp,coinbase,kraken)")
    exchanges.set_price("BTC", "USD", coinbase="64000", kraken="64100", bitstamp="70000")  # ~9% apart

    with caplog.at_level(logging.WARNING, logger="fluxa.rates"):
        summary = rates_refresh(pairs=[("BTC", "USD")])

    row = ExchangeRate.objects.get(base="BTC", quote="USD")
    assert (row.rate, row.source, row.fetched_at) == (old.rate, old.source, old.fetched_at)
    assert summary["updated"] == {}
    assert "disagree" in summary["skipped"]["BTC/USD"]
    assert any("disagree" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


@pytest.mark.django_db
def test_disagreement_within_the_spread_is_accepted(exchanges, settings):
    settings.FLUXA_RATE_MAX_SPREAD = "0.02"
    exchanges.set_price("SOL", "USD", coinbase="150.00", kraken="152.90", bitstamp="151.00")  # 1.92%

    rates_refresh(pairs=[("SOL", "USD")])

    assert ExchangeRate.objects.get(base="SOL", quote="USD").rate == Decimal("151.00")


@pytest.mark.django_db
def test_peg_for_stablecoins_in_usd_without_any_http(exchanges):
    summary = rates_refresh(pairs=[("USDT", "USD"), ("USDC", "USD")])

    assert exchanges.requests == []
    assert summary["updated"] == {"USDT/USD": "1", "USDC/USD": "1"}
    assert ExchangeRate.objects.get(base="USDT", quote="USD").source == "peg"

    ExchangeRate.objects.all().delete()
    peg = rate_get(base="usdt", quote="usd", max_age_seconds=0)
    assert (peg.rate, peg.source, peg.pk) == (Decimal("1"), "peg", None)
    assert rate_get(base="EUR", quote="EUR").rate == Decimal("1")

    quote = convert_fiat_to_asset(amount=Decimal("19.99"), fiat="USD", asset="USDC", asset_decimals=6)
    assert quote.asset_amount == Decimal("19.99") and str(quote.asset_amount) == "19.990000"
    assert quote.source == "peg"
    assert exchanges.requests == []


def test_peg_source_only_answers_usd_stablecoins():
    answered = PegSource().fetch([("USDT", "USD"), ("USDC", "USD"), ("USDT", "EUR"), ("BTC", "USD")])
    assert answered == {("USDT", "USD"): Decimal("1"), ("USDC", "USD"): Decimal("1")}


@pytest.mark.django_db
def test_celery_task_runs_the_refresh(exchanges, settings):
    from charges.tasks import refresh_rates

    settings.FLUXA_PRICING_FIATS = ["USD"]
    exchanges.set_price("BTC", "USD", coinbase="64000", kraken="64000", bitstamp="64000")
    exchanges.set_price("ETH", "USD", coinbase="3000", kraken="3001", bitstamp="3002")

    assert refresh_rates.name == "charges.tasks.refresh_rates"
    summary = refresh_rates()

    assert set(summary["updated"]) == {"BTC/USD", "ETH/USD", "USDT/USD", "USDC/USD"}
    assert ExchangeRate.objects.get(base="ETH", quote="USD").rate == Decimal("3001")
    assert not ExchangeRate.objects.filter(quote="EUR").exists()
    assert "LTC/USD" in summary["skipped"]  # no source lists it here


# --- reading ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_stale_rate_is_unavailable(settings):
    settings.FLUXA_RATE_MAX_AGE_SECONDS = 300
    store("BTC", "USD", "64000", age_seconds=400)

    with pytest.raises(RateUnavailable) as caught:
        rate_get(base="BTC", quote="USD")

    error = caught.value
    assert error.code == "rate_unavailable" and isinstance(error, Unprocessable)
    assert error.reason == "stale" and 400 <= error.age_seconds < 460
    assert "BTC/USD" in error.message and "stale" in error.message and "300 s" in error.message
    # A caller may allow an older rate explicitly.
    assert rate_get(base="BTC", quote="USD", max_age_seconds=3600).rate == Decimal("64000")
    # Through the API's exception handler it is a 422 envelope.
    response = exception_handler(error, {})
    assert response.status_code == 422
    assert response.data["error"]["code"] == "rate_unavailable"


@pytest.mark.django_db
def test_missing_pair_is_unavailable():
    store("BTC", "USD", "64000")

    with pytest.raises(RateUnavailable) as caught:
        rate_get(base="BTC", quote="EUR")

    error = caught.value
    assert (error.code, error.reason) == ("rate_unavailable", "missing") and isinstance(error, Unprocessable)
    assert "BTC/EUR" in error.message
    with pytest.raises(RateUnavailable):
        convert_fiat_to_asset(amount=Decimal("10.00"), fiat="EUR", asset="BTC", asset_decimals=8)


# --- conversion ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_conversion_rounds_up_to_the_asset_decimals():
    row = store("BTC", "USD", "30000")

    quote = convert_fiat_to_asset(amount=Decimal("100.00"), fiat="usd", asset="btc", asset_decimals=8)

    assert isinstance(quote, Quote)
    assert quote.asset_amount == Decimal("0.00333334")  # 0.0033333333... rounded UP
    assert str(quote.asset_amount) == "0.00333334"
    assert quote.asset_amount * quote.rate >= quote.fiat_amount
    assert (quote.asset, quote.fiat_currency, quote.fiat_amount) == ("BTC", "USD", Decimal("100.00"))
    assert (quote.rate, quote.source, quote.fetched_at) == (row.rate, row.source, row.fetched_at)
    for value in (quote.asset_amount, quote.rate, quote.fiat_amount):
        assert type(value) is Decimal
    with pytest.raises(dataclasses.FrozenInstanceError):
        quote.asset_amount = Decimal("0")  # type: ignore[misc]


@pytest.mark.django_db
def test_conversion_is_exact_beyond_decimal_precision():
    """1 / 0.999999999999999999 = 1.000000000000000001000000000000000001...: at Decimal's
    default 28 digits the tail vanishes and rounding up would give ...001, less than the price."""
    store("ETH", "USD", "0.999999999999999999")

    quote = convert_fiat_to_asset(amount=Decimal("1.00"), fiat="USD", asset="ETH", asset_decimals=18)

    assert quote.asset_amount == Decimal("1.000000000000000002")
    assert quote.asset_amount * quote.rate >= Decimal("1.00")


@pytest.mark.django_db
def test_exact_conversions_are_not_rounded_and_zero_decimal_fiats_work():
    store("BTC", "USD", "64000")
    store("BTC", "JPY", "10000000")

    assert convert_fiat_to_asset(amount=Decimal("64.00"), fiat="USD", asset="BTC", asset_decimals=8).asset_amount == Decimal("0.001")
    jpy = convert_fiat_to_asset(amount=Decimal("1500"), fiat="JPY", asset="BTC", asset_decimals=8)
    assert jpy.asset_amount == Decimal("0.00015") and str(jpy.fiat_amount) == "1500"
    assert convert_fiat_to_asset(amount=7, fiat="JPY", asset="BTC", asset_decimals=0).asset_amount == Decimal("1")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "amount,fiat,expected",
    [
        (Decimal("10.001"), "USD", "more decimals than USD allows (2)"),
        (Decimal("100.5"), "JPY", "more decimals than JPY allows (0)"),
        (Decimal("1.0001"), "KWD", "more decimals than KWD allows (3)"),
        (Decimal("0"), "USD", "positive"),
        (Decimal("-5.00"), "USD", "positive"),
        (Decimal("NaN"), "USD", "positive"),
        (Decimal("10.00"), "XYZ", "not a supported fiat currency"),
    ],
)
def test_invalid_fiat_amounts_are_refused(amount, fiat, expected):
    store("BTC", "USD", "64000")

    with pytest.raises(ValueError) as caught:
        convert_fiat_to_asset(amount=amount, fiat=fiat, asset="BTC", asset_decimals=8)

    assert expected in str(caught.value)


@pytest.mark.django_db
def test_trailing_zeros_are_not_extra_decimals():
    store("BTC", "USD", "64000")
    quote = convert_fiat_to_asset(amount=Decimal("64.000"), fiat="USD", asset="BTC", asset_decimals=8)
    assert str(quote.fiat_amount) == "64.00"


@pytest.mark.django_db
@pytest.mark.parametrize("amount", [10.5, "10.50", True])
def test_float_and_other_non_decimal_amounts_are_refused(amount):
    store("BTC", "USD", "64000")

    with pytest.raises(TypeError, match="never a float"):
        convert_fiat_to_asset(amount=amount, fiat="USD", asset="BTC", asset_decimals=8)


@pytest.mark.django_db
def test_sources_can_be_configured_by_class_path(exchanges, settings):
    bitstamp_url = settings.FLUXA_RATE_SOURCES["bitstamp"]
    settings.FLUXA_RATE_SOURCES = {
        "bitstamp": bitstamp_url,
        "bitstamp_mirror": {"class": "charges.rates.BitstampSource", "base_url": bitstamp_url},
    }
    exchanges.set_price("XRP", "EUR", bitstamp="0.5123")

    rates_refresh(pairs=[("XRP", "EUR")])

    row = ExchangeRate.objects.get(base="XRP", quote="EUR")
    assert row.source == "median(bitstamp,bitstamp_mirror)"

    settings.FLUXA_RATE_SOURCES = {"binance": "https://api.binance.com"}
    with pytest.raises(ImproperlyConfigured, match="unknown source 'binance'"):
        rates_refresh(pairs=[("XRP", "EUR")])
