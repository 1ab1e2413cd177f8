import uuid

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import build_basic_type, build_object_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from askhandle.api.serializers import ModelSerializer
from askhandle.api.sql import select_one

from .models import Message


class RoomReferenceField(serializers.Field):
    """The message's room: `{"uuid": ...}` or a bare uuid on input, looked up in the requesting
    account only; `{"uuid", "label"}` on output.

    A room of another account is answered exactly like a missing one. The list fast path renders
    it from the room's `row_fields` (askhandle/api/fast_lists/rendering.py).
    """

    row_fields = ("uuid", "label")

    default_error_messages = {
        "required": "This field is required.",
        # Braces doubled: DRF formats error messages with str.format.
        "invalid": 'Expected a room object {{"uuid": "<room uuid>"}} or a room uuid string.',
        "invalid_uuid": "Must be a valid UUID.",
        "does_not_exist": 'Invalid room "{value}" - object does not exist.',
    }

    def to_internal_value(self, data):
        if isinstance(data, dict):
            data = data.get("uuid")
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            room_uuid = uuid.UUID(data)
        except ValueError:
            self.fail("invalid_uuid")
        # A written-out lookup: the ORM's compiler cost more than the query (askhandle/api/sql.py).
        # Messaging knows rooms only through its foreign key (rooms sit above it).
        room = select_one(
            Message._meta.get_field("room").related_model,
            account_id=self.context["request"].user.pk,
            uuid=room_uuid,
        )
        if room is None:
            self.fail("does_not_exist", value=room_uuid)
        return room

    def to_representation(self, room):
        return {"uuid": str(room.uuid), "label": room.label}


class RoomReferenceFieldSchema(OpenApiSerializerFieldExtension):
    target_class = RoomReferenceField

    def map_serializer_field(self, auto_schema, direction):
        uuid_schema = build_basic_type(OpenApiTypes.UUID)
        if direction == "response":
            return build_object_type(
                properties={"uuid": uuid_schema, "label": build_basic_type(OpenApiTypes.STR)},
                required=["uuid", "label"],
            )
        return {
            "oneOf": [
                build_object_type(properties={"uuid": uuid_schema}, required=["uuid"]),
                uuid_schema,
            ],
            "description": 'The room, as {"uuid": ...} or its uuid.',
        }


class AnswerSourceSerializer(serializers.Serializer):
    """One knowledge entry the bot's answer came from, as it was when answered (only its schema:
    the sources are stored on the message as this JSON)."""

    uuid = serializers.UUIDField(help_text="The knowledge entry's uuid.")
    question = serializers.CharField(help_text="Its question when the bot answered.")


@extend_schema_field(AnswerSourceSerializer(many=True))
class AnswerSourcesField(serializers.JSONField):
    """The stored list as it is (a plain JSON field for the list fast path too)."""


class MessageSerializer(ModelSerializer):
    room = RoomReferenceField()
    support_answer_sources = AnswerSourcesField(
        read_only=True,
        help_text="(Extension) The knowledge entries the bot answered from: the best entry for "
        "the built-in answerer, the entries given to the model for the LLM answerer; empty for "
        "a hand-off and for a message the bot has not answered.",
    )
    support_answer_confidence = serializers.FloatField(
        read_only=True,
        allow_null=True,
        help_text="(Extension) The bot's confidence in its best knowledge entry, 0 to 1 (for a "
        "hand-off, that of the best entry it found, below the threshold); null until the bot "
        "answers.",
    )

    class Meta:
        model = Message
        fields = [
            "uuid",
            "room",
            "body",
            "nickname",
            "email",
            "phone_number",
            "is_support_sender",
            "sent_at",
            "support_answer",
            "terminated",
            "support_answer_sources",
            "support_answer_confidence",
        ]
        read_only_fields = ["uuid", "sent_at", "support_answer", "terminated"]
