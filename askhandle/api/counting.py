"""Exact list counts that stay cheap as tables grow: per-day counters kept by database triggers.

`COUNT(*)` over an account's rows costs time linear in the rows, and on a paginated list it is most
of the request. Instead, each counted table has a companion table of `(account, scope, day) -> n`
rows, maintained by triggers in the same transaction as the rows themselves, so every writer is
covered: the API, `message_create`, the admin, cascades (deleting a room deletes its messages),
bulk `QuerySet.delete()` and raw SQL. A count is then a sum over at most one row per day of history
(per room for a room filter), plus, only for a bound given as a datetime inside a day, a real count
of the rows of that boundary day.

`scope` is 0 for "the whole account"; a table may also keep counts per value of another column (the
messages' room), stored as that value.

After loading rows with triggers disabled (`pg_restore --disable-triggers`, the benchmark's seed),
or a `TRUNCATE` of a counted table alone (it fires no row triggers), run `manage.py rebuild_counts`.
"""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import connections, models, router
from django.db.models import Count, Q, Subquery, Sum
from django.db.models.functions import Coalesce


class DayCount(models.Model):
    """How many rows of the counted table one account has on one UTC day (in one scope)."""

    # No constraint and no cascade: the counters follow the rows only through the triggers.
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,  # the unique (account, scope, day) index serves every lookup
        related_name="+",
    )
    scope = models.BigIntegerField(default=0)
    day = models.DateField()
    n = models.IntegerField(default=0)

    class Meta:
        abstract = True


@dataclass(frozen=True)
class CountedTable:
    """A table whose rows are counted per account and UTC day of `time_column`."""

    table: str
    counts: str
    time_column: str
    # Columns whose values also get their own counters (scope = the column's value).
    scope_columns: tuple[str, ...] = ()

    def _day(self, vendor: str, row: str) -> str:
        if vendor == "postgresql":
            return f"({row}.{self.time_column} AT TIME ZONE 'UTC')::date"
        return f"date({row}.{self.time_column})"

    def _scopes(self, row: str) -> list[str]:
        return ["0", *(f"{row}.{column}" for column in self.scope_columns)]

    def _increment(self, vendor: str) -> str:
        values = ", ".join(
            f"(NEW.account_id, {scope}, {self._day(vendor, 'NEW')}, 1)"
            for scope in self._scopes("NEW")
        )
        return (
            f"INSERT INTO {self.counts} (account_id, scope, day, n) VALUES {values} "
            f"ON CONFLICT (account_id, scope, day) DO UPDATE SET n = {self.counts}.n + 1;"
        )

    def _decrement(self, vendor: str) -> str:
        return (
            f"UPDATE {self.counts} SET n = n - 1 WHERE account_id = OLD.account_id "
            f"AND scope IN ({', '.join(self._scopes('OLD'))}) AND day = {self._day(vendor, 'OLD')};"
        )

    def _tracked_columns(self) -> list[str]:
        return ["account_id", self.time_column, *self.scope_columns]

    def install_sql(self, vendor: str) -> list[str]:
        changed = " OR ".join(
            f"OLD.{column} IS DISTINCT FROM NEW.{column}"
            if vendor == "postgresql"
            else f"OLD.{column} IS NOT NEW.{column}"
            for column in self._tracked_columns()
        )
        columns = ", ".join(self._tracked_columns())
        if vendor == "postgresql":
            function = f"{self.counts}_track"
            return [
                f"""
                CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP <> 'INSERT' THEN {self._decrement(vendor)} END IF;
                    IF TG_OP <> 'DELETE' THEN {self._increment(vendor)} END IF;
                    RETURN NULL;
                END $$;
                """,
                f"CREATE TRIGGER {self.counts}_insert_delete AFTER INSERT OR DELETE "
                f"ON {self.table} FOR EACH ROW EXECUTE FUNCTION {function}();",
                f"CREATE TRIGGER {self.counts}_update AFTER UPDATE OF {columns} "
                f"ON {self.table} FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION {function}();",
            ]
        if vendor == "sqlite":
            return [
                f"CREATE TRIGGER {self.counts}_insert AFTER INSERT ON {self.table} "
                f"BEGIN {self._increment(vendor)} END;",
                f"CREATE TRIGGER {self.counts}_delete AFTER DELETE ON {self.table} "
                f"BEGIN {self._decrement(vendor)} END;",
                f"CREATE TRIGGER {self.counts}_update AFTER UPDATE OF {columns} "
                f"ON {self.table} WHEN {changed} "
                f"BEGIN {self._decrement(vendor)} {self._increment(vendor)} END;",
            ]
        raise NotImplementedError(f"No day-count triggers for {vendor}.")

    def uninstall_sql(self, vendor: str) -> list[str]:
        if vendor == "postgresql":
            return [f"DROP FUNCTION IF EXISTS {self.counts}_track() CASCADE;"]
        return [
            f"DROP TRIGGER IF EXISTS {self.counts}_{event};"
            for event in ("insert", "delete", "update")
        ]

    def rebuild_sql(self, vendor: str) -> list[str]:
        day = self._day(vendor, self.table)
        selects = " UNION ALL ".join(
            f"SELECT account_id, {scope}, {day}, COUNT(*) FROM {self.table} GROUP BY 1, 2, 3"
            for scope in self._scopes(self.table)
        )
        return [
            f"DELETE FROM {self.counts};",
            f"INSERT INTO {self.counts} (account_id, scope, day, n) {selects};",
        ]


