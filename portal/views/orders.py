"""Orders: the list (the API's filters, keyset pages, streamed CSV) and one order with its
actions. Every read goes through orders.selectors, every change through the same service
the API calls."""

from __future__ import annotations

import csv
from datetime import datetime

from django.contrib import messages
from django.http import Http404, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from chains.explorers import tx_url
from chains.networks import get_network
from core.errors import DomainError
from core.money import amount_text, money
from orders import counting, selectors, services
from orders.models import OrderStatus, SettlementMode
from portal import rendering
from portal.access import portal_view
from portal.forms import DepositRefundConfirmForm, DepositRefundForm, OrderFilterForm, RefundForm, SimulateForm
from refunds import selectors as refund_selectors
from refunds.models import RefundCause
from refunds.services import (
    CLOSED_FOR_REFUND,
    deposit_refund_create,
    deposit_refund_quote,
    quote_text,
    refund_create,
    stuck_funds,
)
from settlements import selectors as settlement_selectors
from settlements import services as settlement_services
from webhooks import selectors as webhook_selectors

PAGE_SIZE = 50
LIST_COLUMNS = ("id", "merchant_order_id", "status", "payment_exception", "amount", "currency", "amount_due",
                "asset", "network", "channel_id", "customer_email", "customer_name", "created_at")
CSV_COLUMNS = (*LIST_COLUMNS, "amount_received", "amount_confirmed", "refunded_amount", "fee_amount", "paid_at")
MONEY_COLUMNS = {"amount", "amount_due", "amount_received", "amount_confirmed", "refunded_amount", "fee_amount"}


def _cursor(value: str | None) -> tuple | None:
    """`2026-01-02T03:04:05.123456+00:00~ord_...` -> (created_at, id); None if absent or bad."""
    if not value or "~" not in value:
        return None
    stamp, _, pk = value.partition("~")
    try:
        return datetime.fromisoformat(stamp), pk[:64]
    except ValueError:
        return None


def _filtered(request):
    """The form, its filters and the filtered queryset; None for the queryset when a filter
    is invalid (nothing is listed or exported rather than everything)."""
    form = OrderFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return form, {}, None
    filters = form.selector_filters() if form.is_bound else {}
    try:
        qs = selectors.order_list(merchant=request.portal.merchant, mode=request.portal.mode, filters=filters)
    except DomainError as exc:  # e.g. a payer address of no network: the API's own refusal
        form.add_error(exc.param if exc.param in form.fields else None, str(exc))
        return form, filters, None
    return form, filters, qs


