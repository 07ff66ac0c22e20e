from rest_framework import serializers

from api.fields import MoneyField
from refunds.models import Refund


class RefundInputSerializer(serializers.Serializer):
    amount = MoneyField(required=False, help_text="Custodial orders only: the amount to refund (default: all left).")
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")
    refund_address = serializers.CharField(
        required=False, allow_blank=True, max_length=128,
        help_text="Orders that settle on-chain: the payer's address the deposit's funds go back to (default: the "
                  "order's refund_address). Checked for the order's network and mode.")
    refundAddress = serializers.CharField(required=False, allow_blank=True, max_length=128,  # noqa: N815
                                          help_text="Alias of refund_address.")
    destination_tag = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=2**32 - 1,
                                               help_text="XRP Ledger: the refund address's destination tag.")

    def validate(self, attrs):
        alias = attrs.pop("refundAddress", "")
        if alias and not attrs.get("refund_address"):
            attrs["refund_address"] = alias
        return attrs


class RefundQuoteQuerySerializer(serializers.Serializer):
    refund_address = serializers.CharField(required=False, allow_blank=True, max_length=128)
    destination_tag = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=2**32 - 1)


class RefundSerializer(serializers.ModelSerializer):
    amount = MoneyField()
    net = MoneyField(allow_null=True)
    quoted_net = MoneyField(allow_null=True)
    network_cost = MoneyField(allow_null=True)
    order_id = serializers.CharField()

    class Meta:
        model = Refund
        fields = ["id", "order_id", "kind", "cause", "amount", "currency", "reason", "status", "tx_hash",
                  "network", "refund_address", "destination_tag", "quoted_net", "net", "network_cost",
                  "network_cost_asset", "paid_by", "confirmations", "status_reason", "created_at", "confirmed_at"]


class RefundQuoteSerializer(serializers.Serializer):
    order_id = serializers.CharField()
    network = serializers.CharField()
    asset = serializers.CharField()
    cause = serializers.CharField()
    refund_address = serializers.CharField()
    destination_tag = serializers.IntegerField(allow_null=True)
    amount = serializers.CharField(help_text="What leaves the deposit address.")
    net = serializers.CharField(help_text="What the refund address receives.")
    network_cost = serializers.CharField()
    network_cost_asset = serializers.CharField()
    paid_by = serializers.CharField(help_text="payer: out of the refund; operator: the fee payer pays it.")
    notes = serializers.ListField(child=serializers.CharField())
    message = serializers.CharField()
