"""Exchange rates for charges priced in fiat (docs/rates.md).

A charge priced in a fiat currency (USD, EUR, ...) on a crypto channel (BTC, ETH, USDT, ...) is
converted once, at creation, with the latest stored rate; the resulting asset amount is then
locked for the order's life. This module holds:

* `ExchangeRate`: the latest rate per (base asset, quote fiat) pair, one row per pair;
* rate sources: `PegSource` (USDT and USDC are 1 USD) and HTTP tickers of real exchanges
  (`CoinbaseSource`, `KrakenSource`, `BitstampSource`), configured by FLUXA_RATE_SOURCES;
* `rates_refresh()`: asks every source, takes the median, refuses thin or disagreeing answers,
  and stores the result (beat runs it through `charges.tasks.refresh_rates`);
* `rate_get()` and `convert_fiat_to_asset()`: what charge creation calls.

Money is Decimal end to end: JSON is parsed with `parse_float=Decimal`, prices are built from
their strings, and the conversion is exact rational arithmetic rounded UP to the asset's
decimals (a payer never pays less than the price).
"""

from __future__ import annotations

import abc
import json
import logging
import statistics
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from core.errors import Unprocessable
from core.money import amount_text, decimal_places, fiat_decimals, from_base_units, quantize, round_up, to_base_units

logger = logging.getLogger("fluxa.rates")

Pair = tuple[str, str]

# Crypto assets fluxa prices (the asset codes of its channels).
ASSETS: tuple[str, ...] = ("BTC", "LTC", "ETH", "BNB", "POL", "TRX", "SOL", "XRP", "USDT", "USDC")

# USD stablecoins treated as exactly 1 USD: the peg is authoritative, no market source is asked.
STABLECOIN_PEGS: frozenset[Pair] = frozenset({("USDT", "USD"), ("USDC", "USD")})

# ExchangeRate.rate is DecimalField(max_digits=38, decimal_places=18).
RATE_DECIMALS = 18
_RATE_LIMIT = Decimal(10) ** (38 - RATE_DECIMALS)  # exclusive upper bound of a storable rate

DEFAULT_RATE_SOURCES: dict[str, str] = {
    "coinbase": "https://api.coinbase.com",
    "kraken": "https://api.kraken.com",
    "bitstamp": "https://www.bitstamp.net",
}
DEFAULT_PRICING_FIATS: tuple[str, ...] = ("USD", "EUR")
DEFAULT_MAX_SPREAD = Decimal("0.02")
DEFAULT_MAX_AGE_SECONDS = 300
DEFAULT_HTTP_TIMEOUT_SECONDS = 5.0

_MAX_BODY_BYTES = 1_000_000
_USER_AGENT = "fluxa-rates/1"


# --- Model --------------------------------------------------------------------------------------


