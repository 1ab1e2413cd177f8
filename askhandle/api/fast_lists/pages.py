"""`page()`: a list view's page from the fast path, or None for DRF's own path."""

import logging

from django.conf import settings
from django.db import connections, router
from django.db.models import Subquery
from django.http import HttpResponse
from django.utils.cache import patch_vary_headers
from django_filters import utils as filter_utils
from django_filters.constants import EMPTY_VALUES
from django_filters.rest_framework import DjangoFilterBackend

from askhandle.api.compression import gzip_accepted
from askhandle.api.filters import DateBoundFilter

from . import triggers
from .cache import Cache
from .counting import day_range_count
from .models import DataVersion
from .registry import Listed
from .registry import listed as listed_of
from .rendering import plan_for

logger = logging.getLogger(__name__)

pages = Cache(settings.API_PAGE_CACHE_BYTES)
fragments = Cache(settings.API_ROOM_MESSAGES_CACHE_BYTES)

# Per database alias: whether its triggers were found as declared (checked once per process).
_trusted: dict[str, bool] = {}


def trusted(connection) -> bool:
    """Whether this database has the declared triggers: checked once per process, so that a
    database whose triggers went missing (a table rebuilt by hand, a restore without them) is
    answered exactly, without counters or caches, until `migrate` puts them back."""
    alias = connection.alias
    if alias not in _trusted:
        found = triggers.problems(connection) if triggers.supported(connection) else ["SQLite"]
        if found and triggers.supported(connection):
            logger.error("Fast lists off: %s. Run `manage.py migrate`.", "; ".join(found))
        _trusted[alias] = not found
    return _trusted[alias]


def forget_checks() -> None:
    """Check the triggers again at the next page (after they were installed again)."""
    _trusted.clear()


class _Counted:
    """The rows, with their count known already: what the paginator counts and slices."""

    def __init__(self, rows, count: int):
        self._rows, self._count = rows, count

    def count(self) -> int:
        return self._count

    def __getitem__(self, item):
        return self._rows[item]

    def __getattr__(self, name):
        return getattr(self._rows, name)


def page(view) -> HttpResponse | None:
    """The page of `view` (a DRF list view), rendered from rows and counted from the day
    counters, kept per process under the account's data version; None where the fast path does
    not apply (SQLite, a model not registered, a format other than compact JSON, other filter
    backends): then the view takes DRF's path. The view's `get_queryset()` is called only when
    the page is not kept."""
    request = view.request
    serializer_class = view.get_serializer_class()
    listed = listed_of(serializer_class.Meta.model)
    renderer = getattr(request, "accepted_renderer", None)
    if (
        listed is None
        or renderer is None
        or renderer.format != "json"
        or "indent" in request.accepted_media_type
        or any(not issubclass(b, DjangoFilterBackend) for b in view.filter_backends)
    ):
        return None
    connection = connections[router.db_for_read(listed.model)]
    if not trusted(connection):
        return None
    account_id = request.user.pk
    token = _data_version(connection, account_id)
    key = None
    if token is not None and pages.max_bytes:
        # The URL (scheme, host and query string included) fixes the page and its links.
        key = (type(view).__name__, account_id, token, request.build_absolute_uri())
        entry = pages.get(key)
        if entry is not None:
            return _response(request, renderer, entry.content, key, entry)
    queryset = view.get_queryset()
    if queryset.model is not listed.model:
        return None
    rows, cleaned = _filtered(view, request, queryset)
    count = _count(listed, view.filterset_class, rows, cleaned, account_id)
    plan = plan_for(serializer_class)
    values = plan.rows(rows)
    paginator = view.paginator
    found = paginator.paginate_queryset(
        values if count is None else _Counted(values, count), request, view=view
    )
    if found is None:
        return None
    data = plan.render(
        found,
        renderer=renderer,
        fragments=fragments,
        prefetches=queryset._prefetch_related_lookups,
    )
    content = renderer.render(
        paginator.get_paginated_response(data).data,
        renderer.media_type,
        view.get_renderer_context(),
    )
    if key is not None:
        pages.put(key, content)
    return _response(request, renderer, content, key, None)


def _response(request, renderer, content: bytes, key, entry) -> HttpResponse:
    response = HttpResponse(content, content_type=renderer.media_type)
    if key is not None and gzip_accepted(request.META.get("HTTP_ACCEPT_ENCODING", "")):
        # A kept page is compressed once, not per request; GZipMiddleware leaves an answer that
        # has a Content-Encoding alone.
        entry = entry or pages.get(key)
        compressed = pages.gzipped(key, entry) if entry is not None else None
        if compressed:
            response.content = compressed
            response.headers["Content-Length"] = str(len(compressed))
            response.headers["Content-Encoding"] = "gzip"
            patch_vary_headers(response, ("Accept-Encoding",))
    return response


_VERSION_SQL = f"SELECT token FROM {DataVersion._meta.db_table} WHERE account_id = %s"


def _data_version(connection, account_id: int):
    # Written out: the ORM's compiler cost more than the query (docs/performance.md).
    with connection.cursor() as cursor:
        cursor.execute(_VERSION_SQL, [account_id])
        row = cursor.fetchone()
    return None if row is None else row[0]


def _filtered(view, request, queryset):
    """(the filtered rows, the FilterSet's cleaned data), as DjangoFilterBackend filters them;
    a request that uses none of the FilterSet's parameters (most list requests) skips its form,
    which cost about a tenth of a list request (every filter would return the rows unchanged)."""
    filterset_class = getattr(view, "filterset_class", None)
    if filterset_class is None or not _filters_used(filterset_class, request):
        return queryset, {}
    filterset = filterset_class(request.query_params, queryset=queryset, request=request)
    if not filterset.is_valid():
        raise filter_utils.translate_validation(filterset.errors)
    return filterset.qs, filterset.form.cleaned_data


def _filters_used(filterset_class, request) -> bool:
    """Whether the request carries a parameter of any of the FilterSet's filters (as its form
    would read it: a widget may read several, e.g. `name_min`/`name_max`)."""
    data = request.query_params
    return any(
        not declared.field.widget.value_omitted_from_data(data, {}, name)
        for name, declared in filterset_class.base_filters.items()
    )


def _count(listed: Listed, filterset_class, rows, cleaned, account_id):
    """The rows' exact number from the counters, or None (the paginator counts them) when a
    filter is in use that the counters do not know."""
    start = end = None
    scope = 0
    for name, value in cleaned.items():
        if value in EMPTY_VALUES:
            continue
        declared = filterset_class.base_filters[name]
        if isinstance(declared, DateBoundFilter) and declared.field_name == listed.time_field:
            if declared.bound == "start":
                start = value
            else:
                end = value
        elif name in listed.scopes and scope == 0:
            # A target of another account (or none) has no counters: 0, like its rows.
            target = listed.model._meta.get_field(name).related_model
            scope = target._default_manager.filter(
                account_id=account_id, **{listed.scopes[name]: value}
            ).values("pk")
        else:
            return None
    if not isinstance(scope, int):
        scope = Subquery(scope[:1])
    return day_range_count(
        listed=listed, rows=rows, account_id=account_id, scope=scope, start=start, end=end
    )
