"""Reads of the checkout app: the merchant's products and links (scoped to one merchant and
mode), and the public state of an order's checkout page.

`checkout_state` is everything a payer's page shows and its status endpoint answers, and
nothing else: no merchant id, metadata, customer, fee, merchant_order_id or other order.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db.models import Min, OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from chains.networks import get_network
from chains.uris import payment_uri
from checkout.models import PaymentLink, Product
from core.errors import NotFound
from core.money import money
from core.qr_links import qr_path
from core.times import iso_utc
from orders.models import Order, OrderStatus
from orders.services import paid_threshold
from wallets.models import Transfer, TransferStatus

# What the page shows, by order state.
PHASES = ("choose", "waiting", "partial", "confirming", "paid", "refunded", "expired", "canceled", "failed")
OPEN_PHASES = ("choose", "waiting", "partial", "confirming")


def product_scope(*, merchant, mode: str) -> QuerySet[Product]:
    return Product.objects.filter(merchant=merchant, mode=mode)


def product_get(*, merchant, mode: str, product_id: str) -> Product:
    product = product_scope(merchant=merchant, mode=mode).filter(pk=product_id).first()
    if product is None:
        raise NotFound("not_found", f"No product {product_id}.", param="id")
    return product


def payment_link_scope(*, merchant, mode: str) -> QuerySet[PaymentLink]:
    return PaymentLink.objects.filter(merchant=merchant, mode=mode).select_related("product")


def payment_link_get(*, merchant, mode: str, link_id: str) -> PaymentLink:
    link = payment_link_scope(merchant=merchant, mode=mode).filter(pk=link_id).first()
    if link is None:
        raise NotFound("not_found", f"No payment link {link_id}.", param="id")
    return link


PAYMENT_LINK_PATH = "/l/"


def payment_link_url(link: PaymentLink, *, base: str = "") -> str:
    """The public address of a link, to share: FLUXA_PUBLIC_URL when set, else `base` (the
    request's own scheme and host)."""
    root = (settings.FLUXA_PUBLIC_URL or base or "").rstrip("/")
    return f"{root}{PAYMENT_LINK_PATH}{link.id}"


def payment_link_state(link: PaymentLink, *, now=None) -> str:
    """Whether a visit makes an order now: "active", or why not ("off", "product_off",
    "ended", "used_up"), the rules of services.payment_link_open in its order."""
    now = now or timezone.now()
    if not link.active:
        return "off"
    if link.expires_at is not None and link.expires_at <= now:
        return "ended"
    if link.max_uses is not None and link.uses >= link.max_uses:
        return "used_up"
    if link.product_id is not None and not link.product.active:
        return "product_off"
    return "active"


# What checkout_state reads of an order, its channel and its merchant: the status endpoint,
# polled by every open page, loads only these columns (one indexed query, few conversions).
STATE_FIELDS = (
    "id", "mode", "status", "channel", "network", "asset", "amount_due", "amount_received", "amount_confirmed",
    "deposit_address", "destination_tag", "payment_uri", "expires_at", "paid_at", "return_url", "cancel_url",
    "channel__required_confirmations", "channel__asset_decimals", "channel__token_contract",
    "channel__token_contract_test", "merchant__accept_late_payments", "merchant__underpaid_tolerance_percent",
)


def checkout_order(*, token: str, state_only: bool = False) -> Order | None:
    """The order of a checkout token (with its channel and merchant), or None: unknown,
    or deleted by the merchant. `state_only`: just what checkout_state reads, with the least
    confirmations of its unconfirmed transfers in the same query (one round trip)."""
    if not token:
        return None
    qs = Order.objects.select_related("channel", "merchant").filter(checkout_token=token, deleted_at__isnull=True)
    if state_only:
        unconfirmed = (Transfer.objects.filter(order=OuterRef("pk"), status=TransferStatus.SEEN).order_by()
                       .values("order").annotate(n=Min("confirmations")).values("n"))
        qs = qs.only(*STATE_FIELDS).annotate(least_unconfirmed=Subquery(unconfirmed))
    return qs.first()


def network_words(order: Order) -> str:
    """The network in words: "TRON"; in test mode its test network, "TRON Nile testnet",
    "Ethereum (Sepolia)"."""
    network = get_network(order.network)
    if not order.is_test:
        return network.display_name
    if network.testnet_name.startswith(network.display_name):
        return network.testnet_name
    return f"{network.display_name} ({network.testnet_name})"


def _phase(order: Order) -> str:
    status = order.status
    if status in (OrderStatus.PAID,):
        return "paid"
    if status in (OrderStatus.REFUNDED, OrderStatus.PARTIALLY_REFUNDED):
        return "refunded"
    if status in (OrderStatus.EXPIRED, OrderStatus.CANCELED, OrderStatus.FAILED):
        return str(status)
    if order.awaiting_channel:
        return "choose"
    if order.amount_received <= 0:
        return "waiting"
    if order.amount_received < paid_threshold(order):
        return "partial"
    return "confirming"


def _still_due(order: Order) -> Decimal | None:
    if order.amount_due is None:
        return None
    return max(order.amount_due - order.amount_received, Decimal(0))


def _uri_for(order: Order, amount: Decimal) -> str:
    """The payment URI for `amount` to the order's address: the order's own one for the full
    amount, the same form for what is still due after a partial payment."""
    if amount == order.amount_due or amount <= 0:
        return order.payment_uri
    token = order.channel.token_contract_for(order.mode) or None
    return payment_uri(network=order.network, mode=order.mode, address=order.deposit_address, amount=amount,
                       token=token, token_decimals=order.channel.asset_decimals if token else None,
                       destination_tag=order.destination_tag)


def _message(phase: str, order: Order, *, still_due: Decimal | None, confirmations: int | None,
             required: int | None) -> str:
    asset = order.asset
    if phase == "choose":
        return _("Choose how you want to pay.")
    if phase == "waiting":
        return _("Waiting for your payment.")
    if phase == "partial":
        return _("Part of the payment arrived: %(due)s %(asset)s still due.") % {"due": money(still_due),
                                                                                 "asset": asset}
    if phase == "confirming":
        if not confirmations:
            return _("Payment seen on the network; waiting for the first confirmation (0 of %(m)s).") % {
                "m": required}
        return _("Payment seen: %(n)s of %(m)s confirmations.") % {"n": confirmations, "m": required}
    if phase == "paid":
        return _("Paid. Thank you!")
    if phase == "refunded":
        return _("This payment was refunded.")
    if phase == "expired":
        return _("This payment request expired before the payment arrived.")
    if phase == "canceled":
        return _("This payment request was canceled by the merchant.")
    return _("This payment request failed.")


def checkout_state(order: Order, *, now=None) -> dict:
    """The public state of a checkout page, as the status endpoint answers it (JSON-ready).
    No query for an order read by checkout_order(state_only=True); otherwise one more for the
    confirmations of unconfirmed transfers, only while a payment is being confirmed."""
    now = now or timezone.now()
    phase = _phase(order)
    still_due = _still_due(order)
    required = order.channel.required_confirmations if order.channel_id else None
    confirmations = None
    if phase in ("partial", "confirming"):
        if hasattr(order, "least_unconfirmed"):  # read with the order (checkout_order(state_only=True))
            confirmations = order.least_unconfirmed
        else:
            confirmations = (Transfer.objects.filter(order=order, status=TransferStatus.SEEN)
                             .aggregate(n=Min("confirmations"))["n"])
        if confirmations is None:  # every live transfer is confirmed
            confirmations = required
    uri = _uri_for(order, still_due) if order.deposit_address and phase in OPEN_PHASES else ""
    seconds_left = int((order.expires_at - now).total_seconds()) if order.expires_at else None
    return {
        "phase": phase,
        "status": str(order.status),
        "message": _message(phase, order, still_due=still_due, confirmations=confirmations, required=required),
        "asset": order.asset or None,
        "amount_due": money(order.amount_due),
        "amount_received": money(order.amount_received),
        "amount_confirmed": money(order.amount_confirmed),
        "still_due": money(still_due),
        "confirmations": confirmations,
        "required_confirmations": required,
        "payment_uri": uri or None,
        "qr_svg_url": qr_path(uri, "svg") if uri else None,
        "expires_at": iso_utc(order.expires_at),
        "seconds_left": max(seconds_left, 0) if seconds_left is not None else None,
        "paid_at": iso_utc(order.paid_at),
        "late_payments_accepted": order.merchant.accept_late_payments,
        "return_url": order.return_url or None,
        "cancel_url": order.cancel_url or None,
    }
