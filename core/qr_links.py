"""Signed, stateless links to QR images that fluxa serves itself (never a third-party service).

    /qr/<fmt>?d=<url-encoded data>&s=<signature>

The signature is the first 32 hex digits (128 bits) of HMAC-SHA256 under a key derived from
settings.SECRET_KEY for this purpose only (django.utils.crypto.salted_hmac), over
"<fmt>\\n<data>". The view (api.qr.qr_image) answers 404 to anything unsigned, so fluxa
is not an open QR rendering service; SECRET_KEY_FALLBACKS keep old links valid after a key
rotation. The image for a link never changes, so it is cacheable forever.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache
from urllib.parse import urlencode

from django.conf import settings
from django.utils.encoding import force_bytes

from core.qr import CONTENT_TYPES, MAX_DATA_LENGTH

QR_PATH_PREFIX = "/qr/"
SIGNATURE_HEX_LENGTH = 32
_SALT = "fluxa.wallets.qr_links"


@lru_cache(maxsize=16)
def _key(secret: str | bytes) -> bytes:
    """salted_hmac's key for this salt and secret, derived once per secret (every charge
    signs two links)."""
    return hashlib.sha256(force_bytes(_SALT) + force_bytes(secret)).digest()


def _signature(data: str, fmt: str, secret: str | bytes) -> str:
    # The same digest as salted_hmac(_SALT, ..., secret=secret, algorithm="sha256"), whose key
    # derivation is cached above (api/tests/test_api_qr_view.py compares the two).
    return hmac.new(_key(secret), force_bytes(f"{fmt}\n{data}"), hashlib.sha256).hexdigest()[:SIGNATURE_HEX_LENGTH]


def qr_signature(data: str, fmt: str = "png") -> str:
    """The signature qr_path puts in `s`, under the current SECRET_KEY."""
    return _signature(data, fmt, settings.SECRET_KEY)


def qr_signature_valid(data: str, fmt: str, signature: str) -> bool:
    """Constant-time check against SECRET_KEY and every SECRET_KEY_FALLBACKS entry."""
    if not isinstance(signature, str) or len(signature) != SIGNATURE_HEX_LENGTH:
        return False
    valid = False
    for secret in [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]:
        valid |= hmac.compare_digest(_signature(data, fmt, secret).encode(), signature.encode("ascii", "replace"))
    return valid


def qr_path(data: str, fmt: str = "png") -> str:
    """Path (with query) of the QR image of `data` ("png" or "svg"), e.g. for a payment URI:
    `/qr/png?d=bitcoin%3Abc1q...&s=3f2a...`. Make it absolute with
    request.build_absolute_uri(). Raises ValueError for empty or too long data."""
    if fmt not in CONTENT_TYPES:
        raise ValueError(f"Unsupported QR format {fmt!r}; expected 'png' or 'svg'.")
    if not isinstance(data, str) or not data:
        raise ValueError("QR data must be a non-empty string.")
    if len(data) > MAX_DATA_LENGTH:
        raise ValueError(f"QR data is longer than {MAX_DATA_LENGTH} characters.")
    return f"{QR_PATH_PREFIX}{fmt}?" + urlencode({"d": data, "s": qr_signature(data, fmt)})
