from django.conf import settings
from rest_framework import pagination
from rest_framework.exceptions import ValidationError


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """`{count, next, previous, results}` on every list, `limit` 20 by default and clamped to
    `API_MAX_PAGE_SIZE`. Unlike DRF's default, a malformed `limit` or `offset` answers 400 rather
    than being silently replaced by the default, and an unordered queryset is a programming error.
    """

    default_limit = settings.REST_FRAMEWORK["PAGE_SIZE"]
    max_limit = settings.API_MAX_PAGE_SIZE

    def paginate_queryset(self, queryset, request, view=None):
        assert queryset.ordered, "List querysets must be ordered for stable pages."
        return super().paginate_queryset(queryset, request, view)

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
        return [limit, offset]
