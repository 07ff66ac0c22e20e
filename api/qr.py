"""The QR images of payment instructions, served by fluxa itself (see core.qr_links)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.views.decorators.http import require_safe

from core.qr import CONTENT_TYPES, render_qr
from core.qr_links import qr_signature_valid

CACHE_CONTROL = "public, max-age=31536000, immutable"


@require_safe
def qr_image(request: HttpRequest, fmt: str) -> HttpResponse:
    """GET /qr/<fmt>?d=...&s=...: the QR code of `d` as PNG or SVG when `s` signs it; 404
    otherwise (fluxa is not an open QR service). The answer never changes: cached for a year."""
    data = request.GET.get("d", "")
    signature = request.GET.get("s", "")
    if fmt not in CONTENT_TYPES or not data or not qr_signature_valid(data, fmt, signature):
        return HttpResponseNotFound("Not found.", content_type="text/plain")
    try:
        body = render_qr(data, fmt)
    except ValueError:  # too long: qr_path never signs such data
        return HttpResponseNotFound("Not found.", content_type="text/plain")
    response = HttpResponse(body, content_type=CONTENT_TYPES[fmt])
    response["Cache-Control"] = CACHE_CONTROL
    response["Content-Security-Policy"] = "default-src 'none'"  # an SVG opened directly runs nothing
    response["X-Content-Type-Options"] = "nosniff"
    return response
