import uuid

from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import build_basic_type, build_object_type
from drf_spectacular.types import OpenApiTypes
from rest_framework import serializers

from askhandle.api.serializers import ModelSerializer, datetime_json
from askhandle.api.sql import select_one
from rooms.models import Room

from .models import Message


class RoomReferenceField(serializers.Field):
    """The message's room: `{"uuid": ...}` or a bare uuid on input, looked up in the requesting
    account only; `{"uuid", "label"}` on output.

    A room of another account is answered exactly like a missing one.
    """

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
        room = select_one(Room, account_id=self.context["request"].user.pk, uuid=room_uuid)
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


class MessageSerializer(ModelSerializer):
    room = RoomReferenceField()

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
        ]
        read_only_fields = ["uuid", "sent_at", "support_answer", "terminated"]

    def to_representation(self, instance):
        return message_representation(instance)


def message_representation(message: Message) -> dict:
    """What MessageSerializer's fields render, written out: on a list, DRF's field-by-field
    rendering (and building the fields on every request) cost more than the queries.
    tests/test_representations.py holds the two equal."""
    return _message_dict(message, room_uuid=message.room.uuid, room_label=message.room.label)


def _message_dict(message, *, room_uuid, room_label) -> dict:
    # `message` is a Message or a row of LIST_ROW_FIELDS: both have these attributes.
    return {
        "uuid": str(message.uuid),
        "room": {"uuid": str(room_uuid), "label": room_label},
        "body": message.body,
        "nickname": message.nickname,
        "email": message.email,
        "phone_number": message.phone_number,
        "is_support_sender": message.is_support_sender,
        "sent_at": datetime_json(message.sent_at),
        "support_answer": message.support_answer,
        "terminated": message.terminated,
    }


# A page of the messages list, as rows (messaging.views): the fields message_representation
# reads, the room's through the join select_related would make, and `id` for the cursor.
LIST_ROW_FIELDS = (
    "id",
    "uuid",
    "room__uuid",
    "room__label",
    "body",
    "nickname",
    "email",
    "phone_number",
    "is_support_sender",
    "sent_at",
    "support_answer",
    "terminated",
)


def message_row_representation(row) -> dict:
    """message_representation of a named row of LIST_ROW_FIELDS: a list page without model
    instances (building them was a third of the page's cost). tests/test_representations.py
    holds the two equal."""
    return _message_dict(row, room_uuid=row.room__uuid, room_label=row.room__label)


_ROW_FIELDS = (
    "room_id",
    "uuid",
    "body",
    "nickname",
    "email",
    "phone_number",
    "is_support_sender",
    "sent_at",
    "support_answer",
    "terminated",
)


def messages_by_room(rooms) -> dict[int, list[dict]]:
    """The rendered messages of these rooms, oldest first, by room id: one query and no model
    instances, since a page of rooms can carry thousands of messages. Renders exactly what
    message_representation does (tests/test_representations.py)."""
    by_room = {room.pk: [] for room in rooms}
    if not by_room:
        return by_room
    refs = {room.pk: {"uuid": str(room.uuid), "label": room.label} for room in rooms}
    tz = timezone.get_current_timezone()
    rows = (
        Message.objects.filter(room__in=list(by_room))
        .order_by("sent_at", "id")
        .values_list(*_ROW_FIELDS)
    )
    for room_id, uuid_, body, nickname, email, phone, support, sent_at, answer, ended in rows:
        by_room[room_id].append(
            {
                "uuid": str(uuid_),
                "room": refs[room_id],
                "body": body,
                "nickname": nickname,
                "email": email,
                "phone_number": phone,
                "is_support_sender": support,
                "sent_at": datetime_json(sent_at, tz),
                "support_answer": answer,
                "terminated": ended,
            }
        )
    return by_room
