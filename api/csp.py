"""A strict Content-Security-Policy for fluxa's own HTML pages (the API docs page; the
merchant portal is meant to use the same one).

Everything comes from fluxa itself: scripts and styles only from files it serves (no inline
script or style element, no eval), requests only back to it, no frames, no plugins, no form
that submits anywhere (a key form is read by script, never submitted), no base tag. `data:`
images are allowed for the icons Swagger UI's stylesheet embeds.
"""

from __future__ import annotations

from functools import wraps

STRICT_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
])

# The merchant portal's pages: the same, except that their forms post back to fluxa itself.
PORTAL_POLICY = STRICT_POLICY.replace("form-action 'none'", "form-action 'self'")

# The payer's checkout pages: the same, with no data: images, and forms that post only back
# to fluxa (the channel chooser).
CHECKOUT_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
])

# Sent with the policy: no referrer (a docs URL never leaves the browser in a Referer), no
# content sniffing, and pages that may show account data are not kept in shared caches.
COMPANION_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


# The portal's forms post to fluxa itself, and Django's CSRF check reads the Origin header of
# each POST: under "no-referrer" browsers send `Origin: null`, so the portal sends its referrer
# to its own pages only (never to another site).
PORTAL_HEADERS = {**COMPANION_HEADERS, "Referrer-Policy": "same-origin"}


def with_policy(response, policy: str = STRICT_POLICY, headers: dict[str, str] = COMPANION_HEADERS):
    """Set `policy` and the companion `headers` on a response (the portal's middleware uses it)."""
    response["Content-Security-Policy"] = policy
    for name, value in headers.items():
        response[name] = value
    return response


def csp_decorator(policy: str, headers: dict[str, str] = COMPANION_HEADERS):
    """Decorator factory: the view's response carries `policy` and the companion `headers`."""

    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            return with_policy(view(request, *args, **kwargs), policy, headers)

        return wrapped

    return decorate


strict_csp = csp_decorator(STRICT_POLICY)
"""Decorator: the view's response carries STRICT_POLICY and COMPANION_HEADERS."""

checkout_csp = csp_decorator(CHECKOUT_POLICY)
"""Decorator: the view's response carries CHECKOUT_POLICY and COMPANION_HEADERS."""
