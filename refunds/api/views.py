from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from api.base import MerchantAPIView
from api.schema import ErrorEnvelope
from core.money import money
from orders.selectors import order_get
from refunds.api.serializers import RefundInputSerializer, RefundSerializer
from refunds.services import refund_create

RefundResult = inline_serializer(name="RefundResult", fields={
    "order": serializers.DictField(), "refund": RefundSerializer()})


class OrderRefundView(MerchantAPIView):
    @extend_schema(request=RefundInputSerializer,
                   responses={201: RefundResult, 409: ErrorEnvelope, 422: ErrorEnvelope},
                   operation_id="orders_refund",
                   description="Refund a paid custodial order, all that is left (amount omitted) or "
                   "part of it. Direct-settlement orders are refunded from your own wallet "
                   "(422 not_platform_refundable).")
    def post(self, request, order_id: str):
        order = order_get(merchant=self.merchant, mode=self.mode, order_id=order_id)
        data = RefundInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        refund = refund_create(order_id=order.id, amount=data.validated_data.get("amount"),
                               reason=data.validated_data["reason"], actor=f"merchant:{self.api_key.key_id}")
        order = refund.order
        return Response({
            "order": {"id": order.id, "status": order.status, "amount": money(order.amount),
                      "refunded_amount": money(order.refunded_amount), "currency": order.currency},
            "refund": RefundSerializer(refund).data,
        }, status=status.HTTP_201_CREATED)
