from rest_framework import serializers

from askhandle.api.serializers import ModelSerializer
from messaging.serializers import MessageSerializer, RoomReferenceField

from .models import HandOff


class HandOffSerializer(ModelSerializer):
    """The `data` of the `chat.handed_off` webhook event."""

    room = RoomReferenceField(read_only=True)
    message = MessageSerializer(read_only=True, help_text="The visitor message handed off.")
    reason = serializers.CharField(read_only=True)

    class Meta:
        model = HandOff
        fields = ["room", "message", "reason", "created_at"]
        read_only_fields = fields


class GapQuestionSerializer(serializers.Serializer):
    """One handed-off visitor message of a knowledge gap (bot.selectors.Question)."""

    body = serializers.CharField(read_only=True, help_text="The visitor's question.")
    message = serializers.UUIDField(
        source="message.uuid", read_only=True, help_text="The visitor message's uuid."
    )
    room = RoomReferenceField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True, help_text="When it was handed off.")


class KnowledgeGapSerializer(serializers.Serializer):
    """A knowledge gap (bot.selectors.Gap): handed-off questions that ask the same thing."""

    question = serializers.CharField(
        read_only=True, help_text="The newest of its questions, standing for the group."
    )
    count = serializers.IntegerField(read_only=True, help_text="How many hand-offs it groups.")
    latest_at = serializers.DateTimeField(read_only=True, help_text="The newest hand-off's time.")
    first_at = serializers.DateTimeField(read_only=True, help_text="The oldest hand-off's time.")
    room = RoomReferenceField(read_only=True, help_text="The newest question's room.")
    message = serializers.UUIDField(
        source="message.uuid", read_only=True, help_text="The newest question's message uuid."
    )
    questions = GapQuestionSerializer(
        many=True,
        read_only=True,
        help_text="Its questions, newest first (at most 20; `count` has them all).",
    )
