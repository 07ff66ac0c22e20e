"""The dashboard, payout addresses and merchant settings."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from chains.adapters.registry import rpc_url
from chains.networks import NETWORKS
from charges.services import merchant_fee_percent
from core.errors import DomainError
from core.modes import Mode
from merchants import selectors as merchant_selectors
from merchants import services as merchant_services
from orders import selectors as order_selectors
from orders.models import OrderStatus
from portal.access import portal_view
from portal.forms import PasswordConfirmForm, PayoutAddressForm, SettingsForm
from portal.rendering import order_rows
from portal.views.orders import LIST_COLUMNS
from settlements.feepayer import fee_payer_notices
from wallets.selectors import max_lag_seconds, network_health

DASHBOARD_DAYS = 30


@portal_view()
def dashboard(request):
    merchant, mode = request.portal.merchant, request.portal.mode
    since = timezone.now() - timedelta(days=DASHBOARD_DAYS)
    counts = order_selectors.order_status_counts(merchant=merchant, mode=mode, since=since)
    chains = []
    for label, network in NETWORKS.items():
        if not rpc_url(label, mode):
            continue  # not scanned in this mode
        health = network_health(network=label, mode=mode)
        chains.append({"network": label, "name": network.display_name, "ok": health.ok,
                       "lag": None if health.lag_seconds is None else int(health.lag_seconds),
                       "max_lag": int(max_lag_seconds(label)), "problem": health.problem})
    recent = list(order_selectors.order_list(merchant=merchant, mode=mode, filters={})
                  .values(*LIST_COLUMNS)[:10])
    return render(request, "portal/dashboard.html", {
        "days": DASHBOARD_DAYS,
        "volume": list(order_selectors.order_volume(merchant=merchant, since=since)),
        "counts": [(status, counts.get(status, 0)) for status in OrderStatus.values],
        "order_rows": order_rows(recent), "chains": chains,
        "notices": merchant_selectors.notice_list(merchant=merchant, mode=mode)[:20],
        # The operator's gas accounts running low delay settlements (live mode only).
        "fee_payers_low": fee_payer_notices() if mode == Mode.LIVE else []})


@portal_view("view", write_permission="payouts")
def payout_addresses(request):
    merchant, mode = request.portal.merchant, request.portal.mode
    form = PayoutAddressForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            if mode == Mode.LIVE and not request.user.check_password(data["password"] or ""):
                form.add_error("password", "Changing a live payout address needs your password.")
            else:
                try:
                    payout, created = merchant_services.payout_address_set(
                        merchant=merchant, mode=mode, network=data["network"], address=data["address"],
                        actor=request.portal.actor)
                except ValueError as exc:  # InvalidAddress / UnknownNetwork, as the API answers them
                    form.add_error("address", str(exc))
                else:
                    messages.success(request, f"{payout.network} payouts now go to {payout.address}.")
                    return redirect("portal:payouts")
        status = 400
    rows = {p.network: p for p in merchant_selectors.payout_address_list(merchant=merchant, mode=mode)}
    return render(request, "portal/payouts.html", {
        "form": form, "rows": [(label, rows.get(label)) for label in NETWORKS],
        "delete_form": PasswordConfirmForm()}, status=status)


@require_POST
@portal_view("payouts")
def payout_address_delete(request, network: str):
    merchant, mode = request.portal.merchant, request.portal.mode
    form = PasswordConfirmForm(request.POST)
    if mode == Mode.LIVE and not (form.is_valid() and request.user.check_password(form.cleaned_data["password"])):
        messages.error(request, "Removing a live payout address needs your password.")
    elif merchant_services.payout_address_delete(merchant=merchant, mode=mode, network=network):
        messages.success(request, f"The {network} payout address is removed.")
    return redirect("portal:payouts")


@portal_view("view", write_permission="settings")
def merchant_settings(request):
    merchant = request.portal.merchant
    initial = {name: getattr(merchant, name) for name in merchant_services.SETTINGS_FIELDS}
    form = SettingsForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                merchant_services.merchant_settings_update(merchant=merchant, **form.cleaned_data)
            except DomainError as exc:
                form.add_error(exc.param if exc.param in form.fields else None, exc.message)
            else:
                messages.success(request, "Settings saved: they apply to new orders (automatic refunds: to every "
                                          "order, from the refunds' next run).")
                return redirect("portal:settings")
        status = 400
    return render(request, "portal/settings.html", {
        "form": form, "fee_percent": merchant_fee_percent(merchant), "fee_is_default": merchant.fee_percent is None,
        "readonly": not request.portal.can("settings")}, status=status)
