"""QR code rendering for payment URIs (PNG via Pillow, SVG as a single path)."""

from __future__ import annotations

import io
from typing import Literal

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from qrcode.image.pil import PilImage
from qrcode.image.svg import SvgPathImage

QrFormat = Literal["png", "svg"]

DEFAULT_BOX_SIZE = 10
DEFAULT_BORDER = 4  # the quiet zone the QR spec requires
MAX_DATA_LENGTH = 2048

CONTENT_TYPES = {"png": "image/png", "svg": "image/svg+xml"}


def _build(data: str, box_size: int, border: int) -> qrcode.QRCode:
    if not isinstance(data, str) or not data:
        raise ValueError("QR data must be a non-empty string.")
    if len(data) > MAX_DATA_LENGTH:
        raise ValueError(f"QR data is longer than {MAX_DATA_LENGTH} characters.")
    if box_size < 1 or border < 4:
        raise ValueError("box_size must be >= 1 and border >= 4 (quiet zone).")
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=border)
    code.add_data(data)
    code.make(fit=True)
    return code


def render_qr(
    data: str,
    fmt: QrFormat = "png",
    *,
    box_size: int = DEFAULT_BOX_SIZE,
    border: int = DEFAULT_BORDER,
) -> bytes:
    """Render ``data`` as a QR code (error correction M) and return PNG or SVG bytes."""
    if fmt not in CONTENT_TYPES:
        raise ValueError(f"Unsupported QR format {fmt!r}; expected 'png' or 'svg'.")
    code = _build(data, box_size, border)
    if fmt == "svg":
        return code.make_image(image_factory=SvgPathImage).to_string(encoding="utf-8")
    image = code.make_image(image_factory=PilImage, fill_color="black", back_color="white")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def content_type(fmt: QrFormat) -> str:
    """HTTP content type for a QR format."""
    try:
        return CONTENT_TYPES[fmt]
    except KeyError:
        raise ValueError(f"Unsupported QR format {fmt!r}; expected 'png' or 'svg'.") from None
