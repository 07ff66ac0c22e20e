from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from api.base import MerchantAPIView
from api.errors import ApiError
from api.schema import ErrorEnvelope
from charges.services import checkout_url
from core.money import money
from core.text import forbidden_character
from orders import counting, selectors, services
from orders.api.filters import OrderListQuerySerializer
from orders.api.serializers import (
    InstructionSerializer,
    OrderEventSerializer,
    OrderListItemSerializer,
    OrderSerializer,
    OrderStatusInputSerializer,
    PaymentSerializer,
    SimulatePaymentInputSerializer,
    TransferSerializer,
)
from orders.presentation import deposit_balance
from refunds.api.serializers import RefundSerializer
from settlements import selectors as settlement_selectors
from settlements import services as settlement_services
from settlements.api.serializers import SettlementSerializer

OrderList = inline_serializer(name="OrderList", fields={
    "data": OrderListItemSerializer(many=True), "total": serializers.IntegerField(),
    "limit": serializers.IntegerField(), "offset": serializers.IntegerField()})

OrderDetail = inline_serializer(name="OrderDetail", fields={
    "order": OrderSerializer(), "payment": PaymentSerializer(allow_null=True),
    "instruction": InstructionSerializer(), "transfers": TransferSerializer(many=True),
    "running_total": serializers.CharField(),
    "remaining": serializers.CharField(allow_null=True, help_text=(
        "What is still on the deposit address, from the recorded transfers (the order's remaining).")),
    "settlements": SettlementSerializer(many=True),
    "refunds": RefundSerializer(many=True),
    "events": OrderEventSerializer(many=True), "checkout_url": serializers.CharField()})

SimulateResult = inline_serializer(name="SimulateResult", fields={
    **OrderDetail.fields, "transfer": TransferSerializer()})

OrderChange = inline_serializer(name="OrderChange", fields={
    "success": serializers.BooleanField(), "order": OrderSerializer(),
    "warnings": serializers.ListField(child=serializers.DictField())})


def order_detail(order, *, request) -> dict:
    """GET /orders/{id}: the order, its payment, settlements and checkout_url, plus the
    peers' payment notifications, running total and remaining amount."""

    transfers = list(order.transfers.order_by("-detected_at", "-id"))
    payment = order.payments.order_by("created_at").first()
    settlements = settlement_selectors.settlements_of_order(order)
    refunds = list(order.refunds.all())
    return {
        "order": OrderSerializer(order).data,
        "payment": PaymentSerializer(payment).data if payment else None,
        "instruction": InstructionSerializer(order, context={"request": request}).data,
        "transfers": [TransferSerializer(t).data for t in transfers],
        "running_total": money(order.amount_received),
        "remaining": money(deposit_balance(order)),
        "settlements": SettlementSerializer(settlements, many=True).data,
        "refunds": RefundSerializer(refunds, many=True).data,
        "events": OrderEventSerializer(order.events.all(), many=True).data,
        # Orders made before checkout pages existed have a token but no stored URL yet.
        "checkout_url": order.checkout_url or (
            checkout_url(token=order.checkout_token, base=request.build_absolute_uri("/"))
            if order.checkout_token else ""),
    }


