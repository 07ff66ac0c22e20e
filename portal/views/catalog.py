"""Products and payment links (docs/portal.md): the pages on checkout's own selectors and
services, as /api/v1/products and /api/v1/payment_links call them. Every rule (prices above 0
in a currency some channel collects, a product or an amount, limits never below the uses so
far) lives in checkout.services; a refusal is shown on the form."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from charges.selectors import channel_list_enabled
from checkout import selectors, services
from checkout.models import PaymentLink
from core.errors import DomainError
from core.money import money
from core.qr_links import qr_path
from portal.access import portal_view
from portal.forms import PaymentLinkEditForm, PaymentLinkForm, ProductForm

PAGE = 50
STATE_WORDS = {
    "active": "active",
    "off": "switched off",
    "ended": "ended",
    "used_up": "used up",
    "product_off": "its product is switched off",
}


def _page_number(request) -> int:
    try:
        return max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        return 1


def _paged(request, qs) -> tuple[list, int | None]:
    """One page of 50 and the next page's number (None on the last)."""
    page = _page_number(request)
    rows = list(qs[(page - 1) * PAGE:page * PAGE + 1])
    return rows[:PAGE], (page + 1 if len(rows) > PAGE else None)


def _saved(form, save):
    """What `save(cleaned_data)` (one checkout service call) returns for a valid form, or None
    with the form's errors, the service's refusal among them (on its field where it names one)."""
    if not form.is_valid():
        return None
    try:
        return save(form.cleaned_data)
    except DomainError as exc:
        form.add_error(exc.param if exc.param in form.fields else None, f"{exc.message} ({exc.code})")
        return None


def _base(request) -> str:
    return request.build_absolute_uri("/")


# --- products ------------------------------------------------------------------------------------


def _products_page(request, *, form=None, status=200):
    qs = selectors.product_scope(merchant=request.portal.merchant, mode=request.portal.mode)
    rows, next_page = _paged(request, qs)
    return render(request, "portal/products.html", {"products": rows, "next_page": next_page,
                                                    "form": form or ProductForm()}, status=status)


@portal_view("view", write_permission="links")
def product_list(request):
    if request.method != "POST":
        return _products_page(request)
    form = ProductForm(request.POST)
    product = _saved(form, lambda data: services.product_create(
        merchant=request.portal.merchant, mode=request.portal.mode, **data))
    if product is None:
        return _products_page(request, form=form, status=400)
    messages.success(request, f"Product {product.id} ({product.name}) is saved.")
    return redirect("portal:product-detail", product_id=product.id)


def _product(request, product_id: str):
    return selectors.product_get(merchant=request.portal.merchant, mode=request.portal.mode, product_id=product_id)


@portal_view("view", write_permission="links")
def product_detail(request, product_id: str):
    product = _product(request, product_id)
    status = 200
    initial = {"name": product.name, "description": product.description, "price": money(product.price),
               "currency": product.currency}
    form = ProductForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if _saved(form, lambda data: services.product_update(product=product, data=data)) is not None:
            messages.success(request, "Product saved: a new price applies to the orders made from now on.")
            return redirect("portal:product-detail", product_id=product.id)
        status = 400
    links = selectors.payment_link_scope(merchant=request.portal.merchant, mode=request.portal.mode).filter(
        product=product)[:PAGE]
    return render(request, "portal/product_detail.html", {
        "product": product, "form": form, "links": _link_rows(request, links)}, status=status)


def _switched_on(request) -> bool:
    return request.POST.get("active") == "1"


@require_POST
@portal_view("links")
def product_toggle(request, product_id: str):
    product = services.product_update(product=_product(request, product_id), data={"active": _switched_on(request)})
    said = "on sale" if product.active else "switched off: its links make no order"
    messages.success(request, f"Product {product.id} is {said}.")
    return redirect("portal:product-detail", product_id=product.id)


# --- payment links -------------------------------------------------------------------------------


def _link_rows(request, links) -> list[dict]:
    base = _base(request)
    rows = []
    for link in links:
        state = selectors.payment_link_state(link)
        rows.append({"link": link, "url": selectors.payment_link_url(link, base=base), "state": state,
                     "state_word": STATE_WORDS[state]})
    return rows


def _link_form(request, data=None) -> PaymentLinkForm:
    products = selectors.product_scope(merchant=request.portal.merchant, mode=request.portal.mode).filter(
        active=True)[:500]
    return PaymentLinkForm(data, products=products, channels=channel_list_enabled(),
                           initial={"product": request.GET.get("product", "")})


def _links_page(request, *, form=None, status=200):
    qs = selectors.payment_link_scope(merchant=request.portal.merchant, mode=request.portal.mode)
    rows, next_page = _paged(request, qs)
    return render(request, "portal/payment_links.html", {
        "links": _link_rows(request, rows), "next_page": next_page,
        "form": form or _link_form(request)}, status=status)


@portal_view("view", write_permission="links")
def payment_link_list(request):
    if request.method != "POST":
        return _links_page(request)
    form = _link_form(request, request.POST)
    link = _saved(form, lambda _: services.payment_link_create(
        merchant=request.portal.merchant, mode=request.portal.mode, data=form.service_data()))
    if link is None:
        return _links_page(request, form=form, status=400)
    messages.success(request, f"Payment link {link.id} is ready to share.")
    return redirect("portal:payment-link-detail", link_id=link.id)


def _link(request, link_id: str) -> PaymentLink:
    return selectors.payment_link_get(merchant=request.portal.merchant, mode=request.portal.mode, link_id=link_id)


@portal_view("view", write_permission="links")
def payment_link_detail(request, link_id: str):
    link = _link(request, link_id)
    initial = {"subject": link.subject, "return_url": link.return_url, "cancel_url": link.cancel_url,
               "max_uses": link.max_uses, "expires_at": link.expires_at}
    form = PaymentLinkEditForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if _saved(form, lambda data: services.payment_link_update(link=link, data=data)) is not None:
            messages.success(request, f"Payment link {link.id} is saved.")
            return redirect("portal:payment-link-detail", link_id=link.id)
        status = 400
    url = selectors.payment_link_url(link, base=_base(request))
    state = selectors.payment_link_state(link)
    return render(request, "portal/payment_link_detail.html", {
        "link": link, "url": url, "state": state, "state_word": STATE_WORDS[state], "form": form,
        "qr_svg": qr_path(url, "svg"), "qr_png": qr_path(url, "png")}, status=status)


@require_POST
@portal_view("links")
def payment_link_toggle(request, link_id: str):
    link = services.payment_link_update(link=_link(request, link_id), data={"active": _switched_on(request)})
    said = "switched on" if link.active else "switched off: a visit makes no order"
    messages.success(request, f"Payment link {link.id} is {said}.")
    return redirect("portal:payment-link-detail", link_id=link.id)