def run_sql(schema_editor, statements):
    for statement in statements:
        schema_editor.execute(statement)


def install_operations(counted: CountedTable):
    """Migration operations: triggers, then counters for the rows already there."""
    from django.db import migrations

    def forward(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        run_sql(schema_editor, counted.install_sql(vendor))
        run_sql(schema_editor, counted.rebuild_sql(vendor))

    def backward(apps, schema_editor):
        run_sql(schema_editor, counted.uninstall_sql(schema_editor.connection.vendor))

    return [migrations.RunPython(forward, backward, elidable=False)]


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def _counter_sum(counts, account_id: int, scope: int, first_day, last_day) -> int:
    """`SUM(n)` of one account's counters in one scope over a range of days: the query of nearly
    every list, written out (Django's compiler spent about ten times the query's own time on the
    ORM spelling). The same rows as the ORM path below; tests/test_exact_counts.py holds both
    equal to real counts."""
    connection = connections[router.db_for_read(counts)]
    quote, meta = connection.ops.quote_name, counts._meta
    conditions = [f"{quote(meta.get_field('account').column)} = %s", "scope = %s"]
    params = [account_id, scope]
    for day, operator in ((first_day, ">="), (last_day, "<=")):
        if day is not None:
            conditions.append(f"day {operator} %s")
            params.append(connection.ops.adapt_datefield_value(day))
    sql = f"SELECT COALESCE(SUM(n), 0) FROM {quote(meta.db_table)} WHERE {' AND '.join(conditions)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.fetchone()[0])


def day_range_count(*, rows, counts, account, scope, field: str, start=None, end=None) -> int:
    """The exact number of `rows`, from the day counters (the DayCount model `counts`) of
    `account` in `scope` (0, a room id, or a subquery giving one).

    `rows` is the filtered queryset itself (date bounds included); `start`/`end` are the cleaned
    date filters: a date (whole UTC day, inclusive), an aware datetime (exact, inclusive), or None.
    Whole days inside the range are summed from the counters; a datetime bound's own day is
    counted in `rows`, so the answer is exact however the range is cut.
    """
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
        return _counter_sum(counts, account.pk, scope, first_full, last_full)
    counts = counts.objects.filter(account=account, scope=scope)
    if first_full is not None:
        counts = counts.filter(day__gte=first_full)
    if last_full is not None:
        counts = counts.filter(day__lte=last_full)
    if not edges:
        total = counts.aggregate(n=Coalesce(Sum("n"), 0))["n"]
        return int(total)
    # Whole days from the counters plus the cut days' rows, in one query.
    edge_rows = (
        rows.filter(edges)
        .order_by()
        .values("account_id")
        .annotate(edge_count=Count("pk"))
        .values("edge_count")
    )
    total = counts.aggregate(
        n=Coalesce(Sum("n"), 0) + Coalesce(Subquery(edge_rows), 0),
    )["n"]
    return int(total)
