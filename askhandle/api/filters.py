import datetime as dt

import django_filters
from django import forms
from django.utils.dateparse import parse_date, parse_datetime
from django_filters import utils
from django_filters.constants import EMPTY_VALUES
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field

from .counting import day_range_count


class DateOrDateTimeField(forms.Field):
    """`YYYY-MM-DD` (a whole UTC day) or a full ISO-8601 datetime (naive means UTC)."""

    default_error_messages = {
        "invalid": "Enter a date (YYYY-MM-DD) or an ISO 8601 datetime.",
    }

    def to_python(self, value):
        value = (value or "").strip()
        if not value:
            return None
        try:
            # A date first: datetime parsing would also take "2024-02-01" (as midnight).
            parsed = parse_date(value) or parse_datetime(value)
            if isinstance(parsed, dt.datetime):
                # Normalise to UTC here so that an out-of-range offset fails as bad input.
                parsed = (
                    parsed.replace(tzinfo=dt.UTC)
                    if parsed.tzinfo is None
                    else parsed.astimezone(dt.UTC)
                )
        except (ValueError, OverflowError):
            parsed = None
        if parsed is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return parsed


@extend_schema_field(
    {
        "type": "string",
        "description": "Inclusive. A date, YYYY-MM-DD (the whole UTC day), or an ISO 8601 "
        "datetime (without an offset: UTC).",
        "example": "2024-02-01",
    }
)
class DateBoundFilter(django_filters.Filter):
    """One inclusive end of a date range on a datetime column.

    `start`: from the start of the given UTC day (or from the exact datetime). `end`: through the
    end of the given UTC day (or up to and including the exact datetime).
    """

    field_class = DateOrDateTimeField

    def __init__(self, *, bound: str, **kwargs):
        assert bound in {"start", "end"}
        self.bound = bound
        super().__init__(**kwargs)

    def filter(self, qs, value):
        if value is None:
            return qs
        if isinstance(value, dt.datetime):
            lookup = "gte" if self.bound == "start" else "lte"
            return qs.filter(**{f"{self.field_name}__{lookup}": value})
        day_start = dt.datetime.combine(value, dt.time.min, tzinfo=dt.UTC)
        if self.bound == "start":
            return qs.filter(**{f"{self.field_name}__gte": day_start})
        if value == dt.date.max:  # through the last representable day: no upper bound
            return qs
        return qs.filter(**{f"{self.field_name}__lt": day_start + dt.timedelta(days=1)})


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, keeping the validated FilterSet on the view (`view.filterset`) so
    that pagination can ask it for an exact count without `COUNT(*)`.

    A request that uses none of the FilterSet's parameters (most list requests) gets the
    queryset as it is and an `Unfiltered` stand-in, skipping the FilterSet's form, which cost
    about a tenth of a list request; with no parameter every filter would return the rows
    unchanged anyway (tests/test_filters_unused.py)."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None and not filters_used(filterset_class, request):
            view.filterset = Unfiltered(filterset_class, queryset, request)
            return queryset
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid() and self.raise_exception:
            raise utils.translate_validation(filterset.errors)
        view.filterset = filterset
        return filterset.qs


def filters_used(filterset_class, request) -> bool:
    """Whether the request carries a parameter of any of the FilterSet's filters (as its form
    would read it: a widget may read several, e.g. `name_min`/`name_max`)."""
    data = request.query_params
    return any(
        not declared.field.widget.value_omitted_from_data(data, {}, name)
        for name, declared in filterset_class.base_filters.items()
    )


class Unfiltered:
    """What FilterBackend keeps for a request that uses no filter: the rows are the queryset."""

    def __init__(self, filterset_class, queryset, request):
        self.filterset_class, self.qs, self.request = filterset_class, queryset, request

    def exact_count(self):
        count = getattr(self.filterset_class, "exact_count_of", None)
        return None if count is None else count(request=self.request, rows=self.qs, data={})


class DayCountedFilterSet(django_filters.FilterSet):
    """A FilterSet whose rows are counted by day counters (askhandle.api.counting).

    `exact_count()` answers for the filters named in `counted_filters` only; with any other
    filter in use it answers None and the caller counts rows. A filter added later is therefore
    correct (if slower) until it is taught to the counters.
    """

    counted_filters = frozenset({"start_date", "end_date"})
    day_counts = None  # the DayCount model
    date_field = ""

    @classmethod
    def count_scope(cls, account, data):
        """The counters' scope for these filters (0: the whole account)."""
        return 0

    def exact_count(self):
        return self.exact_count_of(request=self.request, rows=self.qs, data=self.form.cleaned_data)

    @classmethod
    def exact_count_of(cls, *, request, rows, data):
        """The number of `rows` (the FilterSet's queryset for the cleaned `data`), or None."""
        used = {name for name, value in data.items() if value not in EMPTY_VALUES}
        if not used <= cls.counted_filters or request is None:
            return None
        account = request.user
        return day_range_count(
            rows=rows,
            counts=cls.day_counts,
            account=account,
            scope=cls.count_scope(account, data),
            field=cls.date_field,
            start=data.get("start_date"),
            end=data.get("end_date"),
        )
