"""/api/v1/products and /api/v1/payment_links: signed, scoped by merchant and mode like
every merchant view (input serializer -> one service -> output serializer)."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from api.base import MerchantAPIView
from api.schema import ErrorEnvelope
from checkout import selectors, services
from checkout.api.serializers import (
    PaymentLinkCreateSerializer,
    PaymentLinkSerializer,
    PaymentLinkUpdateSerializer,
    ProductCreateSerializer,
    ProductSerializer,
    ProductUpdateSerializer,
)


class PageQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=200, default=20)
    offset = serializers.IntegerField(min_value=0, max_value=1_000_000_000, default=0)


def _page(request, qs, serializer, context=None):
    query = PageQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    limit, offset = query.validated_data["limit"], query.validated_data["offset"]
    rows = list(qs[offset:offset + limit])
    return {"data": serializer(rows, many=True, context=context or {}).data, "total": qs.count(),
            "limit": limit, "offset": offset}


ProductList = inline_serializer(name="ProductList", fields={
    "data": ProductSerializer(many=True), "total": serializers.IntegerField(),
    "limit": serializers.IntegerField(), "offset": serializers.IntegerField()})
PaymentLinkList = inline_serializer(name="PaymentLinkList", fields={
    "data": PaymentLinkSerializer(many=True), "total": serializers.IntegerField(),
    "limit": serializers.IntegerField(), "offset": serializers.IntegerField()})


class ProductListView(MerchantAPIView):
    @extend_schema(parameters=[PageQuerySerializer], responses={200: ProductList}, operation_id="products_list")
    def get(self, request):
        return Response(_page(request, selectors.product_scope(merchant=self.merchant, mode=self.mode),
                              ProductSerializer))

    @extend_schema(request=ProductCreateSerializer, responses={201: ProductSerializer, 400: ErrorEnvelope},
                   operation_id="products_create")
    def post(self, request):
        data = ProductCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        product = services.product_create(merchant=self.merchant, mode=self.mode, **data.validated_data)
        return Response(ProductSerializer(product).data, status=status.HTTP_201_CREATED)


class ProductDetailView(MerchantAPIView):
    @extend_schema(responses={200: ProductSerializer, 404: ErrorEnvelope}, operation_id="products_retrieve")
    def get(self, request, product_id: str):
        return Response(ProductSerializer(selectors.product_get(
            merchant=self.merchant, mode=self.mode, product_id=product_id)).data)

    @extend_schema(request=ProductUpdateSerializer, responses={200: ProductSerializer, 404: ErrorEnvelope},
                   operation_id="products_update",
                   description="Change name, description, price or active; orders already made keep their price.")
    def patch(self, request, product_id: str):
        product = selectors.product_get(merchant=self.merchant, mode=self.mode, product_id=product_id)
        data = ProductUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(ProductSerializer(services.product_update(product=product, data=data.validated_data)).data)


class PaymentLinkListView(MerchantAPIView):
    @extend_schema(parameters=[PageQuerySerializer], responses={200: PaymentLinkList},
                   operation_id="payment_links_list")
    def get(self, request):
        return Response(_page(request, selectors.payment_link_scope(merchant=self.merchant, mode=self.mode),
                              PaymentLinkSerializer, {"request": request}))

    @extend_schema(request=PaymentLinkCreateSerializer, responses={
        201: PaymentLinkSerializer, 400: ErrorEnvelope, 404: ErrorEnvelope}, operation_id="payment_links_create",
        description="A link for a product (`product`) or a fixed amount (`amount` + `currency`). Each visit of "
        "its `url` makes a fresh order (with `payment_link_id` and `product_id`) and sends the payer to its "
        "checkout page.")
    def post(self, request):
        data = PaymentLinkCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        link = services.payment_link_create(merchant=self.merchant, mode=self.mode, data=data.validated_data)
        return Response(PaymentLinkSerializer(link, context={"request": request}).data,
                        status=status.HTTP_201_CREATED)


class PaymentLinkDetailView(MerchantAPIView):
    def _get(self, link_id):
        return selectors.payment_link_get(merchant=self.merchant, mode=self.mode, link_id=link_id)

    @extend_schema(responses={200: PaymentLinkSerializer, 404: ErrorEnvelope}, operation_id="payment_links_retrieve")
    def get(self, request, link_id: str):
        return Response(PaymentLinkSerializer(self._get(link_id), context={"request": request}).data)

    @extend_schema(request=PaymentLinkUpdateSerializer, responses={
        200: PaymentLinkSerializer, 404: ErrorEnvelope, 409: ErrorEnvelope}, operation_id="payment_links_update",
        description="Switch a link off (`active: false`) or on, or change its limits.")
    def patch(self, request, link_id: str):
        link = self._get(link_id)
        data = PaymentLinkUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        link = services.payment_link_update(link=link, data=data.validated_data)
        return Response(PaymentLinkSerializer(link, context={"request": request}).data)
