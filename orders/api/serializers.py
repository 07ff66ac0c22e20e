"""Output shapes of orders, payments, instructions and transfers.

The declared fields are the schema (drf-spectacular reads them). The three shapes every
charge and list request writes (the order, the payment, the list item) are written by hand in
`to_representation`, DRF's public override point: instantiating a ModelSerializer builds its
fields (model introspection and a deep copy of each field) when they are first read, and
rendering through them costs more than the JSON itself. `tests/test_output_shapes.py`
checks each hand-written shape against DRF's own rendering through the declared fields.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.fields import AliasedChoiceField, MoneyField, UtcModelSerializer
from chains.derivation import xrpl_x_address
from core.modes import Mode
from core.money import money
from core.qr_links import qr_path
from core.times import iso_utc
from orders.models import STATUS_ALIASES, Order, OrderEvent, Payment
from orders.presentation import (
    DISPLAY_STATUSES,
    deposit_balance,
    display_status,
    minor,
    payer_network_fee,
    total_to_send,
)
from orders.services import MANUAL_TARGETS
from wallets.models import TransferStatus

MINOR_HELP = ("The amount as an integer of minor units: cents for a fiat currency, base units for the asset "
              "(satoshi, wei, drops; past 2^53 for 18-decimal assets: parse it as a big integer). Null where "
              "no minor unit is known.")
MINOR_SCHEMA = {"type": "integer", "nullable": True, "example": 4990}
DISPLAY_HELP = ("The human-facing status, from status and payment_exception (docs/api.md, "
                "\"Presentation fields\"); the list's display_status filter takes it.")
DISPLAY_STATUS_SCHEMA = {"type": "string", "enum": list(DISPLAY_STATUSES)}
MONEY_SCHEMA = {"type": "string", "format": "decimal", "example": "49.90"}
REMAINING_HELP = ("What is still on the deposit address, from the recorded transfers (never a node call): "
                  "what arrived, less what fluxa sent from it. Null without a deposit address.")


class OrderListItemSerializer(UtcModelSerializer):
    """The list item, from a row of Order.objects.values(*COLUMNS): a page of model instances
    costs more than its JSON."""

    COLUMNS = ("id", "merchant_order_id", "channel_id", "network", "amount", "refunded_amount", "currency",
               "asset", "channel__asset_decimals", "status", "payment_exception", "mode", "product_id", "payment_link_id", "paid_at", "expires_at",
               "created_at")

    channel_code = serializers.CharField(source="channel_id", allow_null=True,
                                         help_text="Null while the payer has still to choose a channel.")
    amount = MoneyField()
    amount_minor = serializers.SerializerMethodField(help_text=MINOR_HELP)
    refunded_amount = MoneyField()
    refunded_amount_minor = serializers.SerializerMethodField(help_text=MINOR_HELP)
    display_status = serializers.SerializerMethodField(help_text=DISPLAY_HELP)
    is_test = serializers.SerializerMethodField()

    def get_is_test(self, row: dict) -> bool:
        return row["mode"] == Mode.TEST

    @extend_schema_field(DISPLAY_STATUS_SCHEMA)
    def get_display_status(self, row: dict) -> str:
        return display_status(row["status"], row["payment_exception"])

    def _minor(self, row: dict, amount) -> int | None:
        return minor(amount, currency=row["currency"], asset=row["asset"],
                     asset_decimals=row["channel__asset_decimals"])

    @extend_schema_field(MINOR_SCHEMA)
    def get_amount_minor(self, row: dict) -> int | None:
        return self._minor(row, row["amount"])

    @extend_schema_field(MINOR_SCHEMA)
    def get_refunded_amount_minor(self, row: dict) -> int | None:
        return self._minor(row, row["refunded_amount"])

    class Meta:
        model = Order
        fields = ["id", "merchant_order_id", "channel_code", "network", "amount", "amount_minor", "refunded_amount",
                  "refunded_amount_minor", "currency", "status", "display_status", "payment_exception", "is_test", "product_id", "payment_link_id",
                  "paid_at", "expires_at", "created_at"]

    def to_representation(self, row: dict) -> dict:
        return {
            "id": row["id"],
            "merchant_order_id": row["merchant_order_id"],
            "channel_code": row["channel_id"],
            "network": row["network"],
            "amount": money(row["amount"]),
            "amount_minor": self._minor(row, row["amount"]),
            "refunded_amount": money(row["refunded_amount"]),
            "refunded_amount_minor": self._minor(row, row["refunded_amount"]),
            "currency": row["currency"],
            "status": str(row["status"]),
            "display_status": display_status(row["status"], row["payment_exception"]),
            "payment_exception": str(row["payment_exception"]),
            "is_test": row["mode"] == Mode.TEST,
            "product_id": row["product_id"],
            "payment_link_id": row["payment_link_id"],
            "paid_at": iso_utc(row["paid_at"]),
            "expires_at": iso_utc(row["expires_at"]),
            "created_at": iso_utc(row["created_at"]),
        }


class OrderSerializer(UtcModelSerializer):
    """The order, with its amounts, pricing, fees and customer. Until the payer of a hosted
    checkout chooses a channel, channel_code, channel_name, amount_due and remaining are null
    and network and asset empty."""
    channel_code = serializers.CharField(source="channel_id", allow_null=True)
    channel_name = serializers.CharField(source="channel.name", allow_null=True)
    amount = MoneyField()
    refunded_amount = MoneyField()
    amount_due = MoneyField(allow_null=True)
    amount_received = MoneyField()
    amount_confirmed = MoneyField()
    amount_outstanding = MoneyField(allow_null=True, help_text="What is still due: amount_due less amount_confirmed.")
    amount_minor = serializers.SerializerMethodField(help_text=MINOR_HELP)
    refunded_amount_minor = serializers.SerializerMethodField(help_text=MINOR_HELP)
    amount_due_minor = serializers.SerializerMethodField(help_text=MINOR_HELP)
    amount_received_minor = serializers.SerializerMethodField(help_text=MINOR_HELP)
    display_status = serializers.SerializerMethodField(help_text=DISPLAY_HELP)
    network_fees = serializers.SerializerMethodField(help_text=(
        "What the payer adds to amount_due for it to arrive in full: 0 on every channel (the payer's wallet "
        "pays the chain fee outside the amount)."))
    total_to_send = serializers.SerializerMethodField(help_text="amount_due + network_fees: what the payer sends; "
                                                      "null while the payer has not chosen a channel.")
    remaining = serializers.SerializerMethodField(help_text=REMAINING_HELP)
    is_test = serializers.BooleanField()
    customer = serializers.SerializerMethodField()
    pricing = serializers.SerializerMethodField()
    fees = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "id", "merchant_order_id", "channel_code", "channel_name", "network", "settlement_mode",
            "amount", "amount_minor", "refunded_amount", "refunded_amount_minor", "currency", "status",
            "display_status", "payment_exception", "is_test",
            "subject", "description", "metadata", "customer", "return_url", "cancel_url",
            "product_id", "payment_link_id", "asset", "amount_due", "amount_due_minor", "amount_received", "amount_received_minor",
            "amount_confirmed", "amount_outstanding", "network_fees", "total_to_send", "remaining",
            "pricing", "fees", "refund_address", "refund_destination_tag", "expires_at", "paid_at", "created_at",
            "updated_at",
        ]

    def _minor(self, order: Order, amount, *, in_asset: bool = False) -> int | None:
        return minor(amount, currency=order.asset if in_asset else order.currency, asset=order.asset,
                     asset_decimals=order.channel.asset_decimals if order.channel_id else None)

    @extend_schema_field(MINOR_SCHEMA)
    def get_amount_minor(self, order: Order) -> int | None:
        return self._minor(order, order.amount)

    @extend_schema_field(MINOR_SCHEMA)
    def get_refunded_amount_minor(self, order: Order) -> int | None:
        return self._minor(order, order.refunded_amount)

    @extend_schema_field(MINOR_SCHEMA)
    def get_amount_due_minor(self, order: Order) -> int | None:
        return self._minor(order, order.amount_due, in_asset=True)

    @extend_schema_field(MINOR_SCHEMA)
    def get_amount_received_minor(self, order: Order) -> int | None:
        return self._minor(order, order.amount_received, in_asset=True)

    @extend_schema_field(DISPLAY_STATUS_SCHEMA)
    def get_display_status(self, order: Order) -> str:
        return display_status(order.status, order.payment_exception)

    @extend_schema_field({**MONEY_SCHEMA, "nullable": True})
    def get_network_fees(self, order: Order) -> str | None:
        if order.awaiting_channel:  # no network chosen yet
            return None
        return money(payer_network_fee(network=order.network, asset=order.asset))

    @extend_schema_field({**MONEY_SCHEMA, "nullable": True})
    def get_total_to_send(self, order: Order) -> str | None:
        return money(total_to_send(amount_due=order.amount_due, network=order.network, asset=order.asset))

    @extend_schema_field({**MONEY_SCHEMA, "nullable": True})
    def get_remaining(self, order: Order) -> str | None:
        return money(deposit_balance(order))

    def to_representation(self, order: Order) -> dict:
        return {
            "id": order.id,
            "merchant_order_id": order.merchant_order_id,
            "channel_code": order.channel_id,
            "channel_name": order.channel.name if order.channel_id else None,
            "network": order.network,
            "settlement_mode": order.settlement_mode,
            "amount": money(order.amount),
            "amount_minor": self.get_amount_minor(order),
            "refunded_amount": money(order.refunded_amount),
            "refunded_amount_minor": self.get_refunded_amount_minor(order),
            "currency": order.currency,
            "status": str(order.status),
            "display_status": self.get_display_status(order),
            "payment_exception": str(order.payment_exception),
            "is_test": order.is_test,
            "subject": order.subject,
            "description": order.description,
            "metadata": order.metadata,
            "customer": self.get_customer(order),
            "return_url": order.return_url,
            "cancel_url": order.cancel_url,
            "product_id": order.product_id,
            "payment_link_id": order.payment_link_id,
            "asset": order.asset,
            "amount_due": money(order.amount_due),
            "amount_due_minor": self.get_amount_due_minor(order),
            "amount_received": money(order.amount_received),
            "amount_received_minor": self.get_amount_received_minor(order),
            "amount_confirmed": money(order.amount_confirmed),
            "amount_outstanding": money(order.amount_outstanding),
            "network_fees": self.get_network_fees(order),
            "total_to_send": self.get_total_to_send(order),
            "remaining": self.get_remaining(order),
            "pricing": self.get_pricing(order),
            "fees": self.get_fees(order),
            "refund_address": order.refund_address,
            "refund_destination_tag": order.refund_destination_tag,
            "expires_at": iso_utc(order.expires_at),
            "paid_at": iso_utc(order.paid_at),
            "created_at": iso_utc(order.created_at),
            "updated_at": iso_utc(order.updated_at),
        }

    def get_customer(self, order: Order) -> dict | None:
        if not (order.customer_email or order.customer_name):
            return None
        return {"email": order.customer_email, "name": order.customer_name}

    def get_pricing(self, order: Order) -> dict:
        """The primary and secondary amounts: what the payer sends and the fiat price."""
        fiat = order.rate is not None
        return {
            "amount": money(order.amount_due),
            "currency": order.asset,
            "fiat_amount": money(order.amount) if fiat else None,
            "fiat_currency": order.currency if fiat else None,
            "rate": money(order.rate),
            "rate_source": order.rate_source or None,
            "rate_locked_at": order.rate_at,
        }

    def get_fees(self, order: Order) -> dict:
        """The fee snapshot, in the asset paid."""
        return {
            "currency": order.asset,
            "fee_percent": money(order.fee_percent),
            "fee_amount": money(order.fee_amount),
            "merchant_net": money(order.net_amount),
            "customer_pays": money(order.amount_due),
        }


class PaymentSerializer(UtcModelSerializer):
    order_id = serializers.CharField()
    amount = MoneyField()

    class Meta:
        model = Payment
        fields = ["id", "order_id", "status", "channel_ref", "amount", "currency", "created_at"]

    def to_representation(self, payment: Payment) -> dict:
        return {
            "id": payment.id,
            "order_id": payment.order_id,
            "status": str(payment.status),
            "channel_ref": payment.channel_ref,
            "amount": money(payment.amount),
            "currency": payment.currency,
            "created_at": iso_utc(payment.created_at),
        }


class InstructionSerializer(serializers.Serializer):
    """How the payer proceeds. `crypto_address`: pay to deposit_address (with payment_uri and
    qr_url). `redirect` (the charge asked for `"instruction": "redirect"`, or the payer has
    still to choose a channel): send the payer to redirect_url, the order's hosted checkout
    page; the address fields are filled as well once the order has its channel, else null."""
    type = serializers.ChoiceField(choices=["crypto_address", "redirect"], read_only=True)
    redirect_url = serializers.URLField(read_only=True, allow_null=True,
                                        help_text="The hosted checkout page (redirect only, else null).")
    deposit_address = serializers.CharField(read_only=True)
    chain = serializers.CharField(read_only=True, help_text="The channel code, e.g. usdt_trc20.")
    network = serializers.CharField(read_only=True)
    asset = serializers.CharField(read_only=True)
    amount_due = MoneyField(read_only=True)
    required_confirmations = serializers.IntegerField(read_only=True)
    expires_at = serializers.DateTimeField(read_only=True, allow_null=True)
    payment_uri = serializers.CharField(read_only=True)
    qr_url = serializers.URLField(read_only=True)
    qr_svg_url = serializers.URLField(read_only=True)
    # Always present, so that every instruction has one shape; null where they do not apply.
    token_contract = serializers.CharField(read_only=True, allow_null=True, help_text="Token channels only, else null.")
    destination_tag = serializers.IntegerField(read_only=True, allow_null=True, help_text="XRP only, else null.")
    x_address = serializers.CharField(read_only=True, allow_null=True, help_text="XRP only, else null.")

    def to_representation(self, order: Order) -> dict:
        redirect = self.context.get("instruction") == "redirect" or order.awaiting_channel
        if order.awaiting_channel:  # one shape for every instruction: what does not apply yet is null
            data = dict.fromkeys(self.fields)
            data.update(type="redirect", redirect_url=order.checkout_url, expires_at=iso_utc(order.expires_at))
            return data
        request = self.context.get("request")
        base = settings.FLUXA_PUBLIC_URL.rstrip("/") if settings.FLUXA_PUBLIC_URL else (
            request.build_absolute_uri("/").rstrip("/") if request else "")
        token = order.channel.token_contract_for(order.mode) or None
        data = {
            "type": "redirect" if redirect else "crypto_address",
            "redirect_url": order.checkout_url if redirect else None,
            "deposit_address": order.deposit_address,
            "chain": order.channel_id,
            "network": order.network,
            "asset": order.asset,
            "amount_due": money(order.amount_due),
            "required_confirmations": order.channel.required_confirmations,
            "expires_at": iso_utc(order.expires_at),
            "payment_uri": order.payment_uri,
            "qr_url": base + qr_path(order.payment_uri, "png"),
            "qr_svg_url": base + qr_path(order.payment_uri, "svg"),
            "token_contract": token,
            "destination_tag": None,
            "x_address": None,
        }
        if order.destination_tag is not None:
            data["destination_tag"] = order.destination_tag
            data["x_address"] = xrpl_x_address(order.deposit_address, order.destination_tag, order.is_test)
        return data


class TransferSerializer(serializers.Serializer):
    """A payment notification: amount, tx hash, sender, confirmations, time."""
    amount = MoneyField(read_only=True)
    asset = serializers.CharField(read_only=True)
    tx_hash = serializers.CharField(read_only=True)
    log_index = serializers.IntegerField(read_only=True)
    sender = serializers.CharField(read_only=True)
    block_number = serializers.IntegerField(read_only=True, allow_null=True)
    confirmations = serializers.IntegerField(read_only=True)
    status = serializers.ChoiceField(choices=TransferStatus.values, read_only=True)
    simulated = serializers.BooleanField(read_only=True)
    detected_at = serializers.DateTimeField(read_only=True)
    confirmed_at = serializers.DateTimeField(read_only=True, allow_null=True)

    def to_representation(self, transfer) -> dict:
        return {
            "amount": money(transfer.amount),
            "asset": transfer.asset,
            "tx_hash": transfer.tx_hash,
            "log_index": transfer.log_index,
            "sender": transfer.sender,
            "block_number": transfer.block_number,
            "confirmations": transfer.confirmations,
            "status": transfer.status,
            "simulated": transfer.simulated,
            "detected_at": iso_utc(transfer.detected_at),
            "confirmed_at": iso_utc(transfer.confirmed_at),
        }


class OrderEventSerializer(UtcModelSerializer):
    class Meta:
        model = OrderEvent
        fields = ["from_status", "to_status", "payment_exception", "actor", "reason", "created_at"]


class OrderStatusInputSerializer(serializers.Serializer):
    status = AliasedChoiceField(choices=[status.value for status in MANUAL_TARGETS], aliases=STATUS_ALIASES,
                                help_text="pending, paid or canceled (`cancelled` is taken too).")


class SimulatePaymentInputSerializer(serializers.Serializer):
    amount = MoneyField(required=False)
    confirmations = serializers.IntegerField(required=False, min_value=0, max_value=100000)
    tx_hash = serializers.CharField(required=False, max_length=128)
    from_address = serializers.CharField(required=False, max_length=128, help_text=(
        "The payer's sending address the simulated transfer records (an address of the order's network; "
        "default none, recorded as `simulator`)."))
