from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from api.base import MerchantAPIView
from api.schema import ErrorEnvelope
from charges.api.serializers import ChannelSerializer, ChargeInputSerializer
from charges.selectors import channel_list_enabled
from charges.services import charge_create
from orders.api.serializers import InstructionSerializer, OrderSerializer, PaymentSerializer

ChargeResultSchema = inline_serializer(name="ChargeResult", fields={
    "order": OrderSerializer(), "payment": PaymentSerializer(), "instruction": InstructionSerializer(),
    "idempotent": serializers.BooleanField()})


ChannelList = inline_serializer(name="ChannelList", fields={"data": ChannelSerializer(many=True)})


class ChannelListView(MerchantAPIView):
    @extend_schema(responses={200: ChannelList}, operation_id="channels_list")
    def get(self, request):
        channels = channel_list_enabled()
        return Response({"data": ChannelSerializer(channels, many=True, context={"mode": self.mode}).data})


class ChargeCreateView(MerchantAPIView):
    @extend_schema(request=ChargeInputSerializer, responses={
        201: ChargeResultSchema, 200: ChargeResultSchema, 400: ErrorEnvelope, 409: ErrorEnvelope,
        422: ErrorEnvelope}, operation_id="charges_create")
    def post(self, request):
        data = ChargeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = charge_create(merchant=self.merchant, mode=self.mode, data=data.validated_data,
                               actor=f"merchant:{self.api_key.key_id}", base_url=request.build_absolute_uri("/"))
        context = {"request": request, "instruction": data.validated_data.get("instruction")}
        body = {
            "order": OrderSerializer(result.order).data,
            "payment": PaymentSerializer(result.payment).data,
            "instruction": InstructionSerializer(result.order, context=context).data,
            "idempotent": result.idempotent,
        }
        return Response(body, status=status.HTTP_200_OK if result.idempotent else status.HTTP_201_CREATED)