class ExchangeRate(models.Model):
    """The latest accepted rate of one pair: `rate` quote units (fiat) per 1 base unit (asset)."""

    base = models.CharField(max_length=16)
    quote = models.CharField(max_length=16)
    rate = models.DecimalField(max_digits=38, decimal_places=RATE_DECIMALS)
    source = models.CharField(max_length=255)
    sources_used = models.JSONField(default=list, blank=True)
    fetched_at = models.DateTimeField()

    class Meta:
        app_label = "charges"
        ordering = ["base", "quote"]
        constraints = [
            models.UniqueConstraint(fields=["base", "quote"], name="exchange_rate_one_per_pair"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="exchange_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.base}/{self.quote} {self.rate} ({self.source})"


# --- Errors -------------------------------------------------------------------------------------


class RateUnavailable(Unprocessable):
    """No usable rate for a pair: none stored yet (`reason="missing"`) or too old (`"stale"`)."""

    def __init__(
        self, message: str, *, base: str, quote: str, reason: str, age_seconds: int | None = None
    ) -> None:
        super().__init__("rate_unavailable", message)
        self.base = base
        self.quote = quote
        self.reason = reason
        self.age_seconds = age_seconds


class _SourceFailure(Exception):
    """One pair could not be read from one source (bad status, body or content)."""


class _SourceUnreachable(_SourceFailure):
    """The source itself is down (connection refused, timeout, rate limited): stop asking it
    for the rest of this round."""


# --- Sources ------------------------------------------------------------------------------------


class RateSource(abc.ABC):
    """A place rates come from. `fetch` answers the pairs it can and never raises: a pair it
    cannot answer is simply absent from the result (and logged at WARNING)."""

    name: str = ""

    def __init__(self, *, name: str | None = None) -> None:
        if name:
            self.name = name

    @abc.abstractmethod
    def fetch(self, pairs: list[Pair]) -> dict[Pair, Decimal]:
        """Rates (quote units per 1 base unit, positive Decimals) for some of `pairs`."""


class PegSource(RateSource):
    """USD stablecoins are 1:1 with USD. Answers only (USDT|USDC, USD)."""

    name = "peg"

    def fetch(self, pairs: list[Pair]) -> dict[Pair, Decimal]:
        return {pair: Decimal("1") for pair in pairs if pair in STABLECOIN_PEGS}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name} in JSON")


def _parse_price(value: Any, what: str) -> Decimal:
    """A positive, finite, storable Decimal from a JSON string or number; never via float."""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise _SourceFailure(f"{what} is not a number: {value!r}")
    try:
        price = Decimal(str(value).strip())
    except InvalidOperation:
        raise _SourceFailure(f"{what} is not a number: {value!r}") from None
    if not price.is_finite() or price <= 0 or price >= _RATE_LIMIT:
        raise _SourceFailure(f"{what} is out of range: {value!r}")
    return price


class HttpTickerSource(RateSource):
    """Base for exchange tickers over HTTP GET + JSON, one request per pair.

    Subclasses set `name` and implement `url(base, quote)` (relative to `base_url`) and
    `parse(payload, base, quote)` (raise `_SourceFailure` when the answer is unusable).
    """

    def __init__(self, *, base_url: str, timeout: float = DEFAULT_HTTP_TIMEOUT_SECONDS, name: str | None = None):
        super().__init__(name=name)
        if not base_url:
            raise ImproperlyConfigured(f"rate source {self.name!r} needs a base URL")
        self.base_url = base_url.rstrip("/")
        self.timeout = float(timeout)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.base_url}>"

    @abc.abstractmethod
    def url(self, base: str, quote: str) -> str:
        """Path and query of the ticker of one pair, starting with '/'."""

    @abc.abstractmethod
    def parse(self, payload: Any, base: str, quote: str) -> Decimal:
        """The price in the decoded JSON `payload`."""

    def fetch(self, pairs: list[Pair]) -> dict[Pair, Decimal]:
        rates: dict[Pair, Decimal] = {}
        # A fresh opener per round: proxy settings from the environment are read now.
        opener = urllib.request.build_opener()
        for index, (base, quote) in enumerate(pairs):
            try:
                payload = self._get_json(opener, self.base_url + self.url(base, quote))
                rates[(base, quote)] = self.parse(payload, base, quote)
            except _SourceUnreachable as exc:
                remaining = len(pairs) - index - 1
                logger.warning(
                    "rate source %s unreachable for %s/%s: %s; skipping its %d remaining pair(s) this round",
                    self.name, base, quote, exc, remaining,
                )
                break
            except _SourceFailure as exc:
                logger.warning("rate source %s failed for %s/%s: %s", self.name, base, quote, exc)
            except Exception as exc:  # a parser bug must not take the whole refresh down
                logger.warning(
                    "rate source %s failed for %s/%s: unexpected %s: %s",
                    self.name, base, quote, type(exc).__name__, exc,
                )
        return rates

    def _get_json(self, opener: urllib.request.OpenerDirector, url: str) -> Any:
        request = urllib.request.Request(
            url, headers={"Accept": "application/json", "User-Agent": _USER_AGENT}
        )
        try:
            with opener.open(request, timeout=self.timeout) as response:
                body = response.read(_MAX_BODY_BYTES + 1)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 429 or exc.code >= 500:
                raise _SourceUnreachable(f"HTTP {exc.code}") from None
            raise _SourceFailure(f"HTTP {exc.code}") from None
        except urllib.error.URLError as exc:
            raise _SourceUnreachable(f"{exc.reason}") from None
        except (TimeoutError, OSError) as exc:  # timeouts while reading, resets
            raise _SourceUnreachable(f"{type(exc).__name__}: {exc or 'timed out'}") from None
        if len(body) > _MAX_BODY_BYTES:
            raise _SourceFailure("response body too large")
        try:
            return json.loads(body, parse_float=Decimal, parse_constant=_reject_constant)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise _SourceFailure(f"malformed JSON: {exc}") from None


class CoinbaseSource(HttpTickerSource):
    """Coinbase spot price: `GET /v2/prices/BTC-USD/spot` ->
    `{"data": {"amount": "64000.12", "base": "BTC", "currency": "USD"}}`."""

    name = "coinbase"

    def url(self, base: str, quote: str) -> str:
        return f"/v2/prices/{urllib.parse.quote(base)}-{urllib.parse.quote(quote)}/spot"

    def parse(self, payload: Any, base: str, quote: str) -> Decimal:
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, dict) or "amount" not in data:
            raise _SourceFailure("no data.amount in the answer")
        answered = (str(data.get("base", base)).upper(), str(data.get("currency", quote)).upper())
        if answered != (base, quote):
            raise _SourceFailure(f"answered {answered[0]}/{answered[1]} instead")
        return _parse_price(data["amount"], "data.amount")


