import django_filters

from askhandle.api.filters import DateBoundFilter

from .models import Room


class RoomFilter(django_filters.FilterSet):
    start_date = DateBoundFilter(field_name="created_at", bound="start")
    end_date = DateBoundFilter(field_name="created_at", bound="end")

    class Meta:
        model = Room
        fields = ["start_date", "end_date"]
