"""Tests for core.money: exact Decimal <-> base-unit conversion."""

from decimal import Decimal, localcontext

import pytest

from core.money import amount_text, format_amount, from_base_units, quantize, to_base_units


@pytest.mark.parametrize(
    "amount,decimals,expected",
    [
        (Decimal("1"), 18, 10**18),
        (Decimal("1.5"), 18, 1_500_000_000_000_000_000),
        (Decimal("0.00000001"), 8, 1),
        (Decimal("21000000"), 8, 2_100_000_000_000_000),
        (Decimal("1.10"), 1, 11),  # trailing zeros are not extra precision
        (Decimal("1E+1"), 6, 10_000_000),
        (Decimal("0"), 6, 0),
        (Decimal("-2.5"), 6, -2_500_000),
        (7, 6, 7_000_000),
        (
            Decimal("123456789012345678901234567890.123456789012345678"),
            18,
            123456789012345678901234567890123456789012345678,
        ),
    ],
)
def test_to_base_units(amount, decimals, expected):
    assert to_base_units(amount, decimals) == expected


def test_to_base_units_ignores_decimal_context_precision():
    with localcontext() as ctx:
        ctx.prec = 5
        assert to_base_units(Decimal("12345678.12345678"), 8) == 1234567812345678


@pytest.mark.parametrize(
    "amount,decimals",
    [
        (Decimal("0.000000001"), 8),
        (Decimal("1.1234567"), 6),
        (Decimal("0.5"), 0),
        (Decimal("1.0000000000000000001"), 18),
    ],
)
def test_to_base_units_refuses_too_many_decimals(amount, decimals):
    with pytest.raises(ValueError, match="decimal places"):
        to_base_units(amount, decimals)


@pytest.mark.parametrize("bad", [1.5, "1.5", None, True])
def test_to_base_units_refuses_non_decimal(bad):
    with pytest.raises(TypeError):
        to_base_units(bad, 8)


@pytest.mark.parametrize("bad", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_to_base_units_refuses_non_finite(bad):
    with pytest.raises(ValueError):
        to_base_units(bad, 8)


@pytest.mark.parametrize("decimals", [-1, 37, 1.0, True])
def test_bad_decimals(decimals):
    with pytest.raises((TypeError, ValueError)):
        to_base_units(Decimal("1"), decimals)


@pytest.mark.parametrize(
    "value,decimals,expected",
    [
        (1_500_000, 6, Decimal("1.5")),
        (1, 18, Decimal("0.000000000000000001")),
        (0, 8, Decimal("0")),
        (-250, 2, Decimal("-2.5")),
        (
            2**256 - 1,
            18,
            Decimal(
                "115792089237316195423570985008687907853269984665640564039457.584007913129639935"
            ),
        ),
    ],
)
def test_from_base_units(value, decimals, expected):
    result = from_base_units(value, decimals)
    assert result == expected
    assert result.as_tuple().exponent == -decimals
    assert to_base_units(result, decimals) == value


def test_from_base_units_refuses_non_int():
    with pytest.raises(TypeError):
        from_base_units(Decimal("1"), 6)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        from_base_units(1.0, 6)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "amount,decimals,expected",
    [
        (Decimal("1.999999999"), 8, Decimal("1.99999999")),
        (Decimal("-1.999"), 2, Decimal("-1.99")),  # toward zero
        (Decimal("5"), 2, Decimal("5.00")),
        (Decimal("0.129"), 0, Decimal("0")),
    ],
)
def test_quantize_rounds_down(amount, decimals, expected):
    result = quantize(amount, decimals)
    assert result == expected
    assert result.as_tuple().exponent == -decimals


def test_quantize_large_values_with_small_context():
    with localcontext() as ctx:
        ctx.prec = 5
        big = Decimal("123456789012345678901234567890.5")
        assert quantize(big, 18) == Decimal("123456789012345678901234567890.5")


