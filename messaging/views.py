from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets

from askhandle.api import fast_lists
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
        messages = Message.objects.filter(account=self.request.user).order_by("-sent_at", "-id")
        return messages.select_related("room")

    def list(self, request, *args, **kwargs):
        # From the list fast path where it applies (docs/fast-lists.md), else DRF's own path.
        response = fast_lists.page(self)
        return response if response is not None else super().list(request, *args, **kwargs)

    def perform_create(self, serializer):
        # The chat frontend waits for the bot's answer, unless the commit comes after the response
        # (an Idempotency-Key's transaction): then waiting would only delay it; the worker answers.
        answer = "background" if self.in_key_transaction() else "inline"
        serializer.instance = message_create(
            account=self.request.user, answer=answer, **serializer.validated_data
        )
