import re
from datetime import datetime, timezone

from rest_framework import serializers

from api.fields import AliasedChoiceField, FieldsCopiedOnceMixin
from chains.networks import resolve_network
from orders.models import STATUS_ALIASES, OrderStatus
from orders.presentation import DISPLAY_STATUSES, display_status_from_input

# Unix seconds in ASCII digits, up to the last second of year 9999.
_UNIX = re.compile(r"[0-9]{1,12}", re.ASCII)
_UNIX_MAX = 253402300799


class UnixOrIsoDateTimeField(serializers.DateTimeField):
    """`created_from=1718094300` (Unix seconds, ASCII digits) or ISO 8601, in years 1-9999."""

    def to_internal_value(self, value):
        if isinstance(value, str) and _UNIX.fullmatch(value):
            if int(value) > _UNIX_MAX:
                self.fail("invalid", format="Unix seconds up to 253402300799, or ISO 8601")
            return datetime.fromtimestamp(int(value), tz=timezone.utc)
        try:
            return super().to_internal_value(value)
        except (OverflowError, ValueError):  # an ISO time at the edge of year 1 or 9999
            self.fail("invalid", format="ISO 8601")


OFFSET_MAX = 1_000_000_000  # far past any list, far inside a bigint


class OrderListQuerySerializer(FieldsCopiedOnceMixin, serializers.Serializer):
    display_status = serializers.CharField(required=False, max_length=40, help_text=(
        "The display status, in any case, `_` or `-` for a space: " + ", ".join(DISPLAY_STATUSES) + "."))
    status = AliasedChoiceField(choices=OrderStatus.values, aliases=STATUS_ALIASES, required=False,
                                help_text="The status, in any case; `cancelled` is taken for `canceled`.")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=200, default=20)
    offset = serializers.IntegerField(required=False, min_value=0, max_value=OFFSET_MAX, default=0)
    merchant_order_id = serializers.CharField(required=False, max_length=128)
    merchant_order_id_prefix = serializers.CharField(required=False, max_length=128)
    channel = serializers.CharField(required=False, max_length=32)
    network = serializers.CharField(required=False, max_length=32, help_text=(
        "A network label or alias, in any case: `tron`, `TRON`, `TRX`, `ETH`, `BTC`, `LTC`, `SOL`, `XRP`."))
    from_address = serializers.CharField(required=False, max_length=128, help_text=(
        "The payer's sending address (any valid form: EVM in any case, an XRPL X-address); with `network`, "
        "on that network only. Not recorded for Bitcoin and Litecoin."))
    product_id = serializers.CharField(required=False, max_length=64,
                                       help_text="Orders a product's payment links made.")
    payment_link_id = serializers.CharField(required=False, max_length=64, help_text="Orders one payment link made.")
    created_from = UnixOrIsoDateTimeField(required=False)
    created_to = UnixOrIsoDateTimeField(required=False)
    customer = serializers.CharField(required=False, min_length=2, max_length=200,
                                     help_text="Searches customer email and name (contains).")

    def validate_network(self, value: str) -> str:
        network = resolve_network(value)
        if network is None:
            raise serializers.ValidationError(f"No network {value!r}; see GET /api/v1/channels.",
                                              code="unknown_network")
        return network.label

    def validate_display_status(self, value: str) -> str:
        name = display_status_from_input(value)
        if name is None:
            raise serializers.ValidationError(f"One of {', '.join(DISPLAY_STATUSES)}.", code="invalid_choice")
        return name
