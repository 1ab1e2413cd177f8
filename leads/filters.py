from askhandle.api.filters import DateBoundFilter, DayCountedFilterSet

from .models import Lead, LeadDayCount


class LeadFilter(DayCountedFilterSet):
    start_date = DateBoundFilter(field_name="created_at", bound="start")
    end_date = DateBoundFilter(field_name="created_at", bound="end")

    day_counts = LeadDayCount
    date_field = "created_at"

    class Meta:
        model = Lead
        fields = ["start_date", "end_date"]
