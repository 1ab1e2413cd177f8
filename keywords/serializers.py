from rest_framework import serializers

from askhandle.api.serializers import ModelSerializer
from messaging.serializers import MessageSerializer, RoomReferenceField

from .models import Keyword, KeywordNotification


class KeywordSerializer(ModelSerializer):
    keyword = serializers.CharField(
        max_length=100, help_text="A word or phrase; matched case-insensitively, as whole words."
    )

    class Meta:
        model = Keyword
        fields = ["uuid", "keyword", "created_at"]
        read_only_fields = ["uuid", "created_at"]

    def validate_keyword(self, value):
        if not any(c.isalnum() for c in value):
            raise serializers.ValidationError("A keyword needs at least one letter or digit.")
        return value


class KeywordNotificationSerializer(ModelSerializer):
    message = MessageSerializer(read_only=True)
    room = RoomReferenceField(read_only=True)

    class Meta:
        model = KeywordNotification
        fields = ["uuid", "keyword", "message", "room", "created_at"]
        read_only_fields = fields
