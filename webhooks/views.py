import hmac

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from askhandle.api.constants import UUID_PATH_REGEX
from idempotency.decorators import IdempotentCreateMixin

from .filters import DeliveryFilter, WebhookFilter
from .models import Delivery, DeliveryAttempt, DeliveryStatus, Webhook
from .serializers import DeliverySerializer, WebhookSerializer, WebhookWithSecretSerializer
from .services import (
    SECRET_DIGEST,
    SecretNotReplayed,
    delivery_redeliver,
    secret_digest,
    webhook_create,
    webhook_secret_rotate,
)
from .streams import (
    STREAM_PARAMETERS,
    STREAM_RESPONSES,
    IgnoreClientContentNegotiation,
    event_stream,
    last_event_id,
)


@extend_schema_view(
    list=extend_schema(description="Your webhook subscriptions, newest first."),
    create=extend_schema(
        description="Subscribe `target` to `event`. The answer carries the signing `secret`, "
        "shown only this once (and to a retry with the same `Idempotency-Key` while the secret "
        "is unchanged). At most `WEBHOOKS_PER_ACCOUNT` (20) subscriptions per account (400 "
        "beyond).",
        responses={
            201: WebhookWithSecretSerializer,
            409: OpenApiResponse(
                description="A retry with the `Idempotency-Key` of a create whose webhook has "
                "been deleted or its secret rotated since: the secret is not shown again."
            ),
        },
    ),
    retrieve=extend_schema(description="One subscription."),
    update=extend_schema(description="Change a subscription (fields left out keep their values)."),
    partial_update=extend_schema(description="Change some fields of a subscription."),
    destroy=extend_schema(description="Unsubscribe (its delivery log goes with it)."),
)
class WebhookViewSet(IdempotentCreateMixin, viewsets.ModelViewSet):
    serializer_class = WebhookSerializer
    filterset_class = WebhookFilter
    lookup_field = "uuid"
    lookup_value_regex = UUID_PATH_REGEX

    def get_queryset(self):
        return Webhook.objects.filter(account=self.request.user).order_by("-created_at", "-id")

    def get_serializer_class(self):
        if self.action in ("create", "rotate_secret"):
            return WebhookWithSecretSerializer
        if self.action in ("deliveries", "redeliver"):
            return DeliverySerializer
        return WebhookSerializer

    # A replayed create (Idempotency-Key) shows the secret only while it is still the
    # subscription's secret: the stored answer keeps a digest of it, never the secret itself.
    def idempotent_keep(self, data):
        kept = {name: value for name, value in data.items() if name != "secret"}
        kept[SECRET_DIGEST] = secret_digest(data["secret"])
        return kept

    def idempotent_replay(self, stored):
        body = {name: value for name, value in stored.items() if name != SECRET_DIGEST}
        # Answers stored before the digest was kept hold the secret itself.
        digest = stored.get(SECRET_DIGEST) or secret_digest(body.pop("secret", ""))
        webhook = Webhook.objects.filter(account=self.request.user, uuid=body["uuid"]).first()
        if webhook is None:
            raise SecretNotReplayed(
                "The webhook created with this Idempotency-Key has been deleted since; its "
                "signing secret is not shown again."
            )
        if not hmac.compare_digest(secret_digest(webhook.secret), digest):
            raise SecretNotReplayed(
                "The signing secret of the webhook created with this Idempotency-Key has been "
                "rotated since; the old one is not shown again (rotate-secret shows a new one)."
            )
        return {**body, "secret": webhook.secret}

    def perform_create(self, serializer):
        serializer.instance = webhook_create(account=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        if serializer.validated_data.get("is_active"):
            serializer.validated_data["disabled_reason"] = ""
        if serializer.validated_data.get("target", serializer.instance.target) != (
            serializer.instance.target
        ):
            # Another target: the old one's failures and backoff are not its own.
            serializer.validated_data.update(target_failures=0, target_backoff_until=None)
        serializer.save()

    @extend_schema(
        request=None,
        description="Replace the signing secret. The old one keeps signing (as a second "
        "signature) for a day, so receivers can switch over.",
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, uuid=None):
        webhook = webhook_secret_rotate(webhook=self.get_object())
        return Response(self.get_serializer(webhook).data)

    def _deliveries(self):
        # Not get_object(): that would apply this action's delivery filters to webhooks.
        webhook = get_object_or_404(self.get_queryset(), uuid=self.kwargs["uuid"])
        return (
            Delivery.objects.filter(webhook=webhook)
            .select_related("event")
            .prefetch_related(Prefetch("attempts", DeliveryAttempt.objects.order_by("number")))
            .order_by("-created_at", "-id")
        )

    @extend_schema(
        description="The delivery log of this subscription, newest first, each with its attempts.",
        parameters=[
            OpenApiParameter(
                "status", enum=DeliveryStatus.values, description="Only deliveries in this state."
            )
        ],
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request, uuid=None):
        # Filtered here rather than by the view's filter backend, which filters webhooks.
        filterset = DeliveryFilter(request.query_params, queryset=self._deliveries())
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        page = self.paginate_queryset(filterset.qs)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        request=None,
        responses={
            202: DeliverySerializer,
            409: OpenApiResponse(description="The delivery is being attempted right now."),
        },
        description="Send a delivery again now, with the same id, whatever its status.",
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=rf"deliveries/(?P<delivery_id>{UUID_PATH_REGEX})/redeliver",
    )
    def redeliver(self, request, uuid=None, delivery_id=None):
        delivery = get_object_or_404(self._deliveries(), uuid=delivery_id)
        delivery = delivery_redeliver(delivery=delivery)
        return Response(self.get_serializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class EventStreamView(APIView):
    """`GET /api/v1/events/` (an extension): the account's events as Server-Sent Events
    (webhooks/streams.py, docs/streams.md)."""

    content_negotiation_class = IgnoreClientContentNegotiation

    @extend_schema(
        operation_id="events_stream",
        parameters=STREAM_PARAMETERS,
        responses=STREAM_RESPONSES,
        description="(Extension) Your account's events, live, as Server-Sent Events: one event "
        "per webhook event (`message.added`, `chat.added`, `lead.added`, `chat.handed_off`, "
        "`keyword_notification.added`), its `event` the type, its `data` the object as the "
        "webhooks send it, its `id` a cursor.",
    )
    def get(self, request):
        return event_stream(account_id=request.user.pk, after=last_event_id(request))
