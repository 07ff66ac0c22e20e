from datetime import datetime, timezone

from rest_framework import serializers

from api.fields import FieldsCopiedOnceMixin
from orders.models import OrderStatus


class UnixOrIsoDateTimeField(serializers.DateTimeField):
    """`created_from=1718094300` (Unix seconds) or ISO 8601."""

    def to_internal_value(self, value):
        if isinstance(value, str) and value.isdigit():
            return datetime.fromtimestamp(int(value), tz=timezone.utc)
        return super().to_internal_value(value)


class OrderListQuerySerializer(FieldsCopiedOnceMixin, serializers.Serializer):
    status = serializers.ChoiceField(choices=OrderStatus.values, required=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=200, default=20)
    offset = serializers.IntegerField(required=False, min_value=0, default=0)
    merchant_order_id = serializers.CharField(required=False, max_length=128)
    merchant_order_id_prefix = serializers.CharField(required=False, max_length=128)
    channel = serializers.CharField(required=False, max_length=32)
    network = serializers.CharField(required=False, max_length=32)
    created_from = UnixOrIsoDateTimeField(required=False)
    created_to = UnixOrIsoDateTimeField(required=False)
    customer = serializers.CharField(required=False, min_length=2, max_length=200,
                                     help_text="Searches customer email and name (contains).")