@pytest.mark.parametrize(
    "amount,decimals,expected",
    [
        (Decimal("1.50000000"), 8, "1.5"),
        (Decimal("1E+1"), 8, "10"),
        (Decimal("0.00000001"), 8, "0.00000001"),
        (Decimal("1E-8"), 8, "0.00000001"),
        (Decimal("100"), 0, "100"),
        (Decimal("2"), 18, "2"),
        (Decimal("-0.5"), 6, "-0.5"),
    ],
)
def test_format_amount(amount, decimals, expected):
    assert format_amount(amount, decimals) == expected


def test_format_amount_refuses_too_many_decimals():
    with pytest.raises(ValueError):
        format_amount(Decimal("0.123456789"), 8)


def _format_via_base_units(amount, decimals):
    """format_amount as it was first written, through to_base_units: the reference."""
    base = to_base_units(amount, decimals)
    whole, frac = divmod(abs(base), 10**decimals)
    text = str(whole)
    if decimals:
        frac_text = str(frac).rjust(decimals, "0").rstrip("0")
        if frac_text:
            text = f"{text}.{frac_text}"
    return f"-{text}" if base < 0 else text


def test_format_amount_agrees_with_base_units_on_many_values():
    import random

    rng = random.Random(7)
    for _ in range(5000):
        digits = rng.randint(1, 40)
        coefficient = rng.randrange(10**digits) * rng.choice([1, 1, 10, 1000])
        value = Decimal((rng.randint(0, 1), tuple(int(d) for d in str(coefficient)), rng.randint(-30, 5)))
        decimals = rng.choice([0, 2, 6, 8, 9, 18])
        try:
            expected = _format_via_base_units(value, decimals)
        except ValueError:
            with pytest.raises(ValueError):
                format_amount(value, decimals)
            continue
        assert format_amount(value, decimals) == expected, (value, decimals)


# --- the money rules of the services ------------------------------------------------------------

from decimal import ROUND_HALF_EVEN  # noqa: E402
from fractions import Fraction  # noqa: E402

from core.errors import Invalid  # noqa: E402
from core.money import (  # noqa: E402
    FIAT_DECIMALS,
    check_decimal_places,
    decimal_places,
    fee_amount,
    fiat_decimals,
    is_fiat,
    money,
    round_up,
)


@pytest.mark.parametrize("amount,places", [
    (Decimal("1"), 0), (Decimal("1.50"), 1), (Decimal("1E+2"), 0), (Decimal("100"), 0), (Decimal("0.000"), 0),
    (Decimal("0.000001"), 6), (Decimal("-2.25"), 2), (7, 0),
    # more digits than the default context's 28: counted exactly (normalize() would round)
    (Decimal("12345678901234567890.123456789012345678"), 18),
])
def test_decimal_places_counts_the_real_fractional_digits(amount, places):
    assert decimal_places(amount) == places


def test_check_decimal_places_accepts_up_to_the_limit():
    assert check_decimal_places(Decimal("1.123456"), 6, currency="USDT") == Decimal("1.123456")
    assert check_decimal_places(Decimal("1.1000000"), 6, currency="USDT") == Decimal("1.1000000")
    assert check_decimal_places(Decimal("5"), 0, currency="JPY") == Decimal("5")


def test_check_decimal_places_refuses_more_as_an_invalid_parameter():
    with pytest.raises(Invalid) as refused:
        check_decimal_places(Decimal("1.1234567"), 6, currency="USDT")
    error = refused.value
    assert (error.code, error.param, error.message) == ("parameter_invalid", "amount",
                                                        "amount: USDT has at most 6 decimals.")
    with pytest.raises(Invalid) as refused:
        check_decimal_places(Decimal("0.5"), 0, currency="JPY", name_param=False)
    assert refused.value.message == "JPY has at most 0 decimals."
    # beyond the default context's precision, the check is still exact
    with pytest.raises(Invalid):
        check_decimal_places(Decimal("12345678901234567890.1234567"), 6, currency="USDT")


