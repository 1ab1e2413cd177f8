import django_filters
from django.db.models import Subquery

from askhandle.api.filters import DateBoundFilter, DayCountedFilterSet
from rooms.models import Room

from .models import Message, MessageDayCount


class MessageFilter(DayCountedFilterSet):
    # Filtering within the account's own messages: another account's room simply matches none.
    room = django_filters.UUIDFilter(method="filter_room", help_text="A room's uuid.")
    start_date = DateBoundFilter(field_name="sent_at", bound="start")
    end_date = DateBoundFilter(field_name="sent_at", bound="end")

    counted_filters = frozenset({"room", "start_date", "end_date"})
    day_counts = MessageDayCount
    date_field = "sent_at"

    class Meta:
        model = Message
        fields = ["room", "start_date", "end_date"]

    def filter_room(self, queryset, name, value):
        # `room_id = (SELECT id ...)` rather than a join on the uuid: the planner then walks the
        # (room, sent_at, id) index backwards and stops after one page, however big the room.
        # The queryset is the account's already: another account's room matches nothing.
        return queryset.filter(room=Subquery(Room.objects.filter(uuid=value).values("id")))

    @classmethod
    def count_scope(cls, account, data):
        if data.get("room") is None:
            return 0
        # A room of another account (or none) has no counters: a count of 0, like its rows.
        return Subquery(Room.objects.filter(account=account, uuid=data["room"]).values("id"))
