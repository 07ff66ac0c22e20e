"""How an order is presented to people and to the peers' clients: its display status, its
amounts in minor units, what the payer sends, and what is left on its deposit address. Pure
functions of an order's columns (no query), so that the list renders them from its rows."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Q

from core.money import currency_decimals, to_minor_units
from orders.models import OrderStatus, PaymentException


class DisplayStatus:
    PENDING = "Pending"
    PROCESSING = "Processing"
    PAID = "Paid"
    PARTIALLY_REFUNDED = "Partially Refunded"
    REFUNDED = "Refunded"
    EXPIRED = "Expired"
    CANCELED = "Canceled"
    FAILED = "Failed"
    ACTION_REQUIRED = "Action Required"


DISPLAY_STATUSES = (DisplayStatus.PENDING, DisplayStatus.PROCESSING, DisplayStatus.PAID,
                    DisplayStatus.PARTIALLY_REFUNDED, DisplayStatus.REFUNDED, DisplayStatus.EXPIRED,
                    DisplayStatus.CANCELED, DisplayStatus.FAILED, DisplayStatus.ACTION_REQUIRED)

# The display status of each status...
_BY_STATUS = {
    OrderStatus.CREATED: DisplayStatus.PENDING,  # waiting for the payer
    OrderStatus.PENDING: DisplayStatus.PROCESSING,  # funds seen, waiting for confirmations
    OrderStatus.PAID: DisplayStatus.PAID,
    OrderStatus.PARTIALLY_REFUNDED: DisplayStatus.PARTIALLY_REFUNDED,
    OrderStatus.REFUNDED: DisplayStatus.REFUNDED,
    OrderStatus.EXPIRED: DisplayStatus.EXPIRED,
    OrderStatus.CANCELED: DisplayStatus.CANCELED,
    OrderStatus.FAILED: DisplayStatus.FAILED,
}
# ...except where funds sit on an order that will not complete with them as they are: someone
# must act (the payer sends the rest, the merchant reopens, accepts or returns the funds).
_ACTION_REQUIRED = {
    (OrderStatus.PENDING, PaymentException.UNDERPAID),  # less than due arrived
    (OrderStatus.EXPIRED, PaymentException.UNDERPAID),  # expired with part of the amount
    (OrderStatus.EXPIRED, PaymentException.PAID_LATE),  # paid after the expiry, refused
    (OrderStatus.CANCELED, PaymentException.UNDERPAID),  # canceled with funds on it
    (OrderStatus.CANCELED, PaymentException.RECEIVED_AFTER_CLOSE),
    (OrderStatus.REFUNDED, PaymentException.RECEIVED_AFTER_CLOSE),
    (OrderStatus.PARTIALLY_REFUNDED, PaymentException.RECEIVED_AFTER_CLOSE),
    (OrderStatus.FAILED, PaymentException.RECEIVED_AFTER_CLOSE),
}


def display_status(status: str, payment_exception: str) -> str:
    """The one mapping from (status, payment_exception) to the display status (docs/api.md,
    "Presentation fields"). A paid order is Paid whatever its exception (overpaid, paid late:
    the payment is complete)."""
    if (status, payment_exception) in _ACTION_REQUIRED:
        return DisplayStatus.ACTION_REQUIRED
    return _BY_STATUS[status]


def display_status_q(name: str) -> Q:
    """The orders whose display status is `name` (one of DISPLAY_STATUSES), as (status,
    payment exception) conditions: served by the status index."""
    condition = Q(pk__in=[])
    for status, display in _BY_STATUS.items():
        excluded = [exception for (s, exception) in _ACTION_REQUIRED if s == status]
        if name == display:
            condition |= Q(status=status) & ~Q(payment_exception__in=excluded) if excluded else Q(status=status)
        elif name == DisplayStatus.ACTION_REQUIRED and excluded:
            condition |= Q(status=status, payment_exception__in=excluded)
    return condition


def display_status_from_input(text: str) -> str | None:
    """A display status as a client may write it: any case, `_` or `-` for the space
    ("Partially Refunded", "partially_refunded", "action-required"); None for none."""
    key = " ".join(text.replace("_", " ").replace("-", " ").split()).lower()
    return next((name for name in DISPLAY_STATUSES if name.lower() == key), None)


# --- amounts ------------------------------------------------------------------------------------


def payer_network_fee(*, network: str, asset: str) -> Decimal:
    """What the payer must add to the amount due for the deposit address to receive it in
    full. Zero on every fluxa channel: the payer's wallet pays the chain's transaction fee
    outside the amount sent, and fluxa pays the cost of moving funds on from the deposit
    address itself (settlement), so nothing is added to what the payer is asked for."""
    return Decimal(0)


def total_to_send(*, amount_due: Decimal | None, network: str, asset: str) -> Decimal | None:
    """The amount the payer sends: the amount due plus payer_network_fee (the payment URI's
    amount); None while nothing is due yet (an order awaiting the payer's channel choice)."""
    if amount_due is None:
        return None
    return amount_due + payer_network_fee(network=network, asset=asset)


def deposit_balance(order) -> Decimal | None:
    """What is still on the order's deposit address, from what fluxa recorded (never a node
    call): every incoming transfer not reverted (amount_received, recomputed from the Transfer
    rows under the order's lock), less what fluxa sent from the address once broadcast (its
    settlement's gross, amount_settled, and its deposit refunds, amount_returned). None
    without a deposit address."""
    if not order.deposit_address:
        return None
    return max(order.amount_received - order.amount_settled - order.amount_returned, Decimal(0))


def minor(amount: Decimal | None, *, currency: str, asset: str, asset_decimals: int | None) -> int | None:
    """`amount` (in `currency`) in that currency's minor units (cents for a fiat, base units
    for the asset); None where none is known."""
    return to_minor_units(amount, currency_decimals(currency, asset=asset, asset_decimals=asset_decimals))
