"""Writes of the checkout app: products, payment links, the order a link's visit makes, and
the payer's channel choice on a checkout page."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from charges.services import (
    INSTRUCTION_REDIRECT,
    channel_route,
    channels_for_choice,
    charge_choose_channel,
    charge_create,
)
from checkout.models import PaymentLink, Product
from core.errors import Conflict, Invalid, NotFound
from core.money import check_decimal_places, fiat_decimals, is_fiat
from merchants.models import Merchant
from orders.models import Order


def _check_price(*, amount: Decimal, currency: str, param: str) -> None:
    """A price some enabled channel can collect, with the decimals its currency has."""
    if amount <= 0:
        raise Invalid("parameter_invalid", f"{param}: must be greater than 0.", param)
    if not channels_for_choice(currency=currency):
        raise Invalid("unsupported_currency", f"No enabled channel collects {currency}; price in a fiat currency "
                      "or in an asset of GET /api/v1/channels.", "currency")
    if is_fiat(currency):
        check_decimal_places(amount, fiat_decimals(currency), currency=currency, param=param)
    else:
        decimals = min(c.asset_decimals for c in channels_for_choice(currency=currency))
        check_decimal_places(amount, decimals, currency=currency, param=param)


def product_create(*, merchant: Merchant, mode: str, name: str, price: Decimal, currency: str,
                   description: str = "") -> Product:
    _check_price(amount=price, currency=currency, param="price")
    return Product.objects.create(merchant=merchant, mode=mode, name=name, description=description,
                                  price=price, currency=currency)


def product_update(*, product: Product, data: dict) -> Product:
    """Name, description and active change freely; a new price applies to the orders made
    from now on (an order keeps the price it was made with). Under the product's row lock."""
    with transaction.atomic():
        product = Product.objects.select_for_update().get(pk=product.pk)
        price = data.get("price", product.price)
        currency = data.get("currency", product.currency)
        if "price" in data or "currency" in data:
            _check_price(amount=price, currency=currency, param="price")
        fields = []
        for name in ("name", "description", "active", "price", "currency"):
            if name in data and getattr(product, name) != data[name]:
                setattr(product, name, data[name])
                fields.append(name)
        if fields:
            product.save(update_fields=[*fields, "updated_at"])
    return product


def payment_link_create(*, merchant: Merchant, mode: str, data: dict) -> PaymentLink:
    """`data`: a `product` (its id, of this merchant and mode) or `amount` + `currency`;
    optional subject, channel, return_url, cancel_url, max_uses, expires_at."""
    product = None
    if data.get("product"):
        product = Product.objects.filter(merchant=merchant, mode=mode, pk=data["product"]).first()
        if product is None:
            raise NotFound("not_found", f"No product {data['product']}.", "product")
        if data.get("amount") is not None or data.get("currency"):
            raise Invalid("parameter_invalid", "Pass a product or an amount with its currency, not both.", "amount")
    elif data.get("amount") is None or not data.get("currency"):
        raise Invalid("parameter_missing", "Pass a product, or an amount with its currency.", "product")
    else:
        _check_price(amount=data["amount"], currency=data["currency"], param="amount")
    currency = product.currency if product else data["currency"]
    if data.get("channel"):
        channel = channel_route(channel_code=data["channel"], network=None, currency=currency)
        if not (is_fiat(currency) or channel.asset == currency):
            raise Invalid("unsupported_currency", f"Channel {channel.code} collects {channel.asset}, not {currency}.",
                          "channel")
    expires_at: datetime | None = data.get("expires_at")
    if expires_at is not None and expires_at <= timezone.now():
        raise Invalid("parameter_invalid", "expires_at must be in the future.", "expires_at")
    return PaymentLink.objects.create(
        merchant=merchant, mode=mode, product=product,
        amount=None if product else data["amount"], currency="" if product else data["currency"],
        subject=data.get("subject", ""), channel=data.get("channel", ""), return_url=data.get("return_url", ""),
        cancel_url=data.get("cancel_url", ""), max_uses=data.get("max_uses"), expires_at=expires_at)


def payment_link_update(*, link: PaymentLink, data: dict) -> PaymentLink:
    """Switch a link off or on, or change its limits (max_uses never below the uses so far).
    Under the link's row lock, the one payment_link_open counts a use under: a visit and a
    lower limit never cross."""
    with transaction.atomic():
        link = PaymentLink.objects.select_for_update(of=("self",)).select_related("product").get(pk=link.pk)
        if "max_uses" in data and data["max_uses"] is not None and data["max_uses"] < link.uses:
            raise Conflict("max_uses_below_uses", f"The link was used {link.uses} times already.", "max_uses")
        fields = []
        for name in ("active", "max_uses", "expires_at", "subject", "return_url", "cancel_url"):
            if name in data:
                setattr(link, name, data[name])
                fields.append(name)
        if fields:
            link.save(update_fields=[*fields, "updated_at"])
    return link


def payment_link_open(*, link_id: str, base_url: str) -> Order:
    """A visit of a link's public URL: a fresh order (its checkout page to send the payer to).
    The use is counted under the link's row lock, in the transaction that writes the order, so
    that a limited link never makes more orders than its max_uses, and a failed order takes
    its use back. A link that is off, used up, ended, or whose product is off is NotFound (the
    payer sees that the link no longer works, and nothing about why)."""
    with transaction.atomic():
        link = (PaymentLink.objects.select_for_update(of=("self",)).select_related("merchant", "product")
                .filter(pk=link_id).first())
        gone = NotFound("not_found", "This payment link does not exist or no longer works.")
        if link is None or not link.active or not link.merchant.is_active:
            raise gone
        if link.expires_at is not None and link.expires_at <= timezone.now():
            raise gone
        if link.max_uses is not None and link.uses >= link.max_uses:
            raise gone
        product = link.product
        if product is not None and not product.active:
            raise gone
        data = {
            "amount": product.price if product else link.amount,
            "currency": product.currency if product else link.currency,
            "subject": link.subject or (product.name if product else ""),
            "description": product.description if product else "",
            "return_url": link.return_url, "cancel_url": link.cancel_url,
            "instruction": INSTRUCTION_REDIRECT,
            "product_id": product.id if product else None, "payment_link_id": link.id,
        }
        if link.channel:
            data["channel"] = link.channel
        result = charge_create(merchant=link.merchant, mode=link.mode, data=data,
                               actor=f"payment_link:{link.id}", base_url=base_url)
        link.uses += 1
        link.save(update_fields=["uses", "updated_at"])
    return result.order


def checkout_choose_channel(*, order: Order, channel_code: str) -> Order:
    """The payer's choice on the checkout page (charges prices it)."""
    return charge_choose_channel(order_id=order.id, channel_code=channel_code)
