from rest_framework import serializers

from api.fields import MoneyField, UtcModelSerializer
from settlements.models import Settlement, SettlementStatus


class SettlementSerializer(UtcModelSerializer):
    amount = MoneyField(help_text="The net sent to your payout address.")
    fee = MoneyField(help_text="The platform fee.")
    network_cost = MoneyField(allow_null=True, help_text="What the network charged, in network_cost_asset.")

    class Meta:
        model = Settlement
        fields = ["id", "order_id", "status", "network", "asset", "amount", "fee", "fee_owed", "network_cost",
                  "network_cost_asset", "to_address", "tx_hash", "confirmations", "reason", "created_at",
                  "confirmed_at"]
        read_only_fields = fields


class SettlementListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=SettlementStatus.choices, required=False)
    network = serializers.CharField(required=False, max_length=32)
    order_id = serializers.CharField(required=False, max_length=64)
    created_gte = serializers.DateTimeField(required=False)
    created_lt = serializers.DateTimeField(required=False)
    limit = serializers.IntegerField(min_value=1, max_value=200, default=20)
    offset = serializers.IntegerField(min_value=0, default=0)