class KrakenSource(HttpTickerSource):
    """Kraken ticker: `GET /0/public/Ticker?pair=XBTUSD` ->
    `{"error": [], "result": {"XXBTZUSD": {"c": ["<last price>", "<lot volume>"], ...}}}`.

    Kraken calls bitcoin XBT, and names the result after its own pair name, which for older
    markets carries X/Z prefixes (XXBTZUSD, XETHZEUR, USDTZUSD) and for newer ones does not
    (SOLUSD). We accept any of those spellings, or the only entry of the result.
    """

    name = "kraken"
    ASSET_NAMES = {"BTC": "XBT", "DOGE": "XDG"}

    def url(self, base: str, quote: str) -> str:
        pair = self.ASSET_NAMES.get(base, base) + self.ASSET_NAMES.get(quote, quote)
        return "/0/public/Ticker?" + urllib.parse.urlencode({"pair": pair})

    def parse(self, payload: Any, base: str, quote: str) -> Decimal:
        if not isinstance(payload, dict):
            raise _SourceFailure("answer is not a JSON object")
        errors = payload.get("error")
        if errors:
            raise _SourceFailure(f"Kraken error {errors!r}")
        result = payload.get("result")
        if not isinstance(result, dict) or not result:
            raise _SourceFailure("no result in the answer")
        a = self.ASSET_NAMES.get(base, base)
        q = self.ASSET_NAMES.get(quote, quote)
        for key in (f"X{a}Z{q}", f"{a}Z{q}", f"X{a}{q}", f"{a}{q}"):
            if key in result:
                ticker = result[key]
                break
        else:
            if len(result) != 1:
                raise _SourceFailure(f"pair not in result (got {sorted(result)[:5]})")
            ticker = next(iter(result.values()))
        last = ticker.get("c") if isinstance(ticker, dict) else None
        if not isinstance(last, list) or not last:
            raise _SourceFailure("no last trade (c) in the ticker")
        return _parse_price(last[0], "c[0]")


class BitstampSource(HttpTickerSource):
    """Bitstamp ticker: `GET /api/v2/ticker/btcusd/` -> `{"last": "64000", "bid": ..., ...}`."""

    name = "bitstamp"

    def url(self, base: str, quote: str) -> str:
        return f"/api/v2/ticker/{urllib.parse.quote((base + quote).lower())}/"

    def parse(self, payload: Any, base: str, quote: str) -> Decimal:
        if not isinstance(payload, dict) or "last" not in payload:
            raise _SourceFailure("no last in the answer")
        return _parse_price(payload["last"], "last")


SOURCE_CLASSES: dict[str, type[HttpTickerSource]] = {
    "coinbase": CoinbaseSource,
    "kraken": KrakenSource,
    "bitstamp": BitstampSource,
}


def configured_sources() -> list[RateSource]:
    """The market sources of settings.FLUXA_RATE_SOURCES: `{name: base_url}` for the built-in
    ones, or `{name: {"class": "dotted.path.ToSource", "base_url": "..."}}` for others."""
    config = getattr(settings, "FLUXA_RATE_SOURCES", DEFAULT_RATE_SOURCES)
    timeout = float(getattr(settings, "FLUXA_RATE_HTTP_TIMEOUT_SECONDS", DEFAULT_HTTP_TIMEOUT_SECONDS))
    sources: list[RateSource] = []
    for name, value in (config or {}).items():
        options = {"base_url": value} if isinstance(value, str) else dict(value)
        class_path = options.pop("class", None)
        cls = import_string(class_path) if class_path else SOURCE_CLASSES.get(name)
        if cls is None:
            raise ImproperlyConfigured(
                f"FLUXA_RATE_SOURCES: unknown source {name!r}; built-in ones are "
                f"{sorted(SOURCE_CLASSES)}, others need a 'class'."
            )
        if issubclass(cls, HttpTickerSource):
            options.setdefault("timeout", timeout)
        sources.append(cls(name=name, **options))
    return sources


# --- Refresh ------------------------------------------------------------------------------------


def _code(value: str) -> str:
    code = str(value).strip().upper()
    if not code.isalnum() or not 2 <= len(code) <= 16:
        raise ValueError(f"{value!r} is not a currency code.")
    return code


