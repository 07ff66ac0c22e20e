from rest_framework import serializers

from api.fields import MoneyField
from refunds.models import Refund


class RefundInputSerializer(serializers.Serializer):
    amount = MoneyField(required=False)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class RefundSerializer(serializers.ModelSerializer):
    amount = MoneyField()
    order_id = serializers.CharField()

    class Meta:
        model = Refund
        fields = ["id", "order_id", "amount", "currency", "reason", "status", "tx_hash", "created_at"]
