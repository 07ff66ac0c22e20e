from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import status
from rest_framework.response import Response

from api.base import MerchantAPIView
from api.errors import ApiError
from api.schema import ErrorEnvelope
from merchants import selectors, services
from merchants.api.serializers import AccountSerializer, PayoutAddressInputSerializer, PayoutAddressSerializer


class AccountView(MerchantAPIView):
    """Who this key belongs to, and in which mode it works."""

    @extend_schema(responses={200: AccountSerializer, 401: ErrorEnvelope}, operation_id="account_retrieve")
    def get(self, request):
        data = {
            "merchant_id": self.merchant.id,
            "name": self.merchant.name,
            "email": self.merchant.email,
            "mode": self.mode,
            "key_id": self.api_key.key_id,
            "payout_addresses": selectors.payout_address_list(merchant=self.merchant, mode=self.mode),
        }
        return Response(AccountSerializer(data).data)


PayoutAddressList = inline_serializer(name="PayoutAddressList", fields={"data": PayoutAddressSerializer(many=True)})


class PayoutAddressListView(MerchantAPIView):
    @extend_schema(responses={200: PayoutAddressList}, operation_id="payout_addresses_list")
    def get(self, request):
        rows = selectors.payout_address_list(merchant=self.merchant, mode=self.mode)
        return Response({"data": PayoutAddressSerializer(rows, many=True).data})

    @extend_schema(
        request=PayoutAddressInputSerializer,
        responses={200: PayoutAddressSerializer, 201: PayoutAddressSerializer, 400: ErrorEnvelope},
        operation_id="payout_addresses_set",
        description="Create or replace the payout address of a network. The address is checked "
        "for the network and mode (invalid_address otherwise).",
    )
    def post(self, request):
        data = PayoutAddressInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            payout, created = services.payout_address_set(
                merchant=self.merchant, mode=self.mode, actor=f"API key {self.api_key.key_id}",
                **data.validated_data)
        except ValueError as exc:
            code = "unknown_network" if exc.__class__.__name__ == "UnknownNetwork" else "invalid_address"
            param = "network" if code == "unknown_network" else "address"
            raise ApiError(code, str(exc), param=param) from exc
        return Response(
            PayoutAddressSerializer(payout).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class PayoutAddressDetailView(MerchantAPIView):
    @extend_schema(responses={204: None, 404: ErrorEnvelope}, operation_id="payout_addresses_delete")
    def delete(self, request, network: str):
        if not services.payout_address_delete(merchant=self.merchant, mode=self.mode, network=network):
            raise ApiError("not_found", f"No payout address for network {network!r}.", status=404)
        return Response(status=status.HTTP_204_NO_CONTENT)
