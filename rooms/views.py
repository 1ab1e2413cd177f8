from django.db.models import Prefetch
from rest_framework import viewsets

from askhandle.api.constants import LABEL_PATH_REGEX
from messaging.models import Message

from .filters import RoomFilter
from .models import Room
from .serializers import RoomSerializer
from .services import room_create, room_update


class RoomViewSet(viewsets.ModelViewSet):
    """All your rooms, newest first, each with its messages oldest first.

    `POST` with no body at all creates a room with a generated label.
    """

    serializer_class = RoomSerializer
    filterset_class = RoomFilter
    lookup_field = "label"
    lookup_value_regex = LABEL_PATH_REGEX

    def get_queryset(self):
        messages = Message.objects.order_by("sent_at", "id")
        return (
            Room.objects.filter(account=self.request.user)
            .prefetch_related(Prefetch("messages", queryset=messages))
            .order_by("-created_at", "-id")
        )

    def perform_create(self, serializer):
        serializer.instance = room_create(account=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        room_update(room=serializer.instance, **serializer.validated_data)
