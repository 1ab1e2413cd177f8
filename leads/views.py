from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets

from askhandle.api.constants import UUID_PATH_REGEX

from .filters import LeadFilter
from .models import Lead
from .serializers import LeadSerializer
from .services import lead_create


@extend_schema_view(
    list=extend_schema(description="All your leads, newest first."),
    create=extend_schema(description="Create a lead. Every field is optional: `{}` is valid."),
    retrieve=extend_schema(description="One of your leads."),
    update=extend_schema(description="Update a lead (fields left out keep their values)."),
    partial_update=extend_schema(description="Update some fields of a lead."),
    destroy=extend_schema(description="Delete a lead."),
)
class LeadViewSet(viewsets.ModelViewSet):
    serializer_class = LeadSerializer
    filterset_class = LeadFilter
    lookup_field = "uuid"
    lookup_value_regex = UUID_PATH_REGEX

    def get_queryset(self):
        return Lead.objects.filter(account=self.request.user).order_by("-created_at", "-id")

    def perform_create(self, serializer):
        serializer.instance = lead_create(account=self.request.user, **serializer.validated_data)
