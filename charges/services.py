"""Creating charges: routing to a channel, pricing, the order, its deposit address and the
payer instruction."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import signals
from django.utils import timezone

from chains.addresses import InvalidAddress, validate_address
from chains.adapters.registry import rpc_url
from chains.networks import resolve_network
from charges.models import Channel
from charges.rates import convert_fiat_to_asset
from core.errors import Conflict, DomainError, Invalid, Unavailable, Unprocessable
from core.money import amount_text, check_decimal_places, fee_amount, fiat_decimals, is_fiat
from merchants.models import Merchant
from orders.models import Order, OrderStatus, Payment, SettlementMode
from orders.services import order_assign_deposit_address, order_lock, order_record_created, order_record_priced
from wallets.keys import WalletRootMissing, WalletRootNotBackedUp
from wallets.selectors import network_health
from wallets.services import wallet_root_ensure

# The instructions a charge may ask for: the deposit address itself (the default), or the
# hosted checkout page to send the payer to.
INSTRUCTION_CRYPTO_ADDRESS = "crypto_address"
INSTRUCTION_REDIRECT = "redirect"
INSTRUCTIONS = (INSTRUCTION_CRYPTO_ADDRESS, INSTRUCTION_REDIRECT)

# The path of an order's public checkout page (checkout/urls: "pay/<token>").
CHECKOUT_PATH = "/pay/"

# With a fiat price and only a network, the payer is offered a USD stablecoin first, then
# the network's native coin.
ROUTING_PREFERENCE = ("USDT", "USDC")


@dataclass
class ChargeResult:
    order: Order
    payment: Payment
    idempotent: bool


class _Catalogue:
    """The channels as this process last read them (FLUXA_CHANNEL_CACHE_SECONDS). The Channel
    instances are shared between requests and threads: read them, never change them."""

    def __init__(self) -> None:
        self.snapshot: tuple[float, dict[str, Channel]] | None = None

    def channels(self) -> dict[str, Channel]:
        ttl = settings.FLUXA_CHANNEL_CACHE_SECONDS
        snapshot = self.snapshot
        if ttl > 0 and snapshot is not None and time.monotonic() - snapshot[0] < ttl:
            return snapshot[1]
        read_at = time.monotonic()
        channels = {c.code: c for c in Channel.objects.order_by("sort_order", "code")}
        self.snapshot = (read_at, channels) if ttl > 0 else None
        return channels

    def forget(self, **_) -> None:
        self.snapshot = None


catalogue = _Catalogue()
signals.post_save.connect(catalogue.forget, sender=Channel, dispatch_uid="charges.catalogue.save")
signals.post_delete.connect(catalogue.forget, sender=Channel, dispatch_uid="charges.catalogue.delete")


def channel_route(*, channel_code: str | None, network: str | None, currency: str) -> Channel:
    """An explicit `channel` wins; else (network, currency) routes to an enabled channel."""
    channels = catalogue.channels()
    if channel_code:
        channel = channels.get(channel_code)
        if channel is None:
            raise Invalid("unknown_channel", f"No channel {channel_code!r}; see GET /api/v1/channels.", "channel")
        if not channel.enabled:
            raise Unprocessable("channel_disabled", f"Channel {channel_code} is disabled.", "channel")
        return channel
    if not network:
        raise Invalid("channel_or_network_required", "Pass a channel code or a network to route on.")
    known = resolve_network(network)  # a label, or an alias such as "TRON", "ETH", "BTC"
    label = known.label if known else network.lower()
    candidates = [c for c in channels.values() if c.enabled and c.network == label]
    by_asset = {c.asset: c for c in candidates}
    if currency in by_asset:
        return by_asset[currency]
    if is_fiat(currency):
        for asset in ROUTING_PREFERENCE:
            if asset in by_asset:
                return by_asset[asset]
        native = [c for c in candidates if not c.is_token]
        if native:
            return native[0]
    raise Unprocessable("no_route", f"No enabled channel collects {currency} on {network!r}.", "network")


def channels_for_choice(*, currency: str) -> list[Channel]:
    """The enabled channels a payer may choose from for an order priced in `currency`: all of
    them for a fiat price, those collecting the asset itself otherwise."""
    return [c for c in catalogue.channels().values()
            if c.enabled and (is_fiat(currency) or c.asset == currency)]


def checkout_url(*, token: str, base: str) -> str:
    """The absolute URL of a checkout page: FLUXA_PUBLIC_URL when set, else `base` (the
    request's own scheme and host)."""
    root = (settings.FLUXA_PUBLIC_URL or base or "").rstrip("/")
    return f"{root}{CHECKOUT_PATH}{token}"


def _check_network(network: str, mode: str) -> None:
    """A scanned network fluxa cannot see payments on (wallets.selectors.network_health)
    takes no new charges: their payments would not be seen."""
    if not rpc_url(network, mode):
        return
    health = network_health(network=network, mode=mode)
    if not health.ok:
        raise Unavailable("network_unavailable", f"The {network} node {health.problem}; try again later.", "network")


def merchant_fee_percent(merchant: Merchant) -> Decimal:
    """The platform fee on a merchant's new orders: its own, else FLUXA_FEE_PERCENT."""
    return _fee_percent(merchant)


def _fee_percent(merchant: Merchant) -> Decimal:
    if merchant.fee_percent is not None:
        return merchant.fee_percent
    return Decimal(str(settings.FLUXA_FEE_PERCENT))


def _fingerprint(data: dict) -> str:
    """What makes two charge requests "the same" for merchant_order_id idempotency."""
    relevant = {k: data.get(k) for k in (
        "amount", "currency", "channel", "network", "subject", "description", "metadata",
        "return_url", "cancel_url", "expires_in_seconds", "customer")}
    for optional in ("instruction", "refund_address", "refund_destination_tag"):
        if data.get(optional):  # only when given: the fingerprints of older orders stay as they were
            relevant[optional] = data[optional]
    relevant["amount"] = str(Decimal(relevant["amount"]).normalize()) if relevant["amount"] is not None else None
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()


def _existing(merchant: Merchant, mode: str, merchant_order_id: str, fingerprint: str) -> ChargeResult | None:
    # The order that holds the reference: a deleted or canceled one has released it.
    order = (Order.objects.select_related("channel")
             .filter(merchant=merchant, mode=mode, merchant_order_id=merchant_order_id,
                     reference_released=False).first())
    if order is None:
        return None
    if order.request_fingerprint != fingerprint:
        raise Conflict("idempotency_conflict", (
            f"merchant_order_id {merchant_order_id!r} was already used for a charge with other "
            "parameters."), "merchant_order_id")
    return ChargeResult(order=order, payment=order.payments.order_by("created_at").first(), idempotent=True)


def _price(*, channel: Channel, amount: Decimal, currency: str) -> dict:
    """The amount due in the channel's asset, with the locked rate for fiat prices."""
    if currency == channel.asset:
        check_decimal_places(amount, channel.asset_decimals, currency=channel.asset, param="amount")
        return {"amount_due": amount}

    if not is_fiat(currency):
        raise Unprocessable("unsupported_currency", (
            f"Channel {channel.code} collects {channel.asset}; price the charge in {channel.asset} "
            "or in a fiat currency."), "currency")
    try:
        quote = convert_fiat_to_asset(amount=amount, fiat=currency, asset=channel.asset,
                                      asset_decimals=channel.asset_decimals)
    except ValueError as exc:
        raise Invalid("parameter_invalid", f"amount: {exc}", "amount") from exc
    return {"amount_due": quote.asset_amount, "rate": quote.rate, "rate_source": quote.source,
            "rate_at": quote.fetched_at}


def charge_create(*, merchant: Merchant, mode: str, data: dict, actor: str, base_url: str = "") -> ChargeResult:
    """POST /api/v1/charges. `data` is validated input (amount a Decimal, currency upper case).
    `base_url`: the scheme and host the order's checkout_url starts with when FLUXA_PUBLIC_URL
    is not set.

    With `"instruction": "redirect"` and neither channel nor network, the order waits for the
    payer to choose a channel on its checkout page (charge_choose_channel), and is priced then.

    Idempotent on merchant_order_id per merchant and mode, backed by a unique constraint: of
    many concurrent identical requests exactly one creates the order, the others return it.
    A deleted or canceled order has released its reference (orders.services): a charge with
    it makes a new order, which holds the reference from then on.
    The new order is written optimistically (no lookup first): a merchant_order_id that is
    taken fails the insert, and only then is the existing order read and compared. A retry
    that cannot be priced or routed any more (a channel since disabled, a stale rate) still
    gets its order back.
    """
    merchant_order_id = data.get("merchant_order_id") or None
    fingerprint = _fingerprint(data)
    for attempt in (1, 2, 3):
        try:
            order = _new_order(merchant=merchant, mode=mode, data=data, fingerprint=fingerprint)
            order.checkout_url = checkout_url(token=order.checkout_token, base=base_url)
            if order.awaiting_channel:  # the payment is in the price's currency until the payer chooses
                payment = Payment(order=order, amount=order.amount, currency=order.currency)
            else:
                payment = Payment(order=order, amount=order.amount_due, currency=order.asset)
            _write(order, payment, actor)
        except (DomainError, IntegrityError) as exc:
            if merchant_order_id and (found := _existing(merchant, mode, merchant_order_id, fingerprint)):
                return found
            if isinstance(exc, IntegrityError) and merchant_order_id and attempt < 3:
                continue  # the order holding the reference was canceled or deleted in between
            raise
        return ChargeResult(order=order, payment=payment, idempotent=False)
    raise AssertionError("unreachable")  # pragma: no cover


def _write(order: Order, payment: Payment, actor: str) -> None:
    """The order with its deposit address, payment, first event and webhook event, in one
    transaction. The wallet root is read by the address claim itself; only a deployment
    that has none yet (`make run`, tests) gets one here, and then the charge is tried again."""

    for attempt in (1, 2):
        try:
            with transaction.atomic():
                if not order.awaiting_channel:
                    order_assign_deposit_address(order=order, fresh=True, backed_up_root=True)
                order_record_created(order=order, payment=payment, actor=actor)
            return
        except WalletRootMissing:
            if attempt == 2:
                raise
            wallet_root_ensure()
        except WalletRootNotBackedUp as exc:
            raise Unprocessable("wallet_not_configured", str(exc)) from None


def _new_order(*, merchant: Merchant, mode: str, data: dict, fingerprint: str):
    """The routed, priced, unsaved order of a charge request. Raises a DomainError for what the
    merchant must change."""
    currency = data["currency"]
    amount: Decimal = data["amount"]
    expires_in = data.get("expires_in_seconds") or merchant.default_expiry_seconds
    customer = data.get("customer") or {}
    common = dict(
        merchant=merchant, mode=mode, merchant_order_id=data.get("merchant_order_id") or None,
        amount=amount, currency=currency, fee_percent=_fee_percent(merchant),
        subject=data.get("subject", ""), description=data.get("description", ""),
        metadata=data.get("metadata") or {}, return_url=data.get("return_url", ""),
        cancel_url=data.get("cancel_url", ""), customer_email=customer.get("email", ""),
        customer_name=customer.get("name", ""), request_fingerprint=fingerprint,
        expires_at=timezone.now() + timedelta(seconds=expires_in),
        product_id=data.get("product_id"), payment_link_id=data.get("payment_link_id"),
    )
    if (not data.get("channel") and not data.get("network")
            and data.get("instruction") == INSTRUCTION_REDIRECT):
        _check_choosable(amount=amount, currency=currency)
        return Order(**common, settlement_mode=SettlementMode.DIRECT)

    channel = channel_route(channel_code=data.get("channel"), network=data.get("network"), currency=currency)
    _check_network(channel.network, mode)
    if data.get("refund_address"):
        common["refund_address"] = _refund_address(channel.network, mode, data["refund_address"])
        common["refund_destination_tag"] = data.get("refund_destination_tag")
    return Order(**common, **_routed(channel=channel, amount=amount, currency=currency,
                                     fee_percent=common["fee_percent"]))


def _refund_address(network: str, mode: str, address: str) -> str:
    try:
        return validate_address(network=network, mode=mode, address=address)
    except InvalidAddress as error:
        raise Unprocessable("invalid_address", f"refund_address: {error.message}", "refund_address") from None


def _check_choosable(*, amount: Decimal, currency: str) -> None:
    """A charge left for the payer to route: some enabled channel must take its currency,
    and the amount must be one the currency can have."""
    if not channels_for_choice(currency=currency):
        raise Unprocessable("no_route", f"No enabled channel collects {currency}.", "currency")
    if is_fiat(currency):
        check_decimal_places(amount, fiat_decimals(currency), currency=currency, param="amount")


def _routed(*, channel: Channel, amount: Decimal, currency: str, fee_percent: Decimal) -> dict:
    """The order fields a channel decides: the asset, the amount due (priced now, with the
    locked rate for a fiat price), the fee. Raises a DomainError when the amount breaks a limit."""
    pricing = _price(channel=channel, amount=amount, currency=currency)
    due: Decimal = pricing["amount_due"]
    if due < channel.min_amount or (channel.max_amount is not None and due > channel.max_amount):
        upper = amount_text(channel.max_amount) if channel.max_amount else "any"
        limits = f"{amount_text(channel.min_amount)} to {upper}"
        raise Unprocessable("amount_out_of_range",
                            f"{amount_text(due, channel.asset)} is outside {channel.code}'s limits "
                            f"({limits} {channel.asset}).", "amount")
    return dict(
        channel=channel, network=channel.network, settlement_mode=channel.settlement_mode,
        asset=channel.asset, amount_due=due, rate=pricing.get("rate"),
        rate_source=pricing.get("rate_source", ""), rate_at=pricing.get("rate_at"),
        fee_amount=fee_amount(due, fee_percent, channel.asset_decimals),
    )


def charge_choose_channel(*, order_id: str, channel_code: str, actor: str = "payer:checkout") -> Order:
    """The payer chose `channel_code` on the checkout page of an order that waits for a
    choice: route, price (the rate locked now), give it its deposit address. Idempotent for
    the same channel; another channel after a choice is a Conflict, as is a closed or expired
    order. Pricing reads the stored rates before the row is locked; the write holds the lock."""
    order = Order.objects.select_related("merchant", "channel").get(pk=order_id)
    if not order.awaiting_channel:
        return _chosen_already(order, channel_code)
    if channel_code not in {c.code for c in channels_for_choice(currency=order.currency)}:
        raise Invalid("unknown_channel", f"{channel_code!r} is not one of this order's choices.", "channel")
    channel = channel_route(channel_code=channel_code, network=None, currency=order.currency)
    _check_network(channel.network, order.mode)
    routed = _routed(channel=channel, amount=order.amount, currency=order.currency, fee_percent=order.fee_percent)
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                order = order_lock(order_id)
                if not order.awaiting_channel:
                    return _chosen_already(order, channel_code)
                if (order.status not in (OrderStatus.CREATED, OrderStatus.PENDING)
                        or (order.expires_at and order.expires_at <= timezone.now())):
                    raise Conflict("order_not_open", "This order is no longer open for payment.", "channel")
                for name, value in routed.items():
                    setattr(order, name, value)
                fields = [*routed, "updated_at", *order_assign_deposit_address(order=order, backed_up_root=True)]
                order.save(update_fields=sorted(set(fields)))
                Payment.objects.filter(order=order).update(amount=order.amount_due, currency=order.asset,
                                                           updated_at=timezone.now())
                order_record_priced(order=order, actor=actor, reason=f"channel {channel.code} chosen by the payer")
            return order
        except WalletRootMissing:
            if attempt == 2:
                raise
            wallet_root_ensure()
        except WalletRootNotBackedUp as exc:
            raise Unprocessable("wallet_not_configured", str(exc)) from None
    raise AssertionError("unreachable")


def _chosen_already(order: Order, channel_code: str) -> Order:
    if order.channel_id == channel_code:
        return order
    raise Conflict("channel_already_chosen", "A channel was already chosen for this order.", "channel")

