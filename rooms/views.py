from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, viewsets

from askhandle.api import fast_lists
from askhandle.api.constants import LABEL_PATH_REGEX
from idempotency.decorators import IdempotentCreateMixin
from webhooks.models import EventType
from webhooks.streams import (
    STREAM_PARAMETERS,
    STREAM_RESPONSES,
    IgnoreClientContentNegotiation,
    event_stream,
    last_event_id,
)

from .filters import RoomFilter
from .models import Room
from .serializers import RoomSerializer
from .services import room_create, room_update


@extend_schema_view(
    list=extend_schema(
        description="All your rooms, newest first, each with its messages oldest first."
    ),
    create=extend_schema(
        description="Create a room. Every field is optional: a POST with no body at all creates "
        "a room with a generated `label`."
    ),
    retrieve=extend_schema(description="One of your rooms, by label, with its messages."),
    update=extend_schema(description="Update a room (fields left out keep their values)."),
    partial_update=extend_schema(description="Update some fields of a room."),
    destroy=extend_schema(description="Delete a room and its messages."),
)
class RoomViewSet(IdempotentCreateMixin, viewsets.ModelViewSet):
    serializer_class = RoomSerializer
    filterset_class = RoomFilter
    lookup_field = "label"
    lookup_value_regex = LABEL_PATH_REGEX

    def get_queryset(self):
        rooms = Room.objects.filter(account=self.request.user).order_by("-created_at", "-id")
        return rooms.with_messages()

    def list(self, request, *args, **kwargs):
        # From the list fast path where it applies (docs/fast-lists.md), else DRF's own path.
        response = fast_lists.page(self)
        return response if response is not None else super().list(request, *args, **kwargs)

    def perform_create(self, serializer):
        serializer.instance = room_create(account=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        room = room_update(room=serializer.instance, **serializer.validated_data)
        # Answered as read (DRF drops the instance's prefetched messages after an update).
        serializer.instance = self.get_queryset().get(pk=room.pk)


class RoomEventsView(generics.GenericAPIView):
    """`GET /api/v1/rooms/<label>/events/` (an extension): the room's messages, live, as
    Server-Sent Events (webhooks/streams.py, docs/streams.md)."""

    lookup_field = "label"
    content_negotiation_class = IgnoreClientContentNegotiation

    def get_queryset(self):
        return Room.objects.filter(account=self.request.user).only("id", "label")

    @extend_schema(
        operation_id="rooms_events",
        parameters=STREAM_PARAMETERS,
        responses=STREAM_RESPONSES,
        description="(Extension) The room's new messages, live, as Server-Sent Events: one "
        "`message` event per message added (the visitor's, the bot's, a person's), its `data` "
        "the message as the API renders it, its `id` a cursor.",
    )
    def get(self, request, label):
        room = self.get_object()
        return event_stream(
            account_id=request.user.pk,
            room_id=room.pk,
            types=(EventType.MESSAGE_ADDED,),
            event_name="message",
            after=last_event_id(request),
        )
