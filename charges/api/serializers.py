from __future__ import annotations

import json

from rest_framework import serializers

from api.fields import FieldsCopiedOnceMixin, MoneyField, UtcModelSerializer
from charges.models import Channel

METADATA_MAX_KEYS = 50
METADATA_MAX_KEY_LENGTH = 40
METADATA_MAX_VALUE_LENGTH = 500
METADATA_MAX_BYTES = 8192


class ChannelSerializer(UtcModelSerializer):
    min_amount = MoneyField()
    max_amount = MoneyField()
    token_contract = serializers.SerializerMethodField()

    class Meta:
        model = Channel
        fields = ["code", "name", "network", "asset", "asset_decimals", "token_contract", "settlement_mode",
                  "required_confirmations", "min_amount", "max_amount", "enabled"]

    def get_token_contract(self, channel: Channel) -> str | None:
        return channel.token_contract_for(self.context.get("mode", "live")) or None


class CustomerSerializer(serializers.Serializer):
    email = serializers.EmailField(required=False, allow_blank=True)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)


def validate_metadata(value):
    """Stripe's limits: 50 keys, keys up to 40 characters, values up to 500, 8 KiB in all."""
    if not isinstance(value, dict):
        raise serializers.ValidationError("metadata must be an object of key/value pairs.", code="parameter_invalid")
    too_large = (
        len(value) > METADATA_MAX_KEYS
        or any(len(str(k)) > METADATA_MAX_KEY_LENGTH for k in value)
        or any(len(json.dumps(v)) > METADATA_MAX_VALUE_LENGTH for v in value.values())
        or len(json.dumps(value).encode()) > METADATA_MAX_BYTES
    )
    if too_large:
        raise serializers.ValidationError(
            f"metadata allows at most {METADATA_MAX_KEYS} keys of up to {METADATA_MAX_KEY_LENGTH} characters, "
            f"values of up to {METADATA_MAX_VALUE_LENGTH} characters, {METADATA_MAX_BYTES} bytes in all.",
            code="metadata_too_large",
        )
    return value


class ChargeInputSerializer(FieldsCopiedOnceMixin, serializers.Serializer):
    amount = MoneyField()
    currency = serializers.RegexField(r"^[A-Za-z]{2,10}$", max_length=10)
    channel = serializers.CharField(required=False, allow_blank=True, max_length=32)
    network = serializers.CharField(required=False, allow_blank=True, max_length=32)
    merchant_order_id = serializers.CharField(required=False, allow_blank=False, max_length=128)
    subject = serializers.CharField(required=False, allow_blank=True, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    metadata = serializers.JSONField(required=False, validators=[validate_metadata])
    return_url = serializers.URLField(required=False, allow_blank=True, max_length=2000)
    cancel_url = serializers.URLField(required=False, allow_blank=True, max_length=2000)
    expires_in_seconds = serializers.IntegerField(required=False, min_value=60, max_value=30 * 24 * 3600)
    customer = CustomerSerializer(required=False)
    refund_address = serializers.CharField(
        required=False, allow_blank=True, max_length=128,
        help_text="The payer's address for deposit refunds (optional; can be given later with the refund): "
        "checked for the charge's network and mode. With the automatic refunds setting on, an overpayment's "
        "excess and a refused late payment go back there by themselves.")
    refund_destination_tag = serializers.IntegerField(required=False, allow_null=True, min_value=0,
                                                      max_value=2**32 - 1,
                                                      help_text="XRP Ledger: the refund address's destination tag.")
    instruction = serializers.ChoiceField(
        choices=["crypto_address", "redirect"], required=False,
        help_text="crypto_address (default): answer the deposit address to pay. redirect: answer "
        "redirect_url, the order's hosted checkout page, to send the payer to; with neither channel "
        "nor network the payer chooses the channel there and the order is priced then.")

    def validate_currency(self, value: str) -> str:
        return value.upper()
