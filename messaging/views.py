from rest_framework import mixins, viewsets

from askhandle.api.constants import UUID_PATH_REGEX

from .filters import MessageFilter
from .models import Message
from .serializers import MessageSerializer
from .services import message_create


class MessageViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """All your messages, newest first."""

    serializer_class = MessageSerializer
    filterset_class = MessageFilter
    lookup_field = "uuid"
    lookup_value_regex = UUID_PATH_REGEX

    def get_queryset(self):
        return (
            Message.objects.filter(account=self.request.user)
            .select_related("room")
            .order_by("-sent_at", "-id")
        )

    def perform_create(self, serializer):
        serializer.instance = message_create(account=self.request.user, **serializer.validated_data)
