import django_filters
from django.db.models import Case, IntegerField, When
from rest_framework.exceptions import ValidationError

from askhandle.api.filters import DateBoundFilter

from .models import KnowledgeEntry
from .search import knowledge_search

SEARCH_RESULTS = 100


class KnowledgeEntryFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=1000,
        help_text="Full-text search, the way the bot searches: best match first (at most "
        f"{SEARCH_RESULTS} results).",
    )
    start_date = DateBoundFilter(field_name="created_at", bound="start")
    end_date = DateBoundFilter(field_name="created_at", bound="end")

    class Meta:
        model = KnowledgeEntry
        fields = ["search", "start_date", "end_date"]

    def filter_search(self, queryset, name, value):
        if self.request.query_params.get("cursor") is not None:
            # Cursor pages follow a column order; search results are ordered by relevance.
            raise ValidationError({"cursor": ["Cannot be combined with search."]})
        matches = knowledge_search(
            account_id=self.request.user.pk, text=value, limit=SEARCH_RESULTS
        )
        ids = [match.entry.pk for match in matches]
        relevance = Case(
            *(When(pk=pk, then=position) for position, pk in enumerate(ids)),
            output_field=IntegerField(),
        )
        return queryset.filter(pk__in=ids).order_by(relevance) if ids else queryset.none()
