from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from api.base import MerchantAPIView
from api.errors import ApiError
from api.schema import ErrorEnvelope
from settlements import selectors
from settlements.api.serializers import SettlementListQuerySerializer, SettlementSerializer

SettlementList = inline_serializer(name="SettlementList", fields={
    "data": SettlementSerializer(many=True), "limit": serializers.IntegerField(),
    "offset": serializers.IntegerField()})


class SettlementListView(MerchantAPIView):
    @extend_schema(parameters=[SettlementListQuerySerializer], responses={200: SettlementList, 400: ErrorEnvelope},
                   operation_id="settlements_list",
                   description="Settlements of your live orders, newest first: the net sent on-chain to your "
                               "payout address and the platform fee.")
    def get(self, request):
        query = SettlementListQuerySerializer(data=request.query_params)
        unknown = sorted(set(request.query_params) - set(query.fields))
        if unknown:
            raise ApiError("unknown_parameter", f"Unknown query parameter {unknown[0]!r}.", param=unknown[0])
        query.is_valid(raise_exception=True)
        params = query.validated_data
        rows = selectors.settlement_list(merchant=self.merchant, mode=self.mode, filters=params)
        limit, offset = params["limit"], params["offset"]
        page = list(rows[offset:offset + limit])
        return Response({"data": SettlementSerializer(page, many=True).data, "limit": limit, "offset": offset})
