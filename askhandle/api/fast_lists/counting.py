"""Exact counts of a list from the day counters (triggers.py) instead of `COUNT(*)`, which grows
with the table: a sum over at most one row per day of history, plus, only for a bound given as a
datetime inside a day, a real count of that day's rows."""

import datetime as dt

from django.db import connections
from django.db.models import Count, Q, Subquery, Sum
from django.db.models.functions import Coalesce

from .models import DayCount
from .registry import Listed


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def _counter_sum(alias, table: str, account_id: int, scope: int, first_day, last_day) -> int:
    """`SUM(n)` of one account's counters over a range of days, written out: the query of nearly
    every list, and Django's compiler spent about ten times the query's own time on the ORM
    spelling. tests/test_exact_counts.py holds it equal to real counts."""
    connection = connections[alias]
    conditions = ["table_name = %s", "account_id = %s", "scope = %s"]
    params = [table, account_id, scope]
    for day, operator in ((first_day, ">="), (last_day, "<=")):
        if day is not None:
            conditions.append(f"day {operator} %s")
            params.append(connection.ops.adapt_datefield_value(day))
    sql = (
        f"SELECT COALESCE(SUM(n), 0) FROM {DayCount._meta.db_table} "
        f"WHERE {' AND '.join(conditions)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.fetchone()[0])


def day_range_count(*, listed: Listed, rows, account_id, scope, start=None, end=None) -> int:
    """The exact number of `rows` (the account's filtered rows, date bounds included) from the
    counters of `scope` (0, or a subquery giving one). `start`/`end` are the cleaned date
    filters: a date (a whole UTC day, inclusive), an aware datetime (exact, inclusive), or None.
    Whole days inside the range are summed from the counters; a datetime bound's own day is
    counted in `rows`, so the answer is exact however the range is cut."""
    field = listed.time_field
    edges = Q()
    if isinstance(start, dt.datetime):
        first_full = start.date() if start == _midnight(start.date()) else None
        if first_full is None:
            first_full = start.date() + dt.timedelta(days=1)
            edges |= Q(**{f"{field}__lt": _midnight(first_full)})
    else:
        first_full = start
    if isinstance(end, dt.datetime):
        last_full = end.date() - dt.timedelta(days=1)
        edges |= Q(**{f"{field}__gte": _midnight(end.date())})
    elif end == dt.date.max:
        last_full = None
    else:
        last_full = end
    if not edges and isinstance(scope, int):
        return _counter_sum(rows.db, listed.table, account_id, scope, first_full, last_full)
    counts = DayCount.objects.using(rows.db).filter(
        table_name=listed.table, account_id=account_id, scope=scope
    )
    if first_full is not None:
        counts = counts.filter(day__gte=first_full)
    if last_full is not None:
        counts = counts.filter(day__lte=last_full)
    if not edges:
        return int(counts.aggregate(n=Coalesce(Sum("n"), 0))["n"])
    # Whole days from the counters plus the cut days' rows, in one query.
    edge_rows = (
        rows.filter(edges)
        .order_by()
        .values("account_id")
        .annotate(edge_count=Count("pk"))
        .values("edge_count")
    )
    total = counts.aggregate(n=Coalesce(Sum("n"), 0) + Coalesce(Subquery(edge_rows), 0))["n"]
    return int(total)
