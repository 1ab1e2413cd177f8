import datetime as dt

import django_filters
from django import forms
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import extend_schema_field


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
