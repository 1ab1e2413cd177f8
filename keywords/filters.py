import django_filters

from askhandle.api.filters import DateBoundFilter

from .models import KeywordNotification


class KeywordNotificationFilter(django_filters.FilterSet):
    start_date = DateBoundFilter(field_name="created_at", bound="start")
    end_date = DateBoundFilter(field_name="created_at", bound="end")
    keyword = django_filters.CharFilter(
        field_name="keyword", lookup_expr="iexact", help_text="Only this keyword's."
    )
    room = django_filters.UUIDFilter(field_name="room__uuid", help_text="A room's uuid.")

    class Meta:
        model = KeywordNotification
        fields = ["start_date", "end_date", "keyword", "room"]
