from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, mixins, viewsets
from rest_framework.response import Response

from askhandle.api.pagination import SequencePagination
from rooms.models import Room
from rooms.serializers import RoomSerializer

from .filters import HandOffFilter
from .models import HandOff
from .selectors import MAX_HAND_OFFS, knowledge_gaps
from .serializers import KnowledgeGapSerializer
from .services import room_hand_back


@extend_schema_view(
    list=extend_schema(
        description="(Extension) The questions your bot handed to a person, grouped when they "
        "ask the same thing (by meaning), newest first: what your knowledge should answer next. "
        f"The newest {MAX_HAND_OFFS} hand-offs in the date range are grouped."
    ),
)
class KnowledgeGapViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = KnowledgeGapSerializer
    filterset_class = HandOffFilter
    pagination_class = SequencePagination

    def get_queryset(self):
        return HandOff.objects.filter(account=self.request.user).order_by("-created_at", "-id")

    def list(self, request, *args, **kwargs):
        gaps = knowledge_gaps(hand_offs=self.filter_queryset(self.get_queryset()))
        page = self.paginate_queryset(gaps)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


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
        # Rendered as the rooms API renders it (bounded messages, message_count).
        return Response(self.get_serializer(Room.objects.with_messages().get(pk=room.pk)).data)
