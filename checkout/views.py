"""The payer-facing pages: an order's checkout page, its status endpoint, the channel
chooser, and the public URL of a payment link.

Public and unauthenticated: the checkout token in the URL is the only credential (192
random bits, never the order id), so every view answers 404 alike for a wrong token and a
deleted order, and each client address is rate limited (FLUXA_CHECKOUT_RATE,
FLUXA_PAYMENT_LINK_RATE). The pages carry api.csp.CHECKOUT_POLICY: no inline script or
style, everything from fluxa itself. They set no cookie: the chooser's form is not
CSRF-protected because it needs no protection (whoever can post it knows the token, and can
post it with any client; choosing a channel moves no money).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from api.csp import checkout_csp
from charges.services import channels_for_choice
from checkout import selectors, services
from core import ratelimit
from core.errors import DomainError, NotFound
from core.money import money
from merchants.api.authentication import client_address
from wallets.models import TransferStatus


def _limited(request, scope: str, rate_setting: str) -> int | None:
    """Seconds to wait when this client is over its rate, else None."""
    rate = ratelimit.parse_rate(getattr(settings, rate_setting))
    if rate is None:
        return None
    hit = ratelimit.hit(scope, client_address(request), rate)
    return None if hit.allowed else hit.retry_after


def _too_many(request, retry_after: int, *, as_json: bool) -> HttpResponse:
    message = _("Too many requests; wait a moment and try again.")
    if as_json:
        response = JsonResponse({"error": {"code": "rate_limited", "message": message, "param": None}}, status=429)
    else:
        response = render(request, "checkout/problem.html", {"message": message}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def _missing(request) -> HttpResponse:
    return render(request, "checkout/problem.html", {
        "message": _("This payment page does not exist or no longer works.")}, status=404)


def _page_context(order, *, error: str = "") -> dict:
    state = selectors.checkout_state(order)
    context = {
        "order": order, "state": state, "merchant_name": order.merchant.name, "error": error,
        "price": money(order.amount),  # what the merchant priced it in, written like every amount
        "poll_seconds": settings.FLUXA_CHECKOUT_POLL_SECONDS, "open": state["phase"] in selectors.OPEN_PHASES,
    }
    if state["phase"] == "choose":
        context["channels"] = channels_for_choice(currency=order.currency)
    elif order.channel_id:
        context["network_words"] = selectors.network_words(order)
        context["token_contract"] = order.channel.token_contract_for(order.mode) or ""
        context["receipt_transfers"] = list(
            order.transfers.exclude(status=TransferStatus.REVERTED).order_by("detected_at", "id")
            .values("tx_hash", "amount", "confirmations")) if state["phase"] in ("paid", "refunded") else []
    return context


@require_safe
@checkout_csp
def checkout_page(request, token: str):
    if (wait := _limited(request, "checkout", "FLUXA_CHECKOUT_RATE")) is not None:
        return _too_many(request, wait, as_json=False)
    order = selectors.checkout_order(token=token)
    if order is None:
        return _missing(request)
    return render(request, "checkout/page.html", _page_context(order))


@csrf_exempt
@require_POST
@checkout_csp
def checkout_choose(request, token: str):
    """The chooser's form: price the order on the chosen channel, then back to the page (302)."""
    if (wait := _limited(request, "checkout", "FLUXA_CHECKOUT_RATE")) is not None:
        return _too_many(request, wait, as_json=False)
    order = selectors.checkout_order(token=token)
    if order is None:
        return _missing(request)
    try:
        services.checkout_choose_channel(order=order, channel_code=request.POST.get("channel", "")[:32])
    except DomainError as exc:
        order = selectors.checkout_order(token=token)
        return render(request, "checkout/page.html", _page_context(order, error=_choice_error(exc)), status=422)
    return redirect("checkout-page", token=token, permanent=False)


def _choice_error(exc: DomainError) -> str:
    if exc.code in ("unknown_channel", "channel_disabled"):
        return _("Choose one of the ways to pay listed here.")
    if exc.code == "amount_out_of_range":
        return _("This amount cannot be paid this way; choose another.")
    if exc.code in ("rate_unavailable", "network_unavailable"):
        return _("This way to pay is not available right now; choose another or try again shortly.")
    if exc.code == "order_not_open":
        return _("This payment request is no longer open.")
    return _("This way to pay is not available; choose another.")


@require_safe
def checkout_status(request, token: str):
    """GET /pay/<token>/status: the page's state as JSON, what its script polls."""
    if (wait := _limited(request, "checkout", "FLUXA_CHECKOUT_RATE")) is not None:
        return _too_many(request, wait, as_json=True)
    order = selectors.checkout_order(token=token, state_only=True)
    if order is None:
        response = JsonResponse({"error": {"code": "not_found", "message": "Not found.", "param": None}}, status=404)
    else:
        response = JsonResponse(selectors.checkout_state(order))
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_http_methods(["GET"])
@checkout_csp
def payment_link_visit(request, link_id: str):
    """GET /l/<pl_id>: a fresh order on every visit, then its checkout page (302)."""
    if (wait := _limited(request, "payment_link", "FLUXA_PAYMENT_LINK_RATE")) is not None:
        return _too_many(request, wait, as_json=False)
    try:
        order = services.payment_link_open(link_id=link_id, base_url=request.build_absolute_uri("/"))
    except NotFound:
        return _missing(request)
    except DomainError:
        return render(request, "checkout/problem.html", {
            "message": _("This payment link cannot take payments right now; try again later.")}, status=503)
    return redirect("checkout-page", token=order.checkout_token, permanent=False)
