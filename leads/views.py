from rest_framework import viewsets

from askhandle.api.constants import UUID_PATH_REGEX

from .filters import LeadFilter
from .models import Lead
from .serializers import LeadSerializer


class LeadViewSet(viewsets.ModelViewSet):
    """All your leads, newest first."""

    serializer_class = LeadSerializer
    filterset_class = LeadFilter
    lookup_field = "uuid"
    lookup_value_regex = UUID_PATH_REGEX

    def get_queryset(self):
        return Lead.objects.filter(account=self.request.user).order_by("-created_at", "-id")

    def perform_create(self, serializer):
        serializer.save(account=self.request.user)
