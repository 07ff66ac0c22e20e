"""The API docs page (/api/v1/docs) that signs "Try it out" requests in the browser, and the
guides under docs/ rendered as HTML (/docs/<name>.md) for the page to link to.

The page is Swagger UI from drf_spectacular_sidecar plus static/api/docs.js, all served by
fluxa under api.csp.STRICT_POLICY. The script asks for a key id and secret once, turns the
secret into a non-extractable Web Crypto HMAC key held in the page's memory only, and signs
every request Swagger UI sends to /api/v1/ (README.md, "Signing requests"). Nothing here ever
sees the secret: the server only serves files.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import markdown
from django.conf import settings
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_safe

from api.csp import strict_csp

# The guides a page may link to: docs/<name>.md, and the README (signing, setup).
GUIDE_DIR = Path(settings.BASE_DIR) / "docs"
README = Path(settings.BASE_DIR) / "README.md"
# The URL name of the merchant portal's key page; without it (a deployment without the portal) the page says how to
# make a key pair on the command line instead.
PORTAL_KEYS_URL_NAME = "portal:api-keys"


def _guide_path(name: str) -> Path | None:
    path = README if name == "README" else GUIDE_DIR / f"{name}.md"
    if path.parent not in (GUIDE_DIR, README.parent) or not path.is_file():
        return None
    return path


@lru_cache(maxsize=32)
def _render(path: Path, mtime: float) -> tuple[str, str, list[dict]]:
    """(title, HTML body, top sections as [{"id", "name"}]) of one Markdown file."""
    md = markdown.Markdown(extensions=["toc", "tables", "fenced_code"])
    html = md.convert(path.read_text())
    if path == README:  # its pictures live in docs/, served by guide_image
        html = html.replace('src="docs/', 'src="/docs/')
    tokens = md.toc_tokens
    title = tokens[0]["name"] if tokens and tokens[0]["level"] == 1 else path.stem
    top = tokens[0]["children"] if len(tokens) == 1 and tokens[0]["level"] == 1 else tokens
    return title, html, [{"id": t["id"], "name": t["name"]} for t in top]


def guide(name: str) -> tuple[str, str, list[dict]]:
    path = _guide_path(name)
    if path is None:
        raise Http404(name)
    return _render(path, path.stat().st_mtime)


def _portal_keys_url() -> str | None:
    try:
        return reverse(PORTAL_KEYS_URL_NAME)
    except NoReverseMatch:
        return None


@require_safe
@strict_csp
def docs_page(request):
    api_sections = guide("api")[2]
    others = sorted(p.stem for p in GUIDE_DIR.glob("*.md") if p.stem != "api")
    return render(request, "api/docs.html", {
        "schema_url": reverse("schema"),
        "api_sections": api_sections,
        "other_guides": others,
        "portal_keys_url": _portal_keys_url(),
    })


@require_safe
@strict_csp
def guide_page(request, name: str):
    title, html, sections = guide(name)
    return render(request, "api/guide.html", {"title": title, "html": html, "name": name})


IMAGE_FOLDERS = ("", "portal", "checkout")  # docs/*.png, docs/portal/*.png, docs/checkout/*.png


@require_safe
@strict_csp
def guide_image(request, name: str, folder: str = ""):
    """A picture of the guides (docs/<name>.png, docs/<folder>/<name>.png), such as the README's
    docs/api-docs.png."""
    if folder not in IMAGE_FOLDERS:
        raise Http404(name)
    path = GUIDE_DIR / folder / f"{name}.png"
    if not path.is_file():
        raise Http404(name)
    return FileResponse(path.open("rb"), content_type="image/png")
