from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from api.base import MerchantAPIView
from api.schema import ErrorEnvelope
from core.errors import Invalid
from core.money import money
from orders.models import SettlementMode
from orders.selectors import order_get
from orders.services import order_snapshot
from refunds.api.serializers import (
    RefundInputSerializer,
    RefundQuoteQuerySerializer,
    RefundQuoteSerializer,
    RefundSerializer,
)
from refunds.services import deposit_refund_create, deposit_refund_quote, refund_create

RefundResult = inline_serializer(name="RefundResult", fields={
    "order": serializers.DictField(), "refund": RefundSerializer()})
QuoteResult = inline_serializer(name="RefundQuoteResult", fields={"quote": RefundQuoteSerializer()})


class OrderRefundView(MerchantAPIView):
    @extend_schema(request=RefundInputSerializer,
                   responses={201: RefundResult, 400: ErrorEnvelope, 409: ErrorEnvelope, 422: ErrorEnvelope,
                              503: ErrorEnvelope},
                   operation_id="orders_refund",
                   description="Refund an order. An order that settles on-chain to your wallet (direct): what is "
                   "still on its deposit address and not yours to keep (all of a canceled, expired or failed order; "
                   "the excess of an overpayment; funds that arrived after it closed) goes back on-chain to "
                   "refund_address, net of the network cost where the payer bears it (see the quote: GET "
                   ".../refund_quote). The refund starts `pending`; refund.broadcast and refund.confirmed follow, and "
                   "the order becomes refunded once its deposit is empty. One deposit refund at a time (409 "
                   "refund_in_progress). A custodial order: an amount (default all that is left), paid out by the "
                   "operator.")
    def post(self, request, order_id: str):
        order = order_get(merchant=self.merchant, mode=self.mode, order_id=order_id)
        data = RefundInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        actor = f"merchant:{self.api_key.key_id}"
        if order.settlement_mode == SettlementMode.DIRECT:
            if values.get("amount") is not None:
                raise Invalid("amount_not_accepted", (
                    "A deposit refund sends back all that is not yours to keep on the deposit address (see GET "
                    f"/api/v1/orders/{order.id}/refund_quote): leave out amount."), param="amount")
            refund = deposit_refund_create(order_id=order.id, refund_address=values.get("refund_address"),
                                           destination_tag=values.get("destination_tag"),
                                           reason=values["reason"], actor=actor)
            order = order_get(merchant=self.merchant, mode=self.mode, order_id=order_id)
            return Response({"order": order_snapshot(order), "refund": RefundSerializer(refund).data},
                            status=status.HTTP_201_CREATED)
        refund = refund_create(order_id=order.id, amount=values.get("amount"), reason=values["reason"], actor=actor)
        order = refund.order
        return Response({
            "order": {"id": order.id, "status": order.status, "amount": money(order.amount),
                      "refunded_amount": money(order.refunded_amount), "currency": order.currency},
            "refund": RefundSerializer(refund).data,
        }, status=status.HTTP_201_CREATED)


class OrderRefundQuoteView(MerchantAPIView):
    @extend_schema(parameters=[OpenApiParameter("refund_address", str, required=False),
                               OpenApiParameter("destination_tag", int, required=False)],
                   responses={200: QuoteResult, 400: ErrorEnvelope, 409: ErrorEnvelope, 422: ErrorEnvelope,
                              503: ErrorEnvelope},
                   operation_id="orders_refund_quote",
                   description="What a deposit refund of the order would send now: the amount leaving the deposit "
                   "address, the network cost (and who pays it) and the net the refund address receives. Nothing "
                   "is written; the refund (POST .../refund) keeps to the quote's net where the payer bears the "
                   "cost (it waits while the network costs more).")
    def get(self, request, order_id: str):
        order = order_get(merchant=self.merchant, mode=self.mode, order_id=order_id)
        query = RefundQuoteQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        quote = deposit_refund_quote(order_id=order.id, refund_address=query.validated_data.get("refund_address"),
                                     destination_tag=query.validated_data.get("destination_tag"))
        return Response({"quote": quote.as_json()})
