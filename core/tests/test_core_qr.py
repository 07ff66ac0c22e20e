"""Tests for core.qr.

Decoding uses zxing-cpp (``import zxingcpp``), a test-only dependency; the
decode tests are skipped when it is not installed.
"""

from __future__ import annotations

import io
from decimal import Decimal
from xml.etree import ElementTree

import pytest
from PIL import Image

from chains.uris import payment_uri
from core.qr import content_type, render_qr

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

URIS = [
    payment_uri(
        network="bitcoin",
        mode="live",
        address="bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu",
        amount=Decimal("0.00123"),
    ),
    payment_uri(
        network="polygon",
        mode="live",
        address="0x9858EfFD232B4033E47d90003D41EC34EcaEda94",
        amount=Decimal("12.34"),
        token="0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359",
        token_decimals=6,
    ),
    payment_uri(
        network="solana",
        mode="test",
        address="HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk",
        amount=Decimal("2.5"),
        token="EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
        token_decimals=6,
    ),
    payment_uri(
        network="xrpl",
        mode="live",
        address="rHsMGQEkVNJmpGWs8XUBoTBiAAbwxZN5v3",
        amount=Decimal("25"),
        destination_tag=4294967295,
    ),
]


@pytest.mark.parametrize("data", URIS)
def test_png_decodes_back_to_the_payment_uri(data):
    import zxingcpp  # a real decoder (requirements.txt): the test never skips
    png = render_qr(data, "png")
    image = Image.open(io.BytesIO(png))
    results = zxingcpp.read_barcodes(image)
    assert [r.text for r in results] == [data]
    assert results[0].format == zxingcpp.BarcodeFormat.QRCode
    assert results[0].ec_level == "M"


def test_png_is_a_png_with_quiet_zone():
    png = render_qr(URIS[0])
    assert png.startswith(PNG_MAGIC)
    image = Image.open(io.BytesIO(png)).convert("L")
    width, height = image.size
    assert width == height and width % 10 == 0  # box size 10
    assert width // 10 >= 21 + 8  # at least a version-1 symbol plus 4-module border each side
    # the 4-module quiet zone (40 px) is white all around
    for x in range(width):
        assert image.getpixel((x, 5)) == 255 and image.getpixel((x, height - 5)) == 255
    assert image.getpixel((45, 45)) == 0  # finder pattern corner starts right after the border


def test_svg_is_well_formed_svg():
    svg = render_qr(URIS[1], "svg")
    assert isinstance(svg, bytes)
    root = ElementTree.fromstring(svg)
    assert root.tag.endswith("svg")
    assert root.find("{http://www.w3.org/2000/svg}path") is not None


def test_box_size_and_border_options():
    small = Image.open(io.BytesIO(render_qr("hello", box_size=2, border=4)))
    big = Image.open(io.BytesIO(render_qr("hello", box_size=8, border=4)))
    assert big.size[0] == 4 * small.size[0]


@pytest.mark.parametrize(
    "data,fmt,kwargs",
    [
        ("", "png", {}),
        (None, "png", {}),
        ("x", "gif", {}),
        ("x" * 3000, "png", {}),
        ("x", "png", {"border": 1}),
        ("x", "png", {"box_size": 0}),
    ],
)
def test_bad_input(data, fmt, kwargs):
    with pytest.raises(ValueError):
        render_qr(data, fmt, **kwargs)


def test_content_types():
    assert content_type("png") == "image/png"
    assert content_type("svg") == "image/svg+xml"
    with pytest.raises(ValueError):
        content_type("jpg")
