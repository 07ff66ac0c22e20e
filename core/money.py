"""The money rules of fluxa, in one place.

* conversions between asset units (``Decimal``) and integer base units: the only place
  that converts between e.g. ``Decimal("1.5")`` ETH and ``1500000000000000000`` wei;
* how many decimals an amount may have (``check_decimal_places``), and the fiat
  currencies' own (``FIAT_DECIMALS``);
* rounding: ``quantize`` (down unless told otherwise), ``round_up`` (a conversion the
  payer pays, never less than the price) and ``fee_amount`` (down: never more than the
  merchant's percentage);
* minor units for presentation (``currency_decimals``, ``to_minor_units``: an amount in
  cents or base units as an integer);
* how an amount is written: ``money`` (API and webhooks), ``amount_text`` (messages people
  read: "4 USDT") and ``format_amount`` (URIs).

All arithmetic is exact (integer or rational based, independent of the active ``decimal``
context); floats are refused.
"""

from __future__ import annotations

import math
from decimal import ROUND_DOWN, Decimal, localcontext
from fractions import Fraction

from core.errors import Invalid

MAX_DECIMALS = 36

# The scale of every amount column (DecimalField decimal_places=18).
MAX_SCALE = 18

# ISO 4217 minor units of the fiat currencies a charge may be priced in.
FIAT_DECIMALS: dict[str, int] = {
    # 2 decimals
    "USD": 2, "EUR": 2, "GBP": 2, "CHF": 2, "CAD": 2, "AUD": 2, "NZD": 2, "SEK": 2, "NOK": 2,
    "DKK": 2, "PLN": 2, "CZK": 2, "HUF": 2, "RON": 2, "TRY": 2, "ILS": 2, "AED": 2, "SAR": 2,
    "ZAR": 2, "NGN": 2, "KES": 2, "EGP": 2, "INR": 2, "PKR": 2, "CNY": 2, "HKD": 2, "SGD": 2,
    "TWD": 2, "THB": 2, "MYR": 2, "PHP": 2, "IDR": 2, "BRL": 2, "MXN": 2, "ARS": 2, "COP": 2,
    "UAH": 2,
    # no minor unit
    "JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "PYG": 0, "UGX": 0,
    # 3 decimals
    "KWD": 3, "BHD": 3, "OMR": 3, "JOD": 3, "TND": 3, "LYD": 3, "IQD": 3,
}


def is_fiat(code: str) -> bool:
    """A fiat currency a charge may be priced in (a key of FIAT_DECIMALS)."""
    return code in FIAT_DECIMALS


def fiat_decimals(currency: str) -> int:
    """ISO 4217 minor units of a supported fiat currency; ValueError for any other code."""
    code = str(currency).strip().upper()
    try:
        return FIAT_DECIMALS[code]
    except KeyError:
        raise ValueError(f"{currency!r} is not a supported fiat currency.") from None


def _check_decimals(decimals: int) -> int:
    if isinstance(decimals, bool) or not isinstance(decimals, int):
        raise TypeError(f"decimals must be an int, not {type(decimals).__name__}.")
    if not 0 <= decimals <= MAX_DECIMALS:
        raise ValueError(f"decimals must be between 0 and {MAX_DECIMALS}, got {decimals}.")
    return decimals


def _check_amount(amount: Decimal | int) -> Decimal:
    if isinstance(amount, bool) or not isinstance(amount, (Decimal, int)):
        raise TypeError(
            f"amount must be a Decimal (or int), not {type(amount).__name__}; "
            "money is never a float."
        )
    value = Decimal(amount)
    if not value.is_finite():
        raise ValueError(f"amount must be a finite number, got {value}.")
    return value


def to_base_units(amount: Decimal | int, decimals: int) -> int:
    """Convert an amount in asset units to integer base units, exactly.

    Raises ``ValueError`` if ``amount`` has more fractional digits than the
    asset supports (``to_base_units(Decimal("0.123"), 2)``) instead of
    silently rounding; trailing zeros are fine (``Decimal("1.10")`` with 1).
    """
    _check_decimals(decimals)
    value = _check_amount(amount)
    sign, digits, exponent = value.as_tuple()
    coefficient = int("".join(map(str, digits)) or "0")
    shift = int(exponent) + decimals
    if shift >= 0:
        result = coefficient * 10**shift
    else:
        quotient, remainder = divmod(coefficient, 10**-shift)
        if remainder:
            raise ValueError(
                f"Amount {value} has more than {decimals} decimal places; "
                f"this asset supports at most {decimals}."
            )
        result = quotient
    return -result if sign else result


def from_base_units(value: int, decimals: int) -> Decimal:
    """Convert integer base units to a ``Decimal`` in asset units, exactly.

    The result has exactly ``decimals`` fractional digits
    (``from_base_units(1500000, 6) == Decimal("1.500000")``).
    """
    _check_decimals(decimals)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"value must be an int, not {type(value).__name__}.")
    digits = tuple(int(d) for d in str(abs(value)))
    return Decimal((1 if value < 0 else 0, digits, -decimals))