def test_quantize_rounds_down_unless_told_otherwise():
    assert quantize(Decimal("1.239"), 2) == Decimal("1.23")
    assert quantize(Decimal("-1.239"), 2) == Decimal("-1.23")
    assert quantize(Decimal("1.235"), 2, rounding=ROUND_HALF_EVEN) == Decimal("1.24")
    assert quantize(Decimal("1.225"), 2, rounding=ROUND_HALF_EVEN) == Decimal("1.22")
    assert str(quantize(Decimal("2"), 3)) == "2.000"
    # a rate of 38 digits (ExchangeRate.rate's precision) fits, whatever the context
    assert quantize(Decimal("12345678901234567890.1234567890123456789"), 18) == Decimal(
        "12345678901234567890.123456789012345678")


def test_round_up_never_lands_below_the_exact_value():
    assert round_up(Fraction(1, 3), 2) == Decimal("0.34")
    assert round_up(Fraction(100, 64000), 8) == Decimal("0.00156250")
    assert round_up(Decimal("1.5"), 0) == Decimal("2")
    assert round_up(Fraction(2, 1), 6) == Decimal("2.000000") and str(round_up(2, 6)) == "2.000000"
    with pytest.raises(TypeError):
        round_up(0.5, 2)


def test_fee_amount_rounds_down_to_the_asset_decimals():
    assert fee_amount(Decimal("100"), Decimal("1"), 6) == Decimal("1.000000")
    assert fee_amount(Decimal("0.333333"), Decimal("1.5"), 6) == Decimal("0.004999")
    assert fee_amount(Decimal("10"), Decimal("0"), 2) == Decimal("0.00")


def test_fiat_decimals_and_is_fiat():
    assert (FIAT_DECIMALS["USD"], FIAT_DECIMALS["JPY"], FIAT_DECIMALS["KWD"]) == (2, 0, 3)
    assert fiat_decimals(" eur ") == 2
    assert is_fiat("USD") and not is_fiat("USDT") and not is_fiat("usd")
    with pytest.raises(ValueError):
        fiat_decimals("BTC")


def test_money_writes_plain_decimal_strings():
    assert money(Decimal("49.900")) == "49.9"
    assert money(Decimal("1E+1")) == "10"
    assert money(Decimal("0E-18")) == "0"
    assert money(None) is None


@pytest.mark.parametrize("amount, asset, expected", [
    (Decimal("4.000000000000000000"), "USDT", "4 USDT"),
    (Decimal("0E-18"), "USDT", "0 USDT"),
    (Decimal("1E+2"), "USDT", "100 USDT"),
    (Decimal("49.900"), "", "49.9"),
    (Decimal("0.000000000000000001"), "ETH", "0.000000000000000001 ETH"),
    (3, "BTC", "3 BTC"),
])
def test_amount_text_writes_plain_decimals(amount, asset, expected):
    assert amount_text(amount, asset) == expected


def test_amount_text_refuses_a_float():
    with pytest.raises(TypeError):
        amount_text(4.0, "USDT")


@pytest.mark.parametrize("amount, decimals, expected", [
    (Decimal("10.00"), 2, 1000),
    (Decimal("49.900000000000000000"), 6, 49_900_000),
    (Decimal("0E-18"), 6, 0),
    (Decimal("1.000000000000000001"), 18, 10**18 + 1),
    (Decimal("123456789012345678901234567890.123456789012345678"), 18,
     123456789012345678901234567890123456789012345678),
    (Decimal("1E+2"), 0, 100),
    (Decimal("0.001"), 2, None),  # never rounded
    (None, 2, None),
    (Decimal("1"), None, None),
])
def test_to_minor_units_is_exact_or_none(amount, decimals, expected):
    from core.money import to_minor_units

    assert to_minor_units(amount, decimals) == expected
    if expected is not None:
        assert to_minor_units(amount, decimals) == to_base_units(amount, decimals)  # one conversion rule


def test_currency_decimals():
    from core.money import currency_decimals

    assert currency_decimals("EUR", asset="USDT", asset_decimals=6) == 2
    assert currency_decimals("JPY", asset="BTC", asset_decimals=8) == 0
    assert currency_decimals("USDT", asset="USDT", asset_decimals=18) == 18
    assert currency_decimals("BTC", asset="USDT", asset_decimals=6) is None
