from askhandle.api.serializers import ModelSerializer

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
