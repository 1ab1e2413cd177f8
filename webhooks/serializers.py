from rest_framework import serializers

from askhandle.api.serializers import ModelSerializer

from .models import Delivery, DeliveryAttempt, EventType, Webhook
from .safety import check_target

VALID_EVENTS = ", ".join(EventType.values)


class WebhookSerializer(ModelSerializer):
    event = serializers.ChoiceField(
        choices=EventType.choices,
        error_messages={
            "invalid_choice": f'"{{input}}" is not a valid event. Valid events: {VALID_EVENTS}.'
        },
    )
    target = serializers.URLField(max_length=2000, help_text="An http or https URL.")

    class Meta:
        model = Webhook
        fields = ["uuid", "event", "target", "is_active", "disabled_reason", "created_at"]
        read_only_fields = ["uuid", "disabled_reason", "created_at"]
        extra_kwargs = {
            "is_active": {
                "help_text": "false pauses deliveries (kept, sent when set back to true); set "
                "to false by the server when the target answers 410 Gone."
            }
        }

    def validate_target(self, value):
        try:
            check_target(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value


class WebhookWithSecretSerializer(WebhookSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="Signs every delivery (Standard Webhooks scheme). Shown only when the "
        "subscription is created and when its secret is rotated.",
    )

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]


class DeliveryAttemptSerializer(ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["number", "started_at", "duration_ms", "status_code", "error"]
        read_only_fields = fields
        extra_kwargs = {
            "duration_ms": {
                "help_text": "Null while the attempt is in flight, or when the worker stopped "
                "during it (`error` then says so)."
            }
        }


class DeliverySerializer(ModelSerializer):
    id = serializers.UUIDField(
        source="uuid", read_only=True, help_text="Sent as `webhook-id`; the same on every retry."
    )
    event = serializers.CharField(source="event.type", read_only=True)
    data = serializers.JSONField(source="event.data", read_only=True)
    next_attempt_at = serializers.DateTimeField(
        source="next_attempt", read_only=True, allow_null=True, help_text="Null once finished."
    )
    attempts = DeliveryAttemptSerializer(many=True, read_only=True, help_text="Oldest first.")

    class Meta:
        model = Delivery
        fields = [
            "id",
            "event",
            "status",
            "attempt_count",
            "last_status_code",
            "last_error",
            "created_at",
            "next_attempt_at",
            "completed_at",
            "data",
            "attempts",
        ]
        read_only_fields = fields
