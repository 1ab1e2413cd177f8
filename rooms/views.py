from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets

from askhandle.api.constants import LABEL_PATH_REGEX
from askhandle.api.page_cache import CachedListMixin
from idempotency.decorators import IdempotentCreateMixin
from messaging.models import Message
from messaging.room_messages import rendered_messages, with_messages_tokens

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
class RoomViewSet(CachedListMixin, IdempotentCreateMixin, viewsets.ModelViewSet):
    serializer_class = RoomSerializer
    filterset_class = RoomFilter
    lookup_field = "label"
    lookup_value_regex = LABEL_PATH_REGEX

    def get_queryset(self):
        rooms = Room.objects.filter(account=self.request.user).order_by("-created_at", "-id")
        if self.action in ("list", "retrieve"):
            return with_messages_tokens(rooms)  # their messages: paginate_queryset, get_object
        messages = Message.objects.order_by("sent_at", "id")
        return rooms.prefetch_related(Prefetch("messages", queryset=messages))

    def paginate_queryset(self, queryset):
        # A page of rooms can carry thousands of messages: each room's are rendered once per
        # change of them and kept; the others are fetched in one query and rendered from rows,
        # without a model instance each (what prefetch_related would build).
        page = super().paginate_queryset(queryset)
        rendered = rendered_messages(page)
        for room in page:
            room.rendered_messages = rendered[room.pk]
        return page

    def get_object(self):
        room = super().get_object()
        if self.action == "retrieve":
            room.rendered_messages = rendered_messages([room])[room.pk]
        return room

    def perform_create(self, serializer):
        serializer.instance = room_create(account=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        room_update(room=serializer.instance, **serializer.validated_data)
