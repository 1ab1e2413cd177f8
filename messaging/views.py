from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets

from askhandle.api.constants import UUID_PATH_REGEX
from idempotency.decorators import IdempotentCreateMixin

from .filters import MessageFilter
from .models import Message
from .serializers import MessageSerializer
from .services import message_create


@extend_schema_view(
    list=extend_schema(description="All your messages, newest first."),
    create=extend_schema(
        description='Post a message in one of your rooms, named by `room` as `{"uuid": ...}` '
        "or a bare uuid."
    ),
    retrieve=extend_schema(
        description="One of your messages; poll it for `support_answer` (null until answered)."
    ),
)
class MessageViewSet(
    IdempotentCreateMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
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
