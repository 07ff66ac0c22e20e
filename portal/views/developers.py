"""API keys and webhook endpoints. A secret is rendered once, in the answer to the POST that
made it (never stored in the session, never redirected to, never shown again): the page says
so, and the response is not cached."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.errors import DomainError
from merchants import selectors as merchant_selectors
from merchants import services as merchant_services
from merchants.models import ApiKey
from portal.access import portal_view
from portal.forms import ApiKeyForm, DeliveryFilterForm, EndpointForm, RotateForm
from portal.rendering import filter_fields
from webhooks import selectors as webhook_selectors
from webhooks import services as webhook_services

DELIVERY_PAGE = 50


def _key(request, key_id: str) -> ApiKey:
    key = merchant_selectors.api_key_list(merchant=request.portal.merchant, mode=request.portal.mode).filter(
        key_id=key_id).first()
    if key is None:
        raise Http404("no such key")
    return key


def _keys_page(request, *, issued=None, form=None, status=200):
    keys = merchant_selectors.api_key_list(merchant=request.portal.merchant, mode=request.portal.mode)
    return render(request, "portal/keys.html", {"keys": keys, "issued": issued, "form": form or ApiKeyForm()},
                  status=status)


@portal_view("view", write_permission="keys")
def api_keys(request):
    if request.method != "POST":
        return _keys_page(request)
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _keys_page(request, form=form, status=400)
    issued = merchant_services.api_key_create(merchant=request.portal.merchant, mode=request.portal.mode,
                                              label=form.cleaned_data["label"])
    return _keys_page(request, issued=issued)


@require_POST
@portal_view("keys")
def api_key_revoke(request, key_id: str):
    key = merchant_services.api_key_revoke(api_key=_key(request, key_id))
    messages.success(request, f"Key {key.key_id} is revoked: the API refuses it from now on.")
    return redirect("portal:api-keys")


@require_POST
@portal_view("keys")
def api_key_roll(request, key_id: str):
    old = _key(request, key_id)
    if old.is_revoked:
        messages.error(request, f"Key {old.key_id} is revoked already; create a new one instead.")
        return redirect("portal:api-keys")
    issued = merchant_services.api_key_roll(api_key=old)
    messages.success(request, f"Key {old.key_id} is revoked and replaced by {issued.api_key.key_id}.")
    return _keys_page(request, issued=issued)


# --- webhooks ------------------------------------------------------------------------------------


def _endpoint(request, endpoint_id: str):
    return webhook_selectors.endpoint_get(merchant=request.portal.merchant, mode=request.portal.mode,
                                          endpoint_id=endpoint_id)


def _endpoints_page(request, *, form=None, created=None, secret=None, status=200):
    endpoints = webhook_selectors.endpoint_list(merchant=request.portal.merchant, mode=request.portal.mode)
    return render(request, "portal/webhooks.html", {
        "endpoints": endpoints, "form": form or EndpointForm(), "created": created, "secret": secret,
        "rotate_form": RotateForm()}, status=status)


@portal_view("view", write_permission="webhooks")
def webhook_endpoints(request):
    if request.method != "POST":
        return _endpoints_page(request)
    form = EndpointForm(request.POST)
    if not form.is_valid():
        return _endpoints_page(request, form=form, status=400)
    try:
        endpoint, secret = webhook_services.endpoint_create(
            merchant=request.portal.merchant, mode=request.portal.mode, url=form.cleaned_data["url"],
            description=form.cleaned_data["description"], enabled_events=form.cleaned_data["enabled_events"] or None)
    except DomainError as exc:
        form.add_error("url" if exc.param == "url" else None, exc.message)
        return _endpoints_page(request, form=form, status=400)
    return _endpoints_page(request, created=endpoint, secret=secret)


@require_POST
@portal_view("webhooks")
def webhook_endpoint_toggle(request, endpoint_id: str):
    endpoint = _endpoint(request, endpoint_id)
    enabled = request.POST.get("enabled") == "1"
    webhook_services.endpoint_update(endpoint=endpoint, enabled=enabled)
    messages.success(request, f"Endpoint {endpoint.id} is {'enabled' if enabled else 'disabled'}.")
    return redirect("portal:webhooks")


@require_POST
@portal_view("webhooks")
def webhook_endpoint_rotate(request, endpoint_id: str):
    endpoint = _endpoint(request, endpoint_id)
    form = RotateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The overlap is a number of seconds, up to 7 days.")
        return redirect("portal:webhooks")
    secret = webhook_services.endpoint_rotate_secret(endpoint=endpoint,
                                                     overlap_seconds=form.cleaned_data["overlap_seconds"])
    return _endpoints_page(request, created=endpoint, secret=secret)


@require_POST
@portal_view("webhooks")
def webhook_endpoint_test(request, endpoint_id: str):
    endpoint = _endpoint(request, endpoint_id)
    delivery = webhook_services.endpoint_send_test(endpoint=endpoint)
    messages.success(request, f"Test event {delivery.event_id} is on its way to {endpoint.url}.")
    return redirect(f"{_deliveries_url()}?endpoint={endpoint.id}")


def _deliveries_url() -> str:
    return reverse("portal:deliveries")


@portal_view()
def deliveries(request):
    form = DeliveryFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    try:
        page = max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        page = 1
    qs = webhook_selectors.delivery_list(
        merchant=request.portal.merchant, mode=request.portal.mode, endpoint_id=filters.get("endpoint") or None,
        status=filters.get("status") or None, event_type=filters.get("type") or None)
    rows = list(qs[(page - 1) * DELIVERY_PAGE:page * DELIVERY_PAGE + 1])
    query = request.GET.copy()
    query["page"] = page + 1
    return render(request, "portal/deliveries.html", {
        "form": form, "filter_fields": filter_fields(form), "deliveries": rows[:DELIVERY_PAGE], "next_query": query.urlencode()
        if len(rows) > DELIVERY_PAGE else None})


@require_POST
@portal_view("webhooks")
def event_redeliver(request, event_id: str):
    event = webhook_selectors.event_get(merchant=request.portal.merchant, mode=request.portal.mode,
                                        event_id=event_id)
    endpoint = None
    if endpoint_id := request.POST.get("endpoint"):
        endpoint = _endpoint(request, endpoint_id)
    sent = webhook_services.event_redeliver(event=event, endpoint=endpoint)
    if sent:
        messages.success(request, f"Event {event.id} is sent again to {len(sent)} endpoint(s).")
    else:
        messages.error(request, "No enabled webhook endpoint to deliver to. (no_endpoint)")
    back = request.POST.get("back", "")
    if back.startswith("/portal/"):
        return redirect(back)
    return redirect("portal:deliveries")
