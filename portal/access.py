"""Who may see and do what in the portal: the signed-in user's merchant, mode and role.

Every portal view is wrapped in `portal_view`: it signs out a session past its age or idle
limit, sends a user with a confirmed TOTP device who has not passed it to the verify page,
refuses a role without the permission (403), turns a domain NotFound (another merchant's
id, the other mode's object) into 404, and attaches `request.portal`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.contrib.auth import logout
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django_otp import user_has_device

from core.errors import NotFound
from core.modes import Mode
from merchants.models import Merchant, MerchantUser, Role
from merchants.selectors import merchant_user_of

# permission -> the roles that have it (docs/portal.md, "Roles")
PERMISSIONS: dict[str, frozenset[str]] = {
    "view": frozenset({Role.OWNER, Role.DEVELOPER, Role.VIEWER}),
    "keys": frozenset({Role.OWNER, Role.DEVELOPER}),
    "webhooks": frozenset({Role.OWNER, Role.DEVELOPER}),
    "orders.change": frozenset({Role.OWNER, Role.DEVELOPER}),  # mark paid, cancel, reopen, simulate
    "links": frozenset({Role.OWNER, Role.DEVELOPER}),  # products and payment links: create, change
    "refunds": frozenset({Role.OWNER}),
    "payouts": frozenset({Role.OWNER}),
    "settings": frozenset({Role.OWNER}),
}

MODE_KEY = "portal_mode"
SIGNED_IN_KEY = "portal_signed_in_at"
SEEN_KEY = "portal_seen_at"
SEEN_RESOLUTION = 60  # seconds: the idle clock is kept to the minute


@dataclass
class Portal:
    member: MerchantUser
    merchant: Merchant
    mode: str

    @property
    def role(self) -> str:
        return self.member.role

    @property
    def actor(self) -> str:
        """How the audit log (OrderEvent.actor, refund.actor) names this user."""
        return f"portal:{self.member.user.get_username()}"

    def can(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]


def session_mode(request) -> str:
    mode = request.session.get(MODE_KEY, Mode.TEST)
    return mode if mode in Mode.values else Mode.TEST


def start_session(request) -> None:
    """At sign-in: the session's clocks start, in test mode."""
    now = int(time.time())
    request.session[SIGNED_IN_KEY] = now
    request.session[SEEN_KEY] = now
    request.session.setdefault(MODE_KEY, Mode.TEST)
    request.session.set_expiry(settings.FLUXA_PORTAL_SESSION_SECONDS)


def _expired(request) -> bool:
    now = int(time.time())
    signed_in = request.session.get(SIGNED_IN_KEY)
    seen = request.session.get(SEEN_KEY)
    if signed_in is None or seen is None:
        return True
    return (now - signed_in > settings.FLUXA_PORTAL_SESSION_SECONDS
            or now - seen > settings.FLUXA_PORTAL_IDLE_SECONDS)


def _to_login(request):
    return redirect(reverse("portal:login") + "?" + urlencode({"next": request.get_full_path()}))


def forbidden(request, message: str):
    return render(request, "portal/403.html", {"message": message}, status=403)


def portal_view(permission: str = "view", *, write_permission: str | None = None, otp: bool = True):
    """`permission` is needed to open the page; `write_permission` (if given) for a POST."""

    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return _to_login(request)
            if _expired(request):
                logout(request)
                return _to_login(request)
            now = int(time.time())
            if now - request.session.get(SEEN_KEY, 0) >= SEEN_RESOLUTION:
                request.session[SEEN_KEY] = now  # a session write at most once a minute
            member = merchant_user_of(request.user)
            if member is None:
                logout(request)
                return _to_login(request)
            if otp and user_has_device(request.user) and not request.user.is_verified():
                return redirect(reverse("portal:otp-verify") + "?" + urlencode({"next": request.get_full_path()}))
            request.portal = Portal(member=member, merchant=member.merchant, mode=session_mode(request))
            needed = write_permission if (write_permission and request.method == "POST") else permission
            if not request.portal.can(needed):
                return forbidden(request, f"Your role ({member.role}) may not do this.")
            try:
                return view(request, *args, **kwargs)
            except NotFound as exc:
                raise Http404(exc.message) from exc

        return wrapped

    return decorate
