from rest_framework import serializers

from webhooks.models import Attempt, Delivery, Event, WebhookEndpoint


class EndpointSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "enabled_events", "enabled", "disabled_reason",
                  "previous_secret_expires_at", "created_at", "updated_at"]


class EndpointCreateSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=2000)
    enabled_events = serializers.ListField(child=serializers.CharField(max_length=64), required=False,
                                           allow_empty=False, max_length=50)
    description = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class EndpointUpdateSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=2000, required=False)
    enabled_events = serializers.ListField(child=serializers.CharField(max_length=64), required=False,
                                           allow_empty=False, max_length=50)
    description = serializers.CharField(required=False, allow_blank=True, max_length=500)
    enabled = serializers.BooleanField(required=False)


class RotateSecretSerializer(serializers.Serializer):
    overlap_seconds = serializers.IntegerField(required=False, min_value=0, max_value=7 * 86400, default=86400)


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = Attempt
        fields = ["number", "attempted_at", "duration_ms", "response_status", "response_excerpt", "error"]


class DeliverySerializer(serializers.ModelSerializer):
    endpoint_id = serializers.CharField()
    attempts = AttemptSerializer(many=True)

    class Meta:
        model = Delivery
        fields = ["endpoint_id", "status", "attempt_count", "next_attempt_at", "last_response_status",
                  "last_error", "receiver_fault", "delivered_at", "attempts"]


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = Event
        fields = ["id", "type", "created_at", "data"]


class EventDetailSerializer(EventSerializer):
    deliveries = DeliverySerializer(many=True)

    class Meta(EventSerializer.Meta):
        fields = [*EventSerializer.Meta.fields, "deliveries"]


class RedeliverSerializer(serializers.Serializer):
    endpoint_id = serializers.CharField(required=False, max_length=32)
