import base64
import binascii
import datetime as dt
import json

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.utils.urls import replace_query_param


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """`{count, next, previous, results}` on every list, `limit` 20 by default and clamped to
    `API_MAX_PAGE_SIZE`. Unlike DRF's default, a malformed `limit` or `offset` answers 400 rather
    than being silently replaced by the default, and an unordered queryset is a programming error.

    Extension: `?cursor=` pages by keyset instead of offset (docs/api.md, "Cursor pagination"):
    the page after a cursor costs the same at any depth, where a deep `offset` scans every row
    it skips. An empty `cursor` starts at the top; `next` carries the cursor of the following
    page. Cursor pages go forward only (`previous` is null).
    """

    default_limit = settings.REST_FRAMEWORK["PAGE_SIZE"]
    max_limit = settings.API_MAX_PAGE_SIZE
    cursor_query_param = "cursor"

    def paginate_queryset(self, queryset, request, view=None):
        assert queryset.ordered, "List querysets must be ordered for stable pages."
        self.view = view
        self.cursor = self.get_cursor(request)
        if self.cursor is None:
            return super().paginate_queryset(queryset, request, view)
        if request.query_params.get(self.offset_query_param) is not None:
            raise ValidationError({self.cursor_query_param: ["Cannot be combined with offset."]})
        self.request = request
        self.limit = self.get_limit(request)
        self.offset = 0
        self.count = self.get_count(queryset)
        self.ordering = self._keyset_ordering(queryset)
        if self.cursor:
            queryset = queryset.filter(self._after(queryset, self.cursor))
        page = list(queryset[: self.limit + 1])
        self.next_cursor = None
        if len(page) > self.limit:
            page = page[: self.limit]
            self.next_cursor = [getattr(page[-1], name) for name, _ in self.ordering]
        return page

    # Keyset (cursor) pages.

    @staticmethod
    def _keyset_ordering(queryset):
        """[(field, descending)] of the queryset's ordering: the keyset."""
        ordering = []
        for item in queryset.query.order_by:
            assert isinstance(item, str), "Cursor pages need an ordering by field names."
            ordering.append((item.lstrip("-"), item.startswith("-")))
        assert len({desc for _, desc in ordering}) == 1, "Cursor pages need one direction."
        assert ordering[-1][0] in {"id", "pk"}, "The keyset must end with a unique field."
        return ordering

    def _after(self, queryset, cursor):
        """Rows strictly after the cursor, as `(a, b) < (x, y)` (for a descending order) spelled
        so that an index on (a, b) answers it with one range scan."""
        model = queryset.model
        try:
            values = [
                model._meta.get_field(name).to_python(raw)
                for (name, _), raw in zip(self.ordering, cursor, strict=True)
            ]
        except (ValueError, TypeError, DjangoValidationError):
            raise self._invalid_cursor() from None
        if any(value is None for value in values):
            raise self._invalid_cursor()
        condition = Q()
        for index in range(len(values) - 1, -1, -1):
            name, descending = self.ordering[index]
            beyond = Q(**{f"{name}__{'lt' if descending else 'gt'}": values[index]})
            condition = (
                beyond
                if index == len(values) - 1
                else beyond | (Q(**{name: values[index]}) & condition)
            )
        first, descending = self.ordering[0]
        return Q(**{f"{first}__{'lte' if descending else 'gte'}": values[0]}) & condition

    def _invalid_cursor(self):
        return ValidationError({self.cursor_query_param: ["Invalid cursor."]})

    def get_cursor(self, request):
        """None without `cursor`; [] for an empty one (the first page); else its values."""
        raw = request.query_params.get(self.cursor_query_param)
        if raw is None:
            return None
        if raw == "":
            return []
        try:
            values = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise self._invalid_cursor() from None
        if not isinstance(values, list) or not values:
            raise self._invalid_cursor()
        return values

    @staticmethod
    def encode_cursor(values) -> str:
        plain = [value.isoformat() if isinstance(value, dt.datetime) else value for value in values]
        raw = json.dumps(plain, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def get_next_link(self):
        if self.cursor is None:
            return super().get_next_link()
        if self.next_cursor is None:
            return None
        url = self.request.build_absolute_uri()
        url = replace_query_param(url, self.limit_query_param, self.limit)
        return replace_query_param(
            url, self.cursor_query_param, self.encode_cursor(self.next_cursor)
        )

    def get_previous_link(self):
        if self.cursor is None:
            return super().get_previous_link()
        return None

    # Parameters.

    @staticmethod
    def _param(request, name, *, minimum):
        raw = request.query_params.get(name)
        if raw is None:
            return None
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise ValidationError({name: ["A valid integer is required."]}) from None
        if value < minimum:
            raise ValidationError(
                {name: [f"Ensure this value is greater than or equal to {minimum}."]}
            )
        return value

    def get_limit(self, request):
        limit = self._param(request, self.limit_query_param, minimum=1)
        return self.default_limit if limit is None else min(limit, self.max_limit)

    def get_offset(self, request):
        return self._param(request, self.offset_query_param, minimum=0) or 0

    def get_schema_operation_parameters(self, view):
        limit, offset = super().get_schema_operation_parameters(view)
        limit["description"] = (
            f"Results per page: {self.default_limit} by default, at most {self.max_limit} "
            "(larger values are clamped)."
        )
        limit["schema"] |= {"minimum": 1}
        offset["description"] = "How many results to skip."
        offset["schema"] |= {"minimum": 0}
        cursor = {
            "name": self.cursor_query_param,
            "required": False,
            "in": "query",
            "description": "Extension: keyset pagination, as fast at any depth. Send it empty for "
            "the first page, then follow `next` (which carries the cursor of the following "
            "page; `previous` is null). Not combinable with `offset`.",
            "schema": {"type": "string"},
        }
        return [limit, offset, cursor]


class SequencePagination(LimitOffsetPagination):
    """Limit/offset (with the same 400s and clamping) over a list computed in Python, such as
    grouped results: no keyset to seek in, so `cursor` answers 400."""

    def paginate_queryset(self, queryset, request, view=None):
        if request.query_params.get(self.cursor_query_param) is not None:
            raise ValidationError({self.cursor_query_param: ["Not available on this list."]})
        self.cursor = None
        return pagination.LimitOffsetPagination.paginate_queryset(self, queryset, request, view)

    def get_schema_operation_parameters(self, view):
        return [
            p
            for p in super().get_schema_operation_parameters(view)
            if p["name"] != self.cursor_query_param
        ]