def default_pairs() -> list[Pair]:
    fiats = getattr(settings, "FLUXA_PRICING_FIATS", DEFAULT_PRICING_FIATS)
    return [(asset, _code(fiat)) for asset in ASSETS for fiat in fiats]


def _required_sources(market_source_count: int) -> int:
    """FLUXA_RATE_MIN_SOURCES when set; else 2 when at least 2 market sources are configured
    (one exchange alone cannot be cross-checked), else 1."""
    configured = getattr(settings, "FLUXA_RATE_MIN_SOURCES", None)
    if configured is not None:
        return max(1, int(configured))
    return 2 if market_source_count >= 2 else 1


def _fetch_all(sources: list[RateSource], pairs: list[Pair]) -> dict[str, dict[Pair, Decimal]]:
    """Ask every source at once (one thread per source); a source that raises anyway counts
    as having answered nothing."""
    if not sources or not pairs:
        return {}

    def ask(source: RateSource) -> dict[Pair, Decimal]:
        try:
            return source.fetch(list(pairs))
        except Exception:
            logger.warning("rate source %s raised; ignoring it this round", source.name, exc_info=True)
            return {}

    with ThreadPoolExecutor(max_workers=len(sources), thread_name_prefix="fluxa-rates") as pool:
        answers = list(pool.map(ask, sources))
    return {source.name: answer for source, answer in zip(sources, answers)}


def rates_refresh(*, pairs: list[Pair] | None = None, sources: list[RateSource] | None = None) -> dict:
    """Fetch, check and store the latest rate of every pair (default: every asset of ASSETS in
    every fiat of FLUXA_PRICING_FIATS); `sources` defaults to FLUXA_RATE_SOURCES.

    Pegged pairs (USDT/USD, USDC/USD) are stored as 1 without asking anyone. For the others the
    median of the sources that answered is stored, provided enough answered (see
    `_required_sources`) and they agree within FLUXA_RATE_MAX_SPREAD of the median; otherwise
    the stored rate is left as it was (and grows stale). All network I/O happens before the
    single write transaction.

    Returns {"updated": {"BTC/USD": "<rate>", ...}, "skipped": {"ETH/EUR": "<why>", ...}}.
    """
    wanted = default_pairs() if pairs is None else [(_code(b), _code(q)) for b, q in pairs]
    wanted = list(dict.fromkeys(pair for pair in wanted if pair[0] != pair[1]))
    market_sources = configured_sources() if sources is None else list(sources)
    max_spread = Decimal(str(getattr(settings, "FLUXA_RATE_MAX_SPREAD", DEFAULT_MAX_SPREAD)))
    required = _required_sources(len(market_sources))

    fetched_at = timezone.now()  # the start of the round: ages are never understated
    peg = PegSource()
    pegged = peg.fetch(wanted)
    market_pairs = [pair for pair in wanted if pair not in pegged]
    answers = _fetch_all(market_sources, market_pairs)

    accepted: dict[Pair, tuple[Decimal, str, list[dict[str, str]]]] = {}
    skipped: dict[str, str] = {}
    for pair, rate in pegged.items():
        accepted[pair] = (rate, peg.name, [{"name": peg.name, "rate": str(rate)}])
    for pair in market_pairs:
        label = f"{pair[0]}/{pair[1]}"
        quotes = {name: answer[pair] for name, answer in answers.items() if pair in answer}
        if len(quotes) < required:
            reason = f"{len(quotes)} of {len(market_sources)} sources answered, {required} required"
            logger.warning("rate %s not updated: %s", label, reason)
            skipped[label] = reason
            continue
        values = list(quotes.values())
        median = statistics.median(values)
        spread = (max(values) - min(values)) / median
        if spread > max_spread:
            reason = (
                f"sources disagree by {spread:.2%} (limit {max_spread:.2%}): "
                + ", ".join(f"{name}={value}" for name, value in sorted(quotes.items()))
            )
            logger.warning("rate %s not updated, keeping the previous one: %s", label, reason)
            skipped[label] = reason
            continue
        rate = quantize(median, RATE_DECIMALS, rounding=ROUND_HALF_EVEN)
        if rate <= 0:
            skipped[label] = f"rate {median} rounds to zero at {RATE_DECIMALS} decimals"
            logger.warning("rate %s not updated: %s", label, skipped[label])
            continue
        names = sorted(quotes)
        used = [{"name": name, "rate": str(quotes[name])} for name in names]
        accepted[pair] = (rate, f"median({','.join(names)})", used)

    with transaction.atomic():
        for (base, quote), (rate, source, used) in accepted.items():
            ExchangeRate.objects.update_or_create(
                base=base,
                quote=quote,
                defaults={"rate": rate, "source": source, "sources_used": used, "fetched_at": fetched_at},
            )
    updated = {f"{base}/{quote}": str(rate) for (base, quote), (rate, _, _) in accepted.items()}
    logger.info("rates refreshed: %d updated, %d skipped", len(updated), len(skipped))
    return {"updated": updated, "skipped": skipped}


