from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response

from messaging.models import Message
from rooms.models import Room
from rooms.serializers import RoomSerializer

from .services import room_hand_back


class RoomHandBackView(generics.GenericAPIView):
    """`POST /api/v1/rooms/<label>/hand_back/` (an extension): give a conversation back to the
    bot, as the admin's "Hand back to the bot" does (bot.services.room_hand_back)."""

    serializer_class = RoomSerializer
    lookup_field = "label"

    def get_queryset(self):
        return Room.objects.filter(account=self.request.user)

    @extend_schema(
        operation_id="rooms_hand_back",
        request=None,
        responses=RoomSerializer,
        description="Hand the room back to the bot (an extension): the bot answers the visitor's "
        "next messages again (`is_bot_use` true) and the room's open hand-offs are resolved. "
        "Answers the room. Handing back a room whose bot is on changes nothing.",
    )
    def post(self, request, label):
        room = room_hand_back(room=self.get_object())
        messages = Message.objects.order_by("sent_at", "id")  # oldest first, as the rooms API
        rooms = Room.objects.prefetch_related(Prefetch("messages", queryset=messages))
        return Response(self.get_serializer(rooms.get(pk=room.pk)).data)
