from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from askhandle.api import fast_lists
from askhandle.api.constants import UUID_PATH_REGEX
from askhandle.api.schema import ERROR_RESPONSES
from idempotency.decorators import IdempotentCreateMixin

from .filters import LeadFilter
from .models import Lead
from .selectors import lead_rooms
from .serializers import LeadExportSerializer, LeadSerializer
from .services import lead_create, lead_delete, lead_update

PURGE_PARAMETER = OpenApiParameter(
    "purge",
    bool,
    description="`true`: forget the person: also delete every room held about the lead (linked "
    "to it, or whose messages carry its email or phone number) with all their messages, and the "
    "webhook events (with their deliveries and attempt logs) and stored Idempotency-Key answers "
    "about them, matched by exact identifiers and field values. Default `false`: the lead only.",
)


@extend_schema_view(
    list=extend_schema(description="All your leads, newest first."),
    create=extend_schema(description="Create a lead. Every field is optional: `{}` is valid."),
    retrieve=extend_schema(description="One of your leads."),
    update=extend_schema(description="Update a lead (fields left out keep their values)."),
    partial_update=extend_schema(description="Update some fields of a lead."),
    destroy=extend_schema(
        description="Delete a lead; with `?purge=true` also its rooms and their messages, and "
        "every webhook event, delivery and stored create answer about them.",
        parameters=[PURGE_PARAMETER],
        responses={204: None, 400: ERROR_RESPONSES[400]},
    ),
)
class LeadViewSet(IdempotentCreateMixin, viewsets.ModelViewSet):
    serializer_class = LeadSerializer
    filterset_class = LeadFilter
    lookup_field = "uuid"
    lookup_value_regex = UUID_PATH_REGEX

    def get_queryset(self):
        return Lead.objects.filter(account=self.request.user).order_by("-created_at", "-id")

    def list(self, request, *args, **kwargs):
        # From the list fast path where it applies (docs/fast-lists.md), else DRF's own path.
        response = fast_lists.page(self)
        return response if response is not None else super().list(request, *args, **kwargs)

    def perform_create(self, serializer):
        serializer.instance = lead_create(account=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        lead_update(lead=serializer.instance, **serializer.validated_data)

    def destroy(self, request, *args, **kwargs):
        field = serializers.BooleanField(default=False)
        try:
            purge = field.run_validation(request.query_params.get("purge", serializers.empty))
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"purge": exc.detail}) from None
        lead_delete(lead=self.get_object(), purge=purge)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        description="Everything held about one of your leads, for a subject access request: the "
        "lead, and every room whose messages carry its email or phone number, with all their "
        "messages.",
        operation_id="leads_export",
        responses=LeadExportSerializer,
        filters=False,
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def export(self, request, *args, **kwargs):
        lead = self.get_object()
        rooms = lead_rooms(lead=lead).with_messages()
        data = {"lead": lead, "rooms": rooms, "exported_at": timezone.now()}
        return Response(LeadExportSerializer(data, context=self.get_serializer_context()).data)