def decimal_places(amount: Decimal | int) -> int:
    """The fractional digits ``amount`` really has, trailing zeros aside:
    ``decimal_places(Decimal("1.50")) == 1``, ``decimal_places(Decimal("1E+2")) == 0``.
    Exact whatever its number of digits (no context rounding, unlike ``normalize()``)."""
    value = _check_amount(amount)
    _, digits, exponent = value.as_tuple()
    significant = len(digits)
    while significant > 1 and digits[significant - 1] == 0:
        significant -= 1
    trailing_zeros = len(digits) - significant
    return max(0, -(int(exponent) + trailing_zeros)) if any(digits) else 0


def check_decimal_places(
    amount: Decimal | int, decimals: int, *, currency: str, param: str = "amount", name_param: bool = True
) -> Decimal:
    """``amount`` if it has at most ``decimals`` fractional digits, else ``Invalid``
    (parameter_invalid on `param`: "amount: USDT has at most 6 decimals."). `name_param`
    False leaves the "amount: " prefix out of the message (what the simulator has always
    said)."""
    _check_decimals(decimals)
    if decimal_places(amount) > decimals:
        prefix = f"{param}: " if name_param else ""
        raise Invalid("parameter_invalid", f"{prefix}{currency} has at most {decimals} decimals.", param=param)
    return amount


def quantize(amount: Decimal | int, decimals: int, rounding: str = ROUND_DOWN) -> Decimal:
    """``amount`` at exactly ``decimals`` places, rounding toward zero unless told
    otherwise (``rounding`` is a ``decimal`` rounding mode such as ``ROUND_HALF_EVEN``).

    Use it where rounding is explicitly wanted (a fee, a median rate);
    :func:`to_base_units` refuses instead of rounding.
    """
    _check_decimals(decimals)
    value = _check_amount(amount)
    exponent = Decimal(1).scaleb(-decimals)
    with localcontext() as ctx:
        ctx.prec = max(28, len(value.as_tuple().digits) + decimals + 2)
        return value.quantize(exponent, rounding=rounding)


def round_up(value: Fraction | Decimal | int, decimals: int) -> Decimal:
    """The least amount with ``decimals`` places that is not below ``value`` (an exact
    rational: a conversion's quotient before any Decimal division could round it):
    ``round_up(Fraction(1, 3), 2) == Decimal("0.34")``."""
    _check_decimals(decimals)
    if isinstance(value, float):
        raise TypeError("money is never a float.")
    return from_base_units(math.ceil(Fraction(value) * 10**decimals), decimals)


def fee_amount(amount: Decimal, percent: Decimal, decimals: int) -> Decimal:
    """``percent`` % of ``amount`` at ``decimals`` places, rounded down: the fee never
    exceeds the merchant's percentage."""
    return quantize(amount * percent / Decimal(100), decimals, rounding=ROUND_DOWN)


def money(value: Decimal | None) -> str | None:
    """A plain decimal string without exponent or trailing zeros: Decimal("49.900") -> "49.9".
    How the API and webhook payloads write every amount."""
    if value is None:
        return None
    return format_amount(value, MAX_SCALE) if value else "0"


def currency_decimals(currency: str, *, asset: str, asset_decimals: int | None) -> int | None:
    """The decimals of an order's `currency`: a fiat's ISO 4217 minor units, the asset's own
    when priced in the asset; None for anything else (no minor unit is known)."""
    if is_fiat(currency):
        return FIAT_DECIMALS[currency]
    return asset_decimals if currency == asset else None


def to_minor_units(amount: Decimal | int | None, decimals: int | None) -> int | None:
    """An amount as an integer of minor units (cents, satoshi, wei, drops):
    ``to_minor_units(Decimal("10.00"), 2) == 1000``; None when there is no amount, no known
    decimals, or the amount has more decimals than the unit (never rounded)."""
    if amount is None or decimals is None:
        return None
    _check_decimals(decimals)
    numerator, denominator = _check_amount(amount).as_integer_ratio()  # exact, whatever the digits
    units, remainder = divmod(numerator * 10**decimals, denominator)
    return None if remainder else units


def amount_text(amount: Decimal | int, asset: str = "") -> str:
    """An amount as messages merchants read write it: a plain decimal and the asset,
    ``amount_text(Decimal("4.000000000000000000"), "USDT") == "4 USDT"``, never an exponent
    (``Decimal("0E-18")`` is ``"0 USDT"``, ``Decimal("1E+2")`` is ``"100 USDT"``). Every error,
    warning and event reason that names an amount goes through here."""
    text = money(_check_amount(amount))
    return f"{text} {asset}" if asset else text


def format_amount(amount: Decimal | int, decimals: int) -> str:
    """Plain decimal string for URIs: no exponent, trailing zeros trimmed.

    ``format_amount(Decimal("1.50000000"), 8) == "1.5"``,
    ``format_amount(Decimal("1E+1"), 8) == "10"``.  Refuses amounts with more
    than ``decimals`` fractional digits, like :func:`to_base_units`.
    """
    _check_decimals(decimals)
    value = _check_amount(amount)
    _, digits, exponent = value.as_tuple()
    extra = -decimals - exponent  # fractional digits past `decimals`: all must be zeros
    if extra > 0 and any(digits[-extra:]):
        raise ValueError(
            f"Amount {value} has more than {decimals} decimal places; "
            f"this asset supports at most {decimals}."
        )
    text = format(value, "f")  # positional notation, exact
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("0", "-0") else text
