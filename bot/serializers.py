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
