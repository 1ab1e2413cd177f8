import django_filters

from askhandle.api.filters import DateBoundFilter

from .models import Message


class MessageFilter(django_filters.FilterSet):
    # Filtering within the account's own messages: another account's room simply matches none.
    room = django_filters.UUIDFilter(field_name="room__uuid", help_text="A room's uuid.")
    start_date = DateBoundFilter(field_name="sent_at", bound="start")
    end_date = DateBoundFilter(field_name="sent_at", bound="end")

    class Meta:
        model = Message
        fields = ["room", "start_date", "end_date"]
