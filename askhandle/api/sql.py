"""Small equality lookups of hot paths as SQL built once per process.

Django's SQL compiler takes about a millisecond of Python per query for lookups PostgreSQL answers
in a tenth of that (docs/performance.md): on every message create, the room named in the payload,
the account's webhook subscriptions and its keywords. These helpers send the statement
the ORM would, built once from the models' own fields, with the values prepared and the rows
converted as the ORM does. tests/test_sql.py holds them equal to the ORM's querysets on SQLite
and PostgreSQL.
"""

import functools

from django.db import connections, router


@functools.cache
def _statement(alias: str, model, columns: tuple[str, ...], names: tuple[str, ...], limit):
    connection = connections[alias]
    quote = connection.ops.quote_name
    meta = model._meta
    fields = [_field(meta, name) for name in columns]
    where = " AND ".join(f"{quote(_field(meta, name).column)} = %s" for name in names)
    sql = (
        f"SELECT {', '.join(quote(field.column) for field in fields)} "
        f"FROM {quote(meta.db_table)} WHERE {where}"
    )
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return sql, db_converters(connection, fields)


def _field(meta, name: str):
    return meta.pk if name == "pk" else meta.get_field(name)


def db_converters(connection, fields) -> list:
    """[(column index, converter functions, expression)] for a row of these fields' columns:
    what the ORM applies to values as they come from the database (e.g. SQLite's text to uuid)."""
    converters = []
    for index, field in enumerate(fields):
        expression = field.get_col(field.model._meta.db_table)
        found = connection.ops.get_db_converters(expression) + expression.get_db_converters(
            connection
        )
        if found:
            converters.append((index, found, expression))
    return converters


def convert_row(row, converters, connection) -> list:
    row = list(row)
    for index, functions, expression in converters:
        for convert in functions:
            row[index] = convert(row[index], expression, connection)
    return row


def select_rows(model, columns, *, limit=None, **equals) -> list[tuple]:
    """`model.objects.filter(**equals).values_list(*columns)[:limit]`, unordered."""
    alias = router.db_for_read(model)
    connection = connections[alias]
    sql, converters = _statement(alias, model, tuple(columns), tuple(equals), limit)
    params = [
        _field(model._meta, name).get_db_prep_value(value, connection)
        for name, value in equals.items()
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not converters:
        return rows
    return [tuple(convert_row(row, converters, connection)) for row in rows]


def select_one(model, **equals):
    """`model.objects.filter(**equals).first()` without its ordering (for lookups of a unique
    row): the instance, or None."""
    names = tuple(field.attname for field in model._meta.concrete_fields)
    rows = select_rows(model, names, limit=1, **equals)
    if not rows:
        return None
    return model.from_db(router.db_for_read(model), names, rows[0])
