import json

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.response import Response

from askhandle.api import fast_lists
from askhandle.api.constants import UUID_PATH_REGEX
from askhandle.api.schema import ERROR_RESPONSES
from idempotency.decorators import IdempotentCreateMixin
from webhooks.streams import wait_param, wait_response

from .filters import MessageFilter
from .models import Message
from .serializers import MessageSerializer
from .services import message_create


def _wait(description: str) -> OpenApiParameter:
    return OpenApiParameter(
        "wait",
        {"type": "number", "minimum": 0, "maximum": settings.LONG_POLL_MAX_SECONDS},
        required=False,
        description=f"(Extension) A long-poll: {description}",
    )


@extend_schema_view(
    list=extend_schema(
        description="All your messages, newest first.",
        parameters=[
            _wait(
                "when the page would be empty, answer as soon as it is not, or empty after this "
                "many seconds (at most 30). With `room` and `after`: the next messages of a room."
            )
        ],
    ),
    create=extend_schema(
        description='Post a message in one of your rooms, named by `room` as `{"uuid": ...}` '
        "or a bare uuid."
    ),
    retrieve=extend_schema(
        description="One of your messages; poll it for `support_answer` (null until answered).",
        parameters=[
            _wait(
                "while `support_answer` is null, answer as soon as it is set (by the bot or a "
                "person), or as it is after this many seconds (at most 30)."
            )
        ],
        responses={200: MessageSerializer, 400: ERROR_RESPONSES[400]},
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
        seconds = wait_param(request)
        response = self._page(request, *args, **kwargs)
        if not seconds or _results(response):
            return response
        # A long-poll (docs/streams.md): the answer waits, off this thread, for a new message of
        # the room (of the account without `room`), then is the page as it is then.
        room_id = None
        if (uuid := request.query_params.get("room")) is not None:
            rooms = Message._meta.get_field("room").related_model.objects
            room_id = rooms.filter(account=request.user, uuid=uuid).values_list("id").first()
            room_id = room_id[0] if room_id else None

        def answer():
            page = self.finalize_response(request, self._page(request, *args, **kwargs))
            return _content(page), _results(page)

        return wait_response(
            account_id=request.user.pk,
            room_id=room_id,
            seconds=seconds,
            answer=answer,
        )

    def _page(self, request, *args, **kwargs):
        # From the list fast path where it applies (docs/fast-lists.md), else DRF's own path.
        response = fast_lists.page(self)
        return response if response is not None else super().list(request, *args, **kwargs)

    def retrieve(self, request, *args, **kwargs):
        seconds = wait_param(request)
        message = self.get_object()
        response = Response(self.get_serializer(message).data)
        if not seconds or message.support_answer is not None:
            return response
        # A long-poll: waits, off this thread, for an answer (the bot's or a person's) in the
        # room; a message deleted meanwhile answers as it was.
        last = [self.finalize_response(request, Response(response.data))]

        def answer():
            found = self.get_queryset().filter(pk=message.pk).first()
            if found is not None:
                data = self.get_serializer(found).data
                last[0] = self.finalize_response(request, Response(data))
            return _content(last[0]), found is None or found.support_answer is not None

        return wait_response(
            account_id=request.user.pk, room_id=message.room_id, seconds=seconds, answer=answer
        )

    def perform_create(self, serializer):
        # The chat frontend waits for the bot's answer, unless the commit comes after the response
        # (an Idempotency-Key's transaction): then waiting would only delay it; the worker answers.
        answer = "background" if self.in_key_transaction() else "inline"
        serializer.instance = message_create(
            account=self.request.user, answer=answer, **serializer.validated_data
        )


def _content(response) -> bytes:
    if hasattr(response, "render"):
        response.render()
    return response.content


def _results(response) -> bool:
    """Whether a list answer holds any message (or is not a page at all: an error)."""
    if response.status_code != 200:
        return True
    data = getattr(response, "data", None)
    if data is None:
        data = json.loads(response.content)
    return bool(data["results"])
