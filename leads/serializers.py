from rest_framework import serializers

from askhandle.api.serializers import ModelSerializer, datetime_json
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

    def to_representation(self, instance):
        # Written out, like messaging's message_representation (tests/test_representations.py).
        return {
            "uuid": str(instance.uuid),
            "nickname": instance.nickname,
            "email": instance.email,
            "phone_number": instance.phone_number,
            "device": instance.device,
            "from_page_title": instance.from_page_title,
            "referrer": instance.referrer,
            "created_at": datetime_json(instance.created_at),
        }


class LeadExportSerializer(serializers.Serializer):
    """Everything held about a lead (`GET /leads/<uuid>/export/`)."""

    lead = LeadSerializer(read_only=True)
    rooms = RoomSerializer(
        many=True,
        read_only=True,
        help_text="The rooms whose messages carry the lead's email or phone number, newest "
        "first, each with all its messages.",
    )
    exported_at = serializers.DateTimeField(read_only=True)
