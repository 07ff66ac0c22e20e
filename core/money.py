"""Conversions between asset units (``Decimal``) and integer base units.

This is the only place in fluxa that converts between e.g. ``Decimal("1.5")``
ETH and ``1500000000000000000`` wei.  All arithmetic is exact (integer based,
independent of the active ``decimal`` context); floats are refused.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal, localcontext

MAX_DECIMALS = 36


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


def quantize(amount: Decimal | int, decimals: int) -> Decimal:
    """Truncate ``amount`` to ``decimals`` places, always rounding toward zero.

    Use it where rounding is explicitly wanted (e.g. after a price
    conversion); :func:`to_base_units` refuses instead of rounding.
    """
    _check_decimals(decimals)
    value = _check_amount(amount)
    exponent = Decimal(1).scaleb(-decimals)
    with localcontext() as ctx:
        ctx.prec = max(28, len(value.as_tuple().digits) + decimals + 2)
        return value.quantize(exponent, rounding=ROUND_DOWN)


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