@portal_view()
def order_list(request):
    form, filters, qs = _filtered(request)
    before = _cursor(request.GET.get("before"))
    rows = [] if qs is None else list(
        selectors.order_seek(qs, before=before).values(*LIST_COLUMNS)[:PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    query = request.GET.copy()
    query.pop("before", None)
    next_query = None
    if more:
        last = rows[-1]
        query["before"] = f"{last['created_at'].isoformat()}~{last['id']}"
        next_query = query.urlencode()
        query.pop("before")
    total = None
    if qs is not None and not filters and counting.maintained():
        total = counting.live_order_total(merchant_id=request.portal.merchant.pk, mode=request.portal.mode)
    return render(request, "portal/orders.html", {
        "form": form, "order_rows": rendering.order_rows(rows), "filter_fields": rendering.filter_fields(form), "next_query": next_query, "filter_query": query.urlencode(),
        "first_page": before is None, "total": total, "invalid": qs is None}, status=400 if qs is None else 200)


def _csv_cell(name: str, value) -> str:
    if value is None:
        return ""
    if name in MONEY_COLUMNS:
        return money(value)
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    # A cell a spreadsheet would run as a formula (CSV injection) is written as text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value):
        return value


@portal_view()
def order_csv(request):
    """Every order of the filtered list, streamed (StreamingHttpResponse) in pages of rows."""
    _, _, qs = _filtered(request)
    if qs is None:
        return HttpResponseBadRequest("A filter is invalid: fix it on the orders page first.",
                                      content_type="text/plain")
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(CSV_COLUMNS)
        for row in qs.values_list(*CSV_COLUMNS).iterator(chunk_size=2000):
            yield writer.writerow([_csv_cell(name, value) for name, value in zip(CSV_COLUMNS, row)])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="orders-{request.portal.mode}.csv"'
    return response


def _order(request, order_id: str):
    return selectors.order_get(merchant=request.portal.merchant, mode=request.portal.mode, order_id=order_id)


def _detail(request, order, *, deposit_form=None, quote=None) -> dict:
    """What the order page shows; `deposit_form` and `quote`: the deposit refund's steps."""
    required = order.channel.required_confirmations
    transfers = [{"t": t, "required": required,
                  "explorer": tx_url(network=t.network, mode=t.mode, tx_hash=t.tx_hash, simulated=t.simulated)}
                 for t in order.transfers.order_by("-detected_at", "-id")]
    deliveries = list(webhook_selectors.delivery_list(merchant=request.portal.merchant, mode=request.portal.mode,
                                                      order_id=order.id)[:100])
    actions = [status for status in services.MANUAL_TARGETS
               if status in services.TRANSITIONS.get(order.status, ()) and status != order.status]
    settlements = [{"s": s, "explorer": tx_url(network=s.network, mode=s.mode, tx_hash=s.tx_hash)}
                   for s in settlement_selectors.settlements_of_order(order)]
    refunds = [{"r": r, "explorer": tx_url(network=r.network, mode=order.mode, tx_hash=r.tx_hash)}
               for r in refund_selectors.refunds_of_order(order)]
    return {
        "order": order, "payment": order.payments.order_by("created_at").first(), "transfers": transfers,
        "settlements": settlements, "refunds": refunds, "events": order.events.all(), "deliveries": deliveries,
        "actions": actions, "refundable": order.status in (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED)
        and order.settlement_mode == "custodial",
        "refund_form": RefundForm(), "simulate_form": SimulateForm(),
        "balance": order.amount - order.refunded_amount, **_deposit_refund(order, deposit_form, quote)}


def _deposit_refund(order, form, quote) -> dict:
    """The deposit refund block: what refunds.services.stuck_funds says can go back now (a
    read of the database only; the quote, with its node reads, comes on request), the form
    (prefilled with the order's refund address) or the quote to confirm."""
    if order.settlement_mode != SettlementMode.DIRECT or order.status in (OrderStatus.CREATED, OrderStatus.PENDING):
        return {}
    try:
        stuck = stuck_funds(order)
    except DomainError as exc:
        # Why nothing goes back, where a person would look for a refund: a closed order, or
        # one whose payment was out of the ordinary (not every paid order).
        closed_or_odd = order.status in CLOSED_FOR_REFUND or order.payment_exception
        return {"deposit_refund_none": exc.message} if closed_or_odd else {}
    if form is None:
        form = DepositRefundForm(initial={"refund_address": order.refund_address,
                                          "destination_tag": order.refund_destination_tag})
    context = {"stuck": stuck, "stuck_cause": RefundCause(stuck.cause).label, "deposit_form": form,
               "takes_tag": get_network(order.network).family == "xrpl"}
    if quote is not None:
        context.update(quote=quote, quote_message=quote_text(quote))
        context["confirm_form"] = DepositRefundConfirmForm(initial={
            "refund_address": quote.refund_address, "destination_tag": quote.destination_tag,
            "reason": form.cleaned_data.get("reason", "") if form.is_bound and form.is_valid() else "",
            "net": money(quote.quote.net)})
    return context


@portal_view()
def order_detail(request, order_id: str):
    return render(request, "portal/order_detail.html", _detail(request, _order(request, order_id)))


def _refusal(request, exc: DomainError) -> None:
    messages.error(request, f"{exc.message} ({exc.code})")


@require_POST
@portal_view("orders.change")
def order_set_status(request, order_id: str):
    """Mark paid, cancel or reopen: orders.services.order_set_status, as PATCH /orders/{id}."""
    order = _order(request, order_id)
    try:
        change, started = settlement_services.order_set_status_and_settle(
            order_id=order.id, status=request.POST.get("status", ""), actor=request.portal.actor)
    except DomainError as exc:
        _refusal(request, exc)
    else:
        if started is not None and started.settlement is not None:
            messages.info(request, f"Settlement {started.settlement.id} started ({started.settlement.status}).")
        if started is not None and started.warning:
            messages.warning(request, f"{started.warning} (settlement_not_started)")
        for warning in change.warnings:
            messages.warning(request, f"{warning['message']} ({warning['code']})")
        if change.changed:
            messages.success(request, f"Order is now {change.order.status}.")
    return redirect("portal:order-detail", order_id=order.id)


@require_POST
@portal_view("orders.change")
def order_simulate(request, order_id: str):
    """Test mode: orders.services.order_simulate_payment, as POST /orders/{id}/simulate_payment."""
    order = _order(request, order_id)
    if not order.is_test:
        raise Http404("no such test order")
    form = SimulateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The amount is not a number.")
        return redirect("portal:order-detail", order_id=order.id)
    try:
        change, transfer = services.order_simulate_payment(order_id=order.id, amount=form.cleaned_data["amount"],
                                                           actor=request.portal.actor)
    except DomainError as exc:
        _refusal(request, exc)
    else:
        messages.success(request, f"Simulated {money(transfer.amount)} {transfer.asset}: the order is "
                                  f"{change.order.status}.")
    return redirect("portal:order-detail", order_id=order.id)


@require_POST
@portal_view("refunds")
def order_refund(request, order_id: str):
    """A custodial refund: refunds.services.refund_create, as POST /orders/{id}/refund."""
    order = _order(request, order_id)
    form = RefundForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A refund needs a reason, and an amount that is a number (or empty).")
        return redirect("portal:order-detail", order_id=order.id)
    try:
        refund = refund_create(order_id=order.id, amount=form.cleaned_data["amount"],
                               reason=form.cleaned_data["reason"], actor=request.portal.actor)
    except DomainError as exc:
        _refusal(request, exc)
    else:
        messages.success(request, f"Refund {refund.id} of {money(refund.amount)} {refund.currency} booked.")
    return redirect("portal:order-detail", order_id=order.id)


@portal_view("refunds")
def order_deposit_refund(request, order_id: str):
    """A deposit refund in two steps, owner only. GET (the form's "Get quote"):
    refunds.services.deposit_refund_quote, as GET /orders/{id}/refund_quote, shown on the order
    page with a "Confirm refund" form. POST ("Confirm refund", CSRF):
    refunds.services.deposit_refund_create, as POST /orders/{id}/refund, with the net that was
    shown (a quote that moved since is refused and quoted again)."""
    order = _order(request, order_id)
    if request.method == "POST":
        return _deposit_refund_confirm(request, order)
    form = DepositRefundForm(request.GET)
    if not form.is_valid():
        messages.error(request, " ".join(f"{form.fields[name].label or name}: {' '.join(errors)}"
                                         for name, errors in form.errors.items()))
        return render(request, "portal/order_detail.html", _detail(request, order, deposit_form=form), status=400)
    data = form.cleaned_data
    try:
        quote = deposit_refund_quote(order_id=order.id, refund_address=data["refund_address"] or None,
                                     destination_tag=data["destination_tag"])
    except DomainError as exc:
        _refusal(request, exc)
        return render(request, "portal/order_detail.html", _detail(request, order, deposit_form=form), status=400)
    return render(request, "portal/order_detail.html", _detail(request, order, deposit_form=form, quote=quote))


def _deposit_refund_confirm(request, order):
    form = DepositRefundConfirmForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Ask for a quote first: the refund confirms the net it showed.")
        return redirect("portal:order-detail", order_id=order.id)
    data = form.cleaned_data
    try:
        refund = deposit_refund_create(order_id=order.id, refund_address=data["refund_address"] or None,
                                       destination_tag=data["destination_tag"], reason=data["reason"],
                                       actor=request.portal.actor, expected_net=data["net"])
    except DomainError as exc:
        _refusal(request, exc)
        if exc.code == "refund_quote_changed":  # the new quote, to confirm again
            query = {k: v for k, v in (("refund_address", data["refund_address"]),
                                       ("destination_tag", data["destination_tag"]),
                                       ("reason", data["reason"])) if v not in (None, "")}
            return redirect(reverse("portal:order-deposit-refund", kwargs={"order_id": order.id})
                            + "?" + urlencode(query))
        return redirect("portal:order-detail", order_id=order.id)
    messages.success(request, f"Refund {refund.id} is {refund.status}: {amount_text(refund.quoted_net, order.asset)} "
                              f"goes to {refund.refund_address} once the transfer is sent and confirmed.")
    return redirect("portal:order-detail", order_id=order.id)
