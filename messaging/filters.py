import django_filters
from django.db.models import Subquery
from rest_framework.exceptions import ValidationError

from askhandle.api.filters import DateBoundFilter

from .models import Message


class MessageFilter(django_filters.FilterSet):
    # Filtering within the account's own messages: another account's room simply matches none.
    room = django_filters.UUIDFilter(method="filter_room", help_text="A room's uuid.")
    start_date = DateBoundFilter(field_name="sent_at", bound="start")
    end_date = DateBoundFilter(field_name="sent_at", bound="end")
    # Extension (docs/streams.md): what a long-poll (`wait=`) waits for.
    after = django_filters.UUIDFilter(
        method="filter_after",
        help_text="(Extension) Only the messages of the same room added after this one (a "
        "message's uuid): with `wait=`, a long-poll for the next messages. Use it with `room`.",
    )

    class Meta:
        model = Message
        fields = ["room", "start_date", "end_date", "after"]

    def filter_room(self, queryset, name, value):
        # `room_id = (SELECT id ...)` rather than a join on the uuid: the planner then walks the
        # (room, sent_at, id) index backwards and stops after one page, however big the room.
        # The queryset is the account's already: another account's room matches nothing.
        # Messaging knows rooms only through its foreign key (rooms sit above it).
        rooms = Message._meta.get_field("room").related_model.objects
        return queryset.filter(room=Subquery(rooms.filter(uuid=value).values("id")))

    def filter_after(self, queryset, name, value):
        # Messages of a room are added one at a time (on PostgreSQL the insert locks the room
        # before the row takes its id: messaging/migrations/0006; SQLite has one writer): ids
        # follow the order they were committed in, so nothing committed later can have a smaller
        # id than one already seen.
        after = Message.objects.filter(account=self.request.user, uuid=value).values(
            "id", "room_id"
        )
        found = after.first()
        if found is None:
            raise ValidationError({"after": ["No such message."]})
        return queryset.filter(room_id=found["room_id"], id__gt=found["id"])
