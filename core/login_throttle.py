"""Password logins (the admin) limited per source address and per user name.

`ThrottledModelBackend` is Django's ModelBackend with core.ratelimit in front: each attempt
is counted before the password is checked and given back when it succeeds, so at most
FLUXA_LOGIN_FAILURE_RATE wrong passwords are tried per window; past that, even the right
password is refused until the window ends (docs/security.md, "Admin").
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from core import ratelimit


def _address(request) -> str:
    if request is None:
        return "none"
    proxies = getattr(settings, "FLUXA_TRUSTED_PROXIES", 0)
    if proxies > 0:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


class ThrottledModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        rate = ratelimit.parse_rate(settings.FLUXA_LOGIN_FAILURE_RATE)
        if rate is None:
            return super().authenticate(request, username=username, password=password, **kwargs)
        name = str(username if username is not None else kwargs.get("email", "")).lower()
        hits = ratelimit.hit_many([("login_addr", _address(request), rate), ("login_user", name, rate)])
        if not all(h.allowed for h in hits):
            ratelimit.undo([h for h in hits if h.allowed])
            raise PermissionDenied("Too many failed logins; wait and try again.")  # stops every backend
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:
            ratelimit.undo(hits)
        return user
