from __future__ import annotations

from rest_framework import serializers

from api.fields import MoneyField, UtcModelSerializer
from checkout.models import PaymentLink, Product
from checkout.selectors import payment_link_url


class ProductSerializer(UtcModelSerializer):
    price = MoneyField()
    is_test = serializers.SerializerMethodField()

    class Meta:
        model = Product
        fields = ["id", "name", "description", "price", "currency", "active", "is_test", "created_at", "updated_at"]

    def get_is_test(self, product: Product) -> bool:
        return product.mode == "test"


class ProductCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    price = MoneyField()
    currency = serializers.RegexField(r"^[A-Za-z]{2,10}$", max_length=10)

    def validate_currency(self, value: str) -> str:
        return value.upper()


class ProductUpdateSerializer(ProductCreateSerializer):
    name = serializers.CharField(max_length=200, required=False)
    price = MoneyField(required=False)
    currency = serializers.RegexField(r"^[A-Za-z]{2,10}$", max_length=10, required=False)
    active = serializers.BooleanField(required=False)


def link_url(link: PaymentLink, request) -> str:
    return payment_link_url(link, base=request.build_absolute_uri("/") if request else "")


class PaymentLinkSerializer(UtcModelSerializer):
    """A payment link; `url` is the public address to share (each visit makes an order)."""
    url = serializers.SerializerMethodField()
    product_id = serializers.CharField(allow_null=True)
    amount = MoneyField(allow_null=True, help_text="The price: the product's, or the link's own fixed amount.")
    currency = serializers.SerializerMethodField()
    channel = serializers.CharField(allow_null=True, help_text="The channel every order pays on; null: the payer "
                                    "chooses on the checkout page.")
    is_test = serializers.SerializerMethodField()

    class Meta:
        model = PaymentLink
        fields = ["id", "url", "product_id", "amount", "currency", "subject", "channel", "return_url", "cancel_url",
                  "max_uses", "uses", "expires_at", "active", "is_test", "created_at", "updated_at"]

    def to_representation(self, link: PaymentLink) -> dict:
        data = super().to_representation(link)
        if link.product_id:
            data["amount"] = MoneyField().to_representation(link.product.price)
        data["channel"] = link.channel or None
        return data

    def get_url(self, link: PaymentLink) -> str:
        return link_url(link, self.context.get("request"))

    def get_currency(self, link: PaymentLink) -> str:
        return link.product.currency if link.product_id else link.currency

    def get_is_test(self, link: PaymentLink) -> bool:
        return link.mode == "test"


class PaymentLinkCreateSerializer(serializers.Serializer):
    product = serializers.CharField(required=False, max_length=64, help_text="A product id (prd_...); or pass "
                                    "amount and currency.")
    amount = MoneyField(required=False)
    currency = serializers.RegexField(r"^[A-Za-z]{2,10}$", max_length=10, required=False)
    subject = serializers.CharField(required=False, allow_blank=True, max_length=200)
    channel = serializers.CharField(required=False, allow_blank=True, max_length=32)
    return_url = serializers.URLField(required=False, allow_blank=True, max_length=2000)
    cancel_url = serializers.URLField(required=False, allow_blank=True, max_length=2000)
    max_uses = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=1_000_000_000,
                                        help_text="At most this many orders; null: no limit.")
    expires_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate_currency(self, value: str) -> str:
        return value.upper()


class PaymentLinkUpdateSerializer(serializers.Serializer):
    active = serializers.BooleanField(required=False)
    max_uses = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=1_000_000_000)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    subject = serializers.CharField(required=False, allow_blank=True, max_length=200)
    return_url = serializers.URLField(required=False, allow_blank=True, max_length=2000)
    cancel_url = serializers.URLField(required=False, allow_blank=True, max_length=2000)
