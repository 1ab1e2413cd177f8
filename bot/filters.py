import django_filters

from askhandle.api.filters import DateBoundFilter

from .models import HandOff


class HandOffFilter(django_filters.FilterSet):
    """The knowledge gaps' date range: the hand-offs' times, as the other lists' created_at."""

    start_date = DateBoundFilter(field_name="created_at", bound="start")
    end_date = DateBoundFilter(field_name="created_at", bound="end")

    class Meta:
        model = HandOff
        fields = ["start_date", "end_date"]
