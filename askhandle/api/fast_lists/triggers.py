"""The triggers behind the fast path, declared once (from the registry), on PostgreSQL only.

Three families keep the fast path's tables (models.py) in step with the listed tables, in the
writer's own transaction, whoever writes (the API, the admin, cascades, raw SQL):
- the account's data version, replaced when any of its listed rows is inserted, updated or
  deleted: a deferred constraint trigger, so the replacement happens at commit, as the last lock a
  writing transaction takes (no lock-order deadlock with the row locks taken before it);
- day counters per account, scope and UTC day, for exact counts without `COUNT(*)`;
- group versions (a room's messages), also deferred, replaced when a row of the group changes or
  the group's own row does.

Installed after every `migrate` (apps.py), verified by a system check (checks.py) and once per
process before the fast path trusts them (pages.py). `install()` compares what is in the database
with this declaration (trigger names and a digest of the SQL kept as the data-version function's
comment); when anything differs it drops every function of ours, creates them all again and
recomputes the counters and versions from the rows, in one transaction.

SQLite has none of this: the embedded default counts with `COUNT(*)` and caches nothing, so a
table rebuilt by a migration (SQLite alters tables by copying them, which drops triggers) can
never leave a list wrong.
"""

import hashlib

from django.db import transaction

from .models import DataVersion, DayCount, GroupVersion
from .registry import Listed, all_listed

PREFIX = "fast_lists_"
VERSION_FUNCTION = f"{PREFIX}data_version"
TOKEN = "(random() * 9007199254740991)::bigint"  # 53 random bits: a double's precision

VERSIONS = DataVersion._meta.db_table
GROUPS = GroupVersion._meta.db_table
COUNTS = DayCount._meta.db_table


def supported(connection) -> bool:
    return connection.vendor == "postgresql"


def _bump_account(row: str) -> str:
    return (
        f"INSERT INTO {VERSIONS} (account_id, token) VALUES ({row}.account_id, {TOKEN}) "
        "ON CONFLICT (account_id) DO UPDATE SET token = excluded.token;"
    )


def _bump_group(table: str, group: str) -> str:
    return (
        f"INSERT INTO {GROUPS} (table_name, group_id, token) VALUES ('{table}', {group}, {TOKEN}) "
        "ON CONFLICT (table_name, group_id) DO UPDATE SET token = excluded.token;"
    )


def _day(listed: Listed, row: str) -> str:
    return f"({row}.{listed.column(listed.time_field)} AT TIME ZONE 'UTC')::date"


def _count_change(listed: Listed, row: str, delta: int) -> str:
    values = ", ".join(
        f"('{listed.table}', {row}.account_id, {scope}, {_day(listed, row)}, {delta})"
        for scope in ["0", *(f"{row}.{column}" for column in listed.scope_columns)]
    )
    return (
        f"INSERT INTO {COUNTS} (table_name, account_id, scope, day, n) VALUES {values} "
        f"ON CONFLICT (table_name, account_id, scope, day) DO UPDATE SET n = {COUNTS}.n + {delta};"
    )


def _function(name: str, body: str) -> str:
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n{body}\nRETURN NULL;\nEND $$;"
    )


def _deferred(name: str, table: str, function: str) -> list[str]:
    """Constraint triggers (run at commit) for inserts and deletes, and for updates that change
    something."""
    return [
        f"CREATE CONSTRAINT TRIGGER {name} AFTER INSERT OR DELETE ON {table} "
        f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {function}();",
        f"CREATE CONSTRAINT TRIGGER {name}_update AFTER UPDATE ON {table} "
        f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) "
        f"EXECUTE FUNCTION {function}();",
    ]


