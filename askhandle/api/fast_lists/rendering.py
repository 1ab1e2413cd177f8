"""A list page rendered from rows (`values_list`), without a model instance or a serializer per
row, derived from the serializer's declared fields: each readable field reads the column(s) its
`source` names and converts the value the way the field's own `to_representation` does (the
common DRF fields by a shortcut that tests/test_fast_lists.py holds byte-equal to the
serializer, any other field by calling `to_representation` itself). Two kinds of field need a
word from their class:
- a field rendering a related object from a few of its fields declares them as `row_fields`;
  it is given an object with those attributes (e.g. messaging's RoomReferenceField);
- a nested `many=True` serializer of a model registered with `group_by` (a room's messages) is
  rendered per group, kept under the group's version, and placed in the page as is.
"""

import functools
import operator
import types

from django.db.models import OuterRef, Prefetch, Subquery
from django.utils import timezone
from rest_framework import fields as drf_fields
from rest_framework import serializers
from rest_framework.settings import api_settings

from askhandle.api.renderers import Rendered

from .cache import Cache
from .models import GroupVersion
from .registry import listed as listed_of

TOKEN = "fast_lists_token"


def _converter(field):
    """(convert(value, tz) for a non-null value, whether it needs the time zone)."""
    method = type(field).to_representation
    if method is drf_fields.CharField.to_representation:
        return str, False
    if method is drf_fields.UUIDField.to_representation and field.uuid_format == "hex_verbose":
        return str, False
    if method is drf_fields.IntegerField.to_representation:
        return int, False
    if method is drf_fields.BooleanField.to_representation:
        return (
            lambda value: value if value.__class__ is bool else field.to_representation(value)
        ), False
    if (
        method is drf_fields.DateTimeField.to_representation
        and type(field).enforce_timezone is drf_fields.DateTimeField.enforce_timezone
    ):
        output = getattr(field, "format", api_settings.DATETIME_FORMAT)
        if output and output.lower() != drf_fields.ISO_8601 and not isinstance(output, type):
            return (lambda value, tz: value.astimezone(tz).strftime(output)), True
    return field.to_representation, False


class Plan:
    """How one serializer's representation is made from a row."""

    def __init__(self, serializer_class):
        self.model = serializer_class.Meta.model
        self.columns: list[str] = []
        self.items = []  # (key, getter or None for a nested group, convert, needs tz, several)
        self.nested = []  # (key, field, the child's Plan, the child's Listed)
        for field in serializer_class().fields.values():
            if field.write_only:
                continue
            if isinstance(field, serializers.ListSerializer):
                child = listed_of(field.child.Meta.model)
                if child is None or child.parent is not self.model:
                    raise ValueError(f"{field.field_name}: nests rows of no registered group.")
                self.nested.append((field.field_name, field, plan_for(type(field.child)), child))
                # Its place among the fields (filled once the groups are rendered).
                self.items.append((field.field_name, None, None, False, False))
                continue
            source = "__".join(field.source_attrs)
            names = getattr(field, "row_fields", None)
            if names:
                getter = self._getter(*(f"{source}__{name}" for name in names))
                convert = functools.partial(_row_object, field, names)
                self.items.append((field.field_name, getter, convert, False, True))
            else:
                convert, needs_tz = _converter(field)
                self.items.append(
                    (field.field_name, self._getter(source), convert, needs_tz, False)
                )
        if len(self.nested) > 1:
            # rows() reads one group version per row; two nested groups would need two.
            raise ValueError(f"{serializer_class.__name__}: more than one nested group.")
        if self.nested:
            self._getter(self.model._meta.pk.name)
            self._getter(TOKEN)

    def _getter(self, *columns):
        indexes = []
        for column in columns:
            if column not in self.columns:
                self.columns.append(column)
            indexes.append(self.columns.index(column))
        return operator.itemgetter(*indexes)

    def rows(self, queryset, extra=()):
        """`queryset` as named rows of this plan's columns (and the ordering's, for cursors)."""
        if self.nested:
            versions = GroupVersion.objects.filter(
                table_name=self.nested[0][3].table, group_id=OuterRef("pk")
            ).values("token")
            queryset = queryset.annotate(**{TOKEN: Subquery(versions[:1])})
        ordering = [name.lstrip("-") for name in queryset.query.order_by if isinstance(name, str)]
        columns = list(dict.fromkeys([*self.columns, *extra, *ordering]))
        return queryset.values_list(*columns, named=True)

    def render(self, rows, *, renderer, fragments: Cache, prefetches) -> list[dict]:
        tz = timezone.get_current_timezone()
        items = [
            (key, getter, functools.partial(convert, tz=tz) if needs_tz else convert, several)
            for key, getter, convert, needs_tz, several in self.items
        ]
        out = []
        for row in rows:
            item = {}
            for key, getter, convert, several in items:
                if getter is None:
                    item[key] = None
                    continue
                value = getter(row)
                if several:
                    item[key] = None if value[0] is None else convert(value)
                else:
                    item[key] = None if value is None else convert(value)
            out.append(item)
        for key, field, child, listed in self.nested:
            pk_token = self._getter(self.model._meta.pk.name, TOKEN)
            groups = _groups(
                [pk_token(row) for row in rows],
                child=child,
                listed=listed,
                rows=_nested_rows(prefetches, field, listed),
                renderer=renderer,
                fragments=fragments,
                tz=tz,
            )
            for item, row in zip(out, rows, strict=True):
                item[key] = groups[pk_token(row)[0]]
        return out


def _row_object(field, names, values):
    return field.to_representation(types.SimpleNamespace(**dict(zip(names, values, strict=True))))


def _nested_rows(prefetches, field, listed):
    """The nested rows: the queryset of the view's Prefetch of the same relation (what the
    serializer path renders: its order, and its filters such as a bound per group), else all of
    them in the model's default order."""
    for lookup in prefetches:
        if (
            isinstance(lookup, Prefetch)
            and lookup.prefetch_to == field.source
            and lookup.queryset is not None
        ):
            return lookup.queryset
    return listed.model._default_manager.all()


def _groups(pk_tokens, *, child, listed, rows, renderer, fragments, tz) -> dict:
    """Each group's rendered rows, from `fragments` where its version has not changed, else
    queried together and rendered."""
    found, missing = {}, []
    kind = f"group:{listed.table}"
    for pk, token in pk_tokens:
        key = None if token is None or not fragments.max_bytes else (kind, pk, token, str(tz))
        entry = fragments.get(key) if key is not None else None
        if entry is None:
            missing.append((pk, key))
        else:
            found[pk] = Rendered(entry.content)
    if missing:
        pks = [pk for pk, _ in missing]
        rendered = render_groups(pks, child=child, listed=listed, rows=rows, renderer=renderer)
        for pk, key in missing:
            if key is not None:
                fragments.put(key, rendered[pk])
            found[pk] = Rendered(rendered[pk])
    return found


def render_groups(pks, *, child, listed, rows, renderer) -> dict:
    """These groups' rows (of the queryset `rows`), rendered, in one query: {group id: bytes}."""
    group_column = listed.model._meta.get_field(listed.group_by).attname
    rows = list(child.rows(rows.filter(**{f"{group_column}__in": pks}), extra=[group_column]))
    by_group = {pk: [] for pk in pks}
    items = child.render(rows, renderer=renderer, fragments=None, prefetches=())
    for row, item in zip(rows, items, strict=True):
        by_group[getattr(row, group_column)].append(item)
    return {pk: renderer.render(items) for pk, items in by_group.items()}


@functools.cache
def plan_for(serializer_class) -> Plan:
    return Plan(serializer_class)