class OrderListView(MerchantAPIView):
    @extend_schema(parameters=[OrderListQuerySerializer], responses={200: OrderList, 400: ErrorEnvelope},
                   operation_id="orders_list")
    def get(self, request):
        query = OrderListQuerySerializer(data=request.query_params)
        unknown = sorted(set(request.query_params) - set(query.fields))
        if unknown:
            raise ApiError("unknown_parameter", f"Unknown query parameter {unknown[0]!r}.", param=unknown[0])
        query.is_valid(raise_exception=True)
        params = query.validated_data
        qs = selectors.order_list(merchant=self.merchant, mode=self.mode, filters=params)
        limit, offset = params["limit"], params["offset"]
        page = list(qs.values(*OrderListItemSerializer.COLUMNS)[offset:offset + limit])
        if page and len(page) < limit:
            total = len(page) + offset  # a short page is its own total
        elif counting.maintained() and not any(params.get(name) for name in FILTERS):
            total = counting.live_order_total(merchant_id=self.merchant.pk, mode=self.mode)
        else:
            total = qs.count()
        return Response({"data": OrderListItemSerializer(page, many=True).data,
                         "total": total, "limit": limit, "offset": offset})


    @extend_schema(parameters=[OpenApiParameter("merchant_order_id", str, OpenApiParameter.QUERY, required=True,
                                                description="The order's reference (your own id).")],
                   request=None, responses={204: None, 400: ErrorEnvelope, 404: ErrorEnvelope, 409: ErrorEnvelope},
                   operation_id="orders_delete_by_reference",
                   description="Delete by reference: the order holding this merchant_order_id (else the newest "
                   "canceled one with it), with the rules of DELETE /api/v1/orders/{id}: only an order that never "
                   "received funds (409 otherwise).")
    def delete(self, request):
        unknown = sorted(set(request.query_params) - {"merchant_order_id"})
        if unknown:
            raise ApiError("unknown_parameter", f"Unknown query parameter {unknown[0]!r}.", param=unknown[0])
        reference = request.query_params.get("merchant_order_id", "")
        if not reference:
            raise ApiError("parameter_missing", "merchant_order_id: the reference of the order to delete is "
                           "required.", param="merchant_order_id")
        if forbidden_character(reference) is not None:  # no stored reference can hold one
            raise ApiError("parameter_invalid", "merchant_order_id: a NUL character or a lone surrogate is not "
                           "allowed.", param="merchant_order_id")
        order = selectors.order_get_by_reference(merchant=self.merchant, mode=self.mode, merchant_order_id=reference)
        services.order_delete(order_id=order.id, actor=f"merchant:{self.api_key.key_id}")
        return Response(status=status.HTTP_204_NO_CONTENT)


# Query parameters that narrow the list: without any, `total` is the merchant's live orders.
FILTERS = tuple(name for name in OrderListQuerySerializer().fields if name not in ("limit", "offset"))


class OrderDetailView(MerchantAPIView):
    def _get(self, order_id):
        return selectors.order_get(merchant=self.merchant, mode=self.mode, order_id=order_id)

    @extend_schema(responses={200: OrderDetail, 404: ErrorEnvelope}, operation_id="orders_retrieve")
    def get(self, request, order_id: str):
        return Response(order_detail(self._get(order_id), request=request))

    @extend_schema(request=OrderStatusInputSerializer, responses={200: OrderChange, 409: ErrorEnvelope},
                   operation_id="orders_update_status",
                   description="A manual status change: pending (reopen), paid (marked by you) "
                   "or canceled. Setting the status an order already has answers a no_change warning.")
    def patch(self, request, order_id: str):
        order = self._get(order_id)
        data = OrderStatusInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # A live order marked paid settles what its deposit address holds, or says why not.
        change, started = settlement_services.order_set_status_and_settle(
            order_id=order.id, status=data.validated_data["status"], actor=f"merchant:{self.api_key.key_id}")
        body = {"success": True, "order": OrderSerializer(change.order).data, "warnings": change.warnings}
        if started is not None and started.settlement is not None:
            body["settlement"] = SettlementSerializer(started.settlement).data
        if started is not None and started.warning:
            body["warnings"] = [*change.warnings, {"code": "settlement_not_started", "message": started.warning}]
        return Response(body)

    @extend_schema(responses={204: None, 404: ErrorEnvelope, 409: ErrorEnvelope}, operation_id="orders_delete",
                   description="Delete an order that never received funds (409 otherwise).")
    def delete(self, request, order_id: str):
        order = self._get(order_id)
        services.order_delete(order_id=order.id, actor=f"merchant:{self.api_key.key_id}")
        return Response(status=status.HTTP_204_NO_CONTENT)


class SimulatePaymentView(MerchantAPIView):
    @extend_schema(request=SimulatePaymentInputSerializer, responses={201: SimulateResult, 403: ErrorEnvelope},
                   operation_id="orders_simulate_payment",
                   parameters=[OpenApiParameter("order_id", str, OpenApiParameter.PATH)],
                   description="Test mode only: record a simulated incoming transfer (amount defaults to what "
                   "remains due, confirmations to the channel's required) that runs through the same "
                   "pipeline as a chain transfer. Pass tx_hash of an earlier simulated transfer to change "
                   "its confirmations.")
    def post(self, request, order_id: str):
        if not self.api_key.is_test:
            raise ApiError("test_mode_only", "simulate_payment works with a test key only.", status=403)
        order = selectors.order_get(merchant=self.merchant, mode=self.mode, order_id=order_id)
        data = SimulatePaymentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        change, transfer = services.order_simulate_payment(
            order_id=order.id, actor=f"merchant:{self.api_key.key_id}", **data.validated_data)
        body = order_detail(change.order, request=request)
        body["transfer"] = TransferSerializer(transfer).data
        return Response(body, status=status.HTTP_201_CREATED)
