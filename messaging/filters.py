import django_filters
from django.db.models import Subquery

from askhandle.api.filters import DateBoundFilter

from .models import Message


class MessageFilter(django_filters.FilterSet):
    # Filtering within the account's own messages: another account's room simply matches none.
    room = django_filters.UUIDFilter(method="filter_room", help_text="A room's uuid.")
    start_date = DateBoundFilter(field_name="sent_at", bound="start")
    end_date = DateBoundFilter(field_name="sent_at", bound="end")

    class Meta:
        model = Message
        fields = ["room", "start_date", "end_date"]

    def filter_room(self, queryset, name, value):
        # `room_id = (SELECT id ...)` rather than a join on the uuid: the planner then walks the
        # (room, sent_at, id) index backwards and stops after one page, however big the room.
        # The queryset is the account's already: another account's room matches nothing.
        # Messaging knows rooms only through its foreign key (rooms sit above it).
        rooms = Message._meta.get_field("room").related_model.objects
        return queryset.filter(room=Subquery(rooms.filter(uuid=value).values("id")))
