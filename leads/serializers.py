from rest_framework import serializers

from askhandle.api.serializers import ModelSerializer
from rooms.serializers import RoomSerializer

from .models import Lead


class LeadSerializer(ModelSerializer):
    class Meta:
        model = Lead
        fields = [
            "uuid",
            "nickname",
            "email",
            "phone_number",
            "device",
            "from_page_title",
            "referrer",
            "created_at",
        ]
        read_only_fields = ["uuid", "created_at"]


class LeadExportSerializer(serializers.Serializer):
    """Everything held about a lead (`GET /leads/<uuid>/export/`)."""

    lead = LeadSerializer(read_only=True)
    rooms = RoomSerializer(
        many=True,
        read_only=True,
        help_text="The rooms whose messages carry the lead's email or phone number, newest "
        "first, each with its newest messages and `message_count` as in `GET /rooms/`; the "
        "rest of a room's messages page through `GET /messages/?room=<uuid>`.",
    )
    exported_at = serializers.DateTimeField(read_only=True)