def declared() -> tuple[list[str], set[tuple[str, str]]]:
    """(the SQL creating every function and trigger, {(table, trigger name)})."""
    statements = [
        _function(
            VERSION_FUNCTION,
            f"IF TG_OP <> 'INSERT' THEN {_bump_account('OLD')} END IF;\n"
            "IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.account_id <> OLD.account_id)\n"
            f"THEN {_bump_account('NEW')} END IF;",
        )
    ]
    triggers = set()
    for listed in all_listed():
        table = listed.table
        statements += _deferred(f"{PREFIX}data_version", table, VERSION_FUNCTION)
        triggers |= {(table, f"{PREFIX}data_version"), (table, f"{PREFIX}data_version_update")}

        count = f"{PREFIX}count_{table}"
        tracked = ["account_id", listed.column(listed.time_field), *listed.scope_columns]
        changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in tracked)
        statements += [
            _function(
                count,
                f"IF TG_OP <> 'INSERT' THEN {_count_change(listed, 'OLD', -1)} END IF;\n"
                f"IF TG_OP <> 'DELETE' THEN {_count_change(listed, 'NEW', 1)} END IF;",
            ),
            f"CREATE TRIGGER {PREFIX}count AFTER INSERT OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {count}();",
            f"CREATE TRIGGER {PREFIX}count_update AFTER UPDATE OF {', '.join(tracked)} "
            f"ON {table} FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION {count}();",
        ]
        triggers |= {(table, f"{PREFIX}count"), (table, f"{PREFIX}count_update")}

        if listed.group_by:
            group, column = f"{PREFIX}group_{table}", listed.column(listed.group_by)
            parent = listed.parent._meta
            parent_function = f"{PREFIX}group_parent_{table}"
            statements += [
                _function(
                    group,
                    f"IF TG_OP <> 'INSERT' THEN {_bump_group(table, f'OLD.{column}')} END IF;\n"
                    f"IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.{column} <> OLD.{column})"
                    f"\nTHEN {_bump_group(table, f'NEW.{column}')} END IF;",
                ),
                *_deferred(f"{PREFIX}group", table, group),
                # The group's own row: its insert or change renews the version, its delete
                # removes it.
                _function(
                    parent_function,
                    f"IF TG_OP = 'DELETE' THEN DELETE FROM {GROUPS} WHERE table_name = "
                    f"'{table}' AND group_id = OLD.{parent.pk.column};\n"
                    f"ELSE {_bump_group(table, f'NEW.{parent.pk.column}')} END IF;",
                ),
                *_deferred(f"{PREFIX}group_of_{table}", parent.db_table, parent_function),
            ]
            triggers |= {
                (table, f"{PREFIX}group"),
                (table, f"{PREFIX}group_update"),
                (parent.db_table, f"{PREFIX}group_of_{table}"),
                (parent.db_table, f"{PREFIX}group_of_{table}_update"),
            }
    return statements, triggers


def deferred_names() -> list[str]:
    """The constraint triggers' names (for `SET CONSTRAINTS ... IMMEDIATE` in tests, whose
    transactions never commit)."""
    _, names = declared()
    return sorted({name for _, name in names if "count" not in name})


def digest(statements) -> str:
    return hashlib.sha256("\n".join(statements).encode()).hexdigest()[:32]


def problems(connection) -> list[str]:
    """What differs between the database and the declaration ([] when they agree)."""
    statements, expected = declared()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND t.tgname LIKE %s",
            [PREFIX.replace("_", r"\_") + "%"],
        )
        present = set(cursor.fetchall())
        cursor.execute(
            "SELECT obj_description(to_regprocedure(%s), 'pg_proc')", [f"{VERSION_FUNCTION}()"]
        )
        comment = cursor.fetchone()[0]
    found = [f"trigger {name} on {table} is missing" for table, name in sorted(expected - present)]
    found += [f"trigger {name} on {table} is not declared" for table, name in present - expected]
    if comment != digest(statements):
        found.append("the trigger functions differ from their declaration")
    return found


def tables_exist(connection) -> bool:
    names = set(connection.introspection.table_names())
    ours = {VERSIONS, GROUPS, COUNTS}
    return ours | {listed.table for listed in all_listed()} <= names


def install(connection, *, force: bool = False) -> bool:
    """Make the database's triggers the declared ones; recount and renew everything when they
    were not (writes may have missed them). Returns whether anything was done."""
    if not supported(connection) or not tables_exist(connection):
        return False
    if not force and not problems(connection):
        return False
    statements, _ = declared()
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = current_schema() AND p.proname LIKE %s",
            [PREFIX.replace("_", r"\_") + "%"],
        )
        for (function,) in cursor.fetchall():
            cursor.execute(f"DROP FUNCTION {function} CASCADE")
        for statement in statements:
            cursor.execute(statement)
        cursor.execute(f"COMMENT ON FUNCTION {VERSION_FUNCTION}() IS '{digest(statements)}'")
        rebuild(connection)
    return True


def rebuild(connection) -> None:
    """Counters from the rows, and a new token for every account and group (pages cached by
    running servers may predate rows written while the triggers were off). In the caller's
    transaction, with the listed tables locked against writers until it commits."""
    listed_tables = all_listed()
    with connection.cursor() as cursor:
        for listed in listed_tables:
            cursor.execute(f"LOCK TABLE {listed.table} IN SHARE MODE")
        cursor.execute(f"DELETE FROM {COUNTS}")
        cursor.execute(f"DELETE FROM {VERSIONS}")
        cursor.execute(f"DELETE FROM {GROUPS}")
        for listed in listed_tables:
            day = _day(listed, listed.table)
            for scope in ["0", *listed.scope_columns]:
                cursor.execute(
                    f"INSERT INTO {COUNTS} (table_name, account_id, scope, day, n) "
                    f"SELECT '{listed.table}', account_id, {scope}, {day}, COUNT(*) "
                    f"FROM {listed.table} GROUP BY 2, 3, 4"
                )
            cursor.execute(
                f"INSERT INTO {VERSIONS} (account_id, token) SELECT DISTINCT account_id, {TOKEN} "
                f"FROM {listed.table} WHERE true ON CONFLICT (account_id) DO NOTHING"
            )
            if listed.group_by:
                parent = listed.parent._meta
                cursor.execute(
                    f"INSERT INTO {GROUPS} (table_name, group_id, token) "
                    f"SELECT '{listed.table}', {parent.pk.column}, {TOKEN} FROM {parent.db_table}"
                )
