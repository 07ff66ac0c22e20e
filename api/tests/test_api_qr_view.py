"""Signed QR image links served by fluxa itself: signature check, content types, caching, and a
PNG that decodes back to the payment URI."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from chains.derivation import derive_address
from chains.uris import payment_uri
from core.qr import MAX_DATA_LENGTH
from core.qr_links import qr_path, qr_signature

TEST_MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _uri() -> str:
    address = derive_address(mnemonic=TEST_MNEMONIC, network="bitcoin", mode="live", index=0).address
    return payment_uri(network="bitcoin", mode="live", address=address, amount=Decimal("0.0015"))


def _xrpl_uri() -> str:
    derived = derive_address(mnemonic=TEST_MNEMONIC, network="xrpl", mode="test", index=41)
    return payment_uri(network="xrpl", mode="test", address=derived.address, amount=Decimal("12.5"),
                       destination_tag=derived.destination_tag)


def test_qr_path_is_a_signed_relative_url():
    path = qr_path("bitcoin:bc1qxyz?amount=1&label=a b", "svg")
    parts = urlsplit(path)
    query = parse_qs(parts.query)
    assert parts.path == "/qr/svg" and not parts.netloc
    assert query["d"] == ["bitcoin:bc1qxyz?amount=1&label=a b"]
    assert re.fullmatch(r"[0-9a-f]{32}", query["s"][0])
    assert qr_path("x") .startswith("/qr/png?")
    assert qr_signature("x", "png") != qr_signature("x", "svg")


def test_qr_path_refuses_what_cannot_be_rendered():
    for data, fmt in (("", "png"), ("x" * (MAX_DATA_LENGTH + 1), "png"), ("x", "gif")):
        with pytest.raises(ValueError):
            qr_path(data, fmt)


@pytest.mark.parametrize("fmt, content_type", [("png", "image/png"), ("svg", "image/svg+xml")])
def test_a_signed_link_serves_a_cacheable_image(fmt, content_type):
    response = Client().get(qr_path(_uri(), fmt))

    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response["X-Content-Type-Options"] == "nosniff"
    if fmt == "png":
        assert response.content.startswith(PNG_MAGIC)
    else:
        assert response.content.lstrip().startswith((b"<svg", b"<?xml"))
        assert b"<script" not in response.content


def _tampered(path: str, **changes: str) -> str:
    parts = urlsplit(path)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    from urllib.parse import urlencode

    return parts.path + "?" + urlencode({k: v for k, v in query.items() if v is not None})


def test_unsigned_or_tampered_links_are_not_found():
    path = qr_path(_uri(), "png")
    signature = parse_qs(urlsplit(path).query)["s"][0]
    client = Client()
    bad = [
        _tampered(path, d=_uri().replace("0.0015", "0.0016")),  # other data, old signature
        _tampered(path, s="0" * 32),
        _tampered(path, s=signature[:-1]),
        _tampered(path, s=signature.upper()),
        "/qr/png?d=" + "bitcoin%3Abc1q",  # no signature at all
        "/qr/png?s=" + signature,  # no data
        path.replace("/qr/png", "/qr/svg"),  # the png signature does not sign the svg
        path.replace("/qr/png", "/qr/gif"),
    ]
    for url in bad:
        response = client.get(url)
        assert response.status_code == 404, url
        assert "Cache-Control" not in response or "immutable" not in response["Cache-Control"]


def test_only_get_and_head():
    path = qr_path(_uri())
    assert Client().post(path).status_code == 405
    assert Client().head(path).status_code == 200


def test_links_signed_with_a_retired_secret_key_still_work(settings):
    path = qr_path(_uri())
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-brand-new-secret-key-" + "x" * 40
    assert Client().get(path).status_code == 200
    settings.SECRET_KEY_FALLBACKS = []
    assert Client().get(path).status_code == 404


@pytest.mark.parametrize("uri", [_uri(), _xrpl_uri()], ids=["bitcoin", "xrpl"])
def test_the_png_decodes_to_the_payment_uri(uri):
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    response = Client().get(qr_path(uri, "png"))
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(response.content)))
    assert [result.text for result in results] == [uri]


@pytest.mark.parametrize("secret", ["a-secret", b"bytes-secret", "\u00e9t\u00e9-secret"])
def test_link_signature_is_salted_hmac_sha256_of_format_and_data(secret):
    """core.qr_links derives salted_hmac's key once per secret: the digest must stay exactly
    salted_hmac's, or links signed before (and by the fallbacks) stop working."""
    from django.utils.crypto import salted_hmac

    from core import qr_links

    for fmt, data in [("png", "ethereum:0xabc@1?value=1"), ("svg", "bitcoin:bc1q\u00fc")]:
        expected = salted_hmac("fluxa.wallets.qr_links", f"{fmt}\n{data}", secret=secret,
                               algorithm="sha256").hexdigest()[:32]
        assert qr_links._signature(data, fmt, secret) == expected
