from rest_framework import serializers

from merchants.models import PayoutAddress


class PayoutAddressSerializer(serializers.ModelSerializer):
    class Meta:
        model = PayoutAddress
        fields = ["network", "address", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


class PayoutAddressInputSerializer(serializers.Serializer):
    network = serializers.CharField(max_length=32)
    address = serializers.CharField(max_length=128)


class AccountSerializer(serializers.Serializer):
    merchant_id = serializers.CharField()
    name = serializers.CharField()
    email = serializers.EmailField()
    mode = serializers.ChoiceField(choices=["test", "live"])
    key_id = serializers.CharField()
    payout_addresses = PayoutAddressSerializer(many=True)