# --- Reading and converting ---------------------------------------------------------------------


def _peg_rate(base: str, quote: str) -> ExchangeRate:
    return ExchangeRate(
        base=base,
        quote=quote,
        rate=Decimal("1"),
        source=PegSource.name,
        sources_used=[{"name": PegSource.name, "rate": "1"}],
        fetched_at=timezone.now(),
    )


def rate_get(*, base: str, quote: str, max_age_seconds: int | None = None) -> ExchangeRate:
    """The stored rate of base/quote, no older than `max_age_seconds` (default
    FLUXA_RATE_MAX_AGE_SECONDS). The same currency, or a USD stablecoin in USD, is an unsaved
    peg row with rate 1. Raises RateUnavailable (an Unprocessable, rate_unavailable) when missing or stale."""
    base, quote = _code(base), _code(quote)
    if base == quote or (base, quote) in STABLECOIN_PEGS:
        return _peg_rate(base, quote)
    if max_age_seconds is None:
        max_age_seconds = int(getattr(settings, "FLUXA_RATE_MAX_AGE_SECONDS", DEFAULT_MAX_AGE_SECONDS))
    row = ExchangeRate.objects.filter(base=base, quote=quote).first()
    if row is None:
        raise RateUnavailable(
            f"No {base}/{quote} exchange rate is available, so a price in {quote} cannot be "
            f"converted to {base} right now.",
            base=base, quote=quote, reason="missing",
        )
    age = (timezone.now() - row.fetched_at).total_seconds()
    if age > max_age_seconds:
        raise RateUnavailable(
            f"The {base}/{quote} exchange rate is stale: last updated {int(age)} s ago, "
            f"more than the {max_age_seconds} s allowed.",
            base=base, quote=quote, reason="stale", age_seconds=int(age),
        )
    return row


@dataclass(frozen=True)
class Quote:
    """A fiat price converted to an asset amount at a rate that is then locked for the order."""

    asset_amount: Decimal  # rounded UP to the asset's decimals
    rate: Decimal  # fiat units per 1 asset unit
    source: str
    fetched_at: datetime
    fiat_amount: Decimal
    fiat_currency: str
    asset: str


def convert_fiat_to_asset(
    *, amount: Decimal, fiat: str, asset: str, asset_decimals: int, max_age_seconds: int | None = None
) -> Quote:
    """Convert a fiat price into `asset` at the current rate (see rate_get), rounding UP to
    `asset_decimals`. Raises TypeError for a float (or other non-Decimal) amount, ValueError for
    an unsupported fiat, a non-positive amount or one with more decimals than the fiat has, and
    RateUnavailable when there is no fresh rate."""
    if isinstance(amount, bool) or not isinstance(amount, (Decimal, int)):
        raise TypeError(f"amount must be a Decimal, not {type(amount).__name__}; money is never a float.")
    if isinstance(asset_decimals, bool) or not isinstance(asset_decimals, int) or not 0 <= asset_decimals <= 36:
        raise ValueError(f"asset_decimals must be an int between 0 and 36, got {asset_decimals!r}.")
    fiat_code = _code(fiat)
    places = fiat_decimals(fiat_code)
    value = Decimal(amount)
    if not value.is_finite() or value <= 0:
        got = amount_text(value) if value.is_finite() else value
        raise ValueError(f"The amount must be a positive number, got {got}.")
    if decimal_places(value) > places:
        raise ValueError(
            f"{amount_text(value, fiat_code)} has more decimals than {fiat_code} allows ({places})."
        )
    asset_code = _code(asset)
    rate = rate_get(base=asset_code, quote=fiat_code, max_age_seconds=max_age_seconds)
    # Exact rational arithmetic: amount / rate rounded up to the asset's decimals. Decimal
    # division would round at the context precision first, which can land below the true quotient.
    return Quote(
        asset_amount=round_up(Fraction(value) / Fraction(rate.rate), asset_decimals),
        rate=rate.rate,
        source=rate.source,
        fetched_at=rate.fetched_at,
        fiat_amount=from_base_units(to_base_units(value, places), places),
        fiat_currency=fiat_code,
        asset=asset_code,
    )
