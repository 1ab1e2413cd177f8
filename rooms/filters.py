from askhandle.api.filters import DateBoundFilter, DayCountedFilterSet

from .models import Room, RoomDayCount


class RoomFilter(DayCountedFilterSet):
    start_date = DateBoundFilter(field_name="created_at", bound="start")
    end_date = DateBoundFilter(field_name="created_at", bound="end")

    day_counts = RoomDayCount
    date_field = "created_at"

    class Meta:
        model = Room
        fields = ["start_date", "end_date"]
