from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from api.base import MerchantAPIView
from api.errors import ApiError
from api.schema import ErrorEnvelope
from merchants import selectors as merchant_selectors
from webhooks import selectors, services
from webhooks.api.serializers import (
    EndpointCreateSerializer,
    EndpointSerializer,
    EndpointUpdateSerializer,
    EventDetailSerializer,
    EventSerializer,
    RedeliverSerializer,
    RotateSecretSerializer,
)
from webhooks.events import EVENT_TYPES
from webhooks.models import DeliveryStatus

EndpointWithSecret = inline_serializer(name="EndpointWithSecret", fields={
    "endpoint": EndpointSerializer(), "secret": serializers.CharField(
        allow_null=True, help_text="Shown in this response only: null when the response is an Idempotency-Key "
                                   "replay (the stored copy never holds the secret). Rotate it if it was lost.")})


def _once(response: Response) -> Response:
    """The secret is not kept with an Idempotency-Key's stored response (api/idempotency.py)."""
    response.idempotency_omit = ("secret",)
    return response
EventList = inline_serializer(name="EventList", fields={
    "data": EventSerializer(many=True), "total": serializers.IntegerField(),
    "limit": serializers.IntegerField(), "offset": serializers.IntegerField()})
EventTypeList = inline_serializer(name="EventTypeList", fields={"data": inline_serializer(
    name="EventType", fields={"type": serializers.CharField(), "description": serializers.CharField()}, many=True)})
NoticeList = inline_serializer(name="NoticeList", fields={"data": inline_serializer(
    name="Notice", fields={"kind": serializers.CharField(), "message": serializers.CharField(),
                           "created_at": serializers.DateTimeField()}, many=True)})


class EventQuerySerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=sorted(EVENT_TYPES), required=False)
    limit = serializers.IntegerField(min_value=1, max_value=200, default=20)
    offset = serializers.IntegerField(min_value=0, max_value=1_000_000_000, default=0)


class EndpointListView(MerchantAPIView):
    @extend_schema(responses={200: inline_serializer(name="EndpointList", fields={
        "data": EndpointSerializer(many=True)})}, operation_id="webhook_endpoints_list")
    def get(self, request):
        rows = selectors.endpoint_list(merchant=self.merchant, mode=self.mode)
        return Response({"data": EndpointSerializer(rows, many=True).data})

    @extend_schema(request=EndpointCreateSerializer, responses={201: EndpointWithSecret, 400: ErrorEnvelope},
                   operation_id="webhook_endpoints_create",
                   description="The endpoint's signing secret is in this response only: a replay of the same "
                   "Idempotency-Key answers the stored response with `secret: null`.")
    def post(self, request):
        data = EndpointCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint, secret = services.endpoint_create(merchant=self.merchant, mode=self.mode, **data.validated_data)
        return _once(Response({"endpoint": EndpointSerializer(endpoint).data, "secret": secret},
                              status=status.HTTP_201_CREATED))


class EndpointDetailView(MerchantAPIView):
    def _get(self, endpoint_id):
        return selectors.endpoint_get(merchant=self.merchant, mode=self.mode, endpoint_id=endpoint_id)

    @extend_schema(responses={200: EndpointSerializer, 404: ErrorEnvelope}, operation_id="webhook_endpoints_retrieve")
    def get(self, request, endpoint_id: str):
        return Response(EndpointSerializer(self._get(endpoint_id)).data)

    @extend_schema(request=EndpointUpdateSerializer, responses={200: EndpointSerializer, 400: ErrorEnvelope},
                   operation_id="webhook_endpoints_update")
    def patch(self, request, endpoint_id: str):
        endpoint = self._get(endpoint_id)
        data = EndpointUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(EndpointSerializer(services.endpoint_update(endpoint=endpoint, **data.validated_data)).data)

    @extend_schema(responses={204: None, 404: ErrorEnvelope}, operation_id="webhook_endpoints_delete")
    def delete(self, request, endpoint_id: str):
        services.endpoint_delete(endpoint=self._get(endpoint_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointRotateSecretView(MerchantAPIView):
    @extend_schema(request=RotateSecretSerializer, responses={200: EndpointWithSecret},
                   operation_id="webhook_endpoints_rotate_secret",
                   description="A new secret, in this response only. During overlap_seconds (default one day) "
                   "deliveries are signed with both: X-Fluxa-Signature with the new secret, and "
                   "X-Fluxa-Signatures lists the signatures of both.")
    def post(self, request, endpoint_id: str):
        endpoint = selectors.endpoint_get(merchant=self.merchant, mode=self.mode, endpoint_id=endpoint_id)
        data = RotateSecretSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        secret = services.endpoint_rotate_secret(endpoint=endpoint, **data.validated_data)
        return _once(Response({"endpoint": EndpointSerializer(endpoint).data, "secret": secret}))


class EventListView(MerchantAPIView):
    @extend_schema(parameters=[EventQuerySerializer], responses={200: EventList}, operation_id="events_list")
    def get(self, request):
        query = EventQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        qs = selectors.event_list(merchant=self.merchant, mode=self.mode, type=params.get("type"))
        limit, offset = params["limit"], params["offset"]
        return Response({"data": EventSerializer(qs[offset:offset + limit], many=True).data,
                         "total": qs.count(), "limit": limit, "offset": offset})


class EventDetailView(MerchantAPIView):
    @extend_schema(responses={200: EventDetailSerializer, 404: ErrorEnvelope}, operation_id="events_retrieve")
    def get(self, request, event_id: str):
        event = selectors.event_get(merchant=self.merchant, mode=self.mode, event_id=event_id)
        return Response(EventDetailSerializer(event).data)


class EventRedeliverView(MerchantAPIView):
    @extend_schema(request=RedeliverSerializer, responses={202: inline_serializer(name="RedeliverResult", fields={
        "data": serializers.ListField(child=serializers.DictField())}), 409: ErrorEnvelope},
                   operation_id="events_redeliver",
                   description="Send the same event (same id) again, to one endpoint or to all enabled ones.")
    def post(self, request, event_id: str):
        event = selectors.event_get(merchant=self.merchant, mode=self.mode, event_id=event_id)
        data = RedeliverSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = None
        if endpoint_id := data.validated_data.get("endpoint_id"):
            endpoint = selectors.endpoint_get(merchant=self.merchant, mode=self.mode, endpoint_id=endpoint_id)
        deliveries = services.event_redeliver(event=event, endpoint=endpoint)
        if not deliveries:
            raise ApiError("no_endpoint", "No enabled webhook endpoint to deliver to.", status=409)
        return Response({"data": [{"endpoint_id": d.endpoint_id, "status": DeliveryStatus.PENDING}
                                  for d in deliveries]}, status=status.HTTP_202_ACCEPTED)


class EventTypeListView(MerchantAPIView):
    @extend_schema(responses={200: EventTypeList}, operation_id="event_types_list")
    def get(self, request):
        return Response({"data": [{"type": t, "description": d} for t, d in EVENT_TYPES.items()]})


class NoticeListView(MerchantAPIView):
    @extend_schema(responses={200: NoticeList}, operation_id="notices_list")
    def get(self, request):
        rows = merchant_selectors.notice_list(merchant=self.merchant, mode=self.mode)[:100]
        return Response({"data": [{"kind": n.kind, "message": n.message, "created_at": n.created_at} for n in rows]})
