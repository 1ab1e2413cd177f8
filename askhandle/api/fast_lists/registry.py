"""The tables the fast path serves, handed in by the apps that own them (`AppConfig.ready()`)."""

from dataclasses import dataclass, field

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class Listed:
    """A model whose account-wide list the fast path serves.

    - `time_field`: the creation time the date filters bound and the day counters count by.
    - `scopes`: filters that name a foreign key's target by one of its fields, with counters of
      their own per target, e.g. `{"room": "uuid"}`: `?room=<uuid>` counts one room's rows.
    - `group_by`: a foreign key whose target's representation nests these rows (a room's
      messages): they are rendered once per group and kept under the group's version.
    """

    model: type
    time_field: str
    scopes: dict = field(default_factory=dict)
    group_by: str | None = None

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    def column(self, name: str) -> str:
        return self.model._meta.get_field(name).column

    @property
    def scope_columns(self) -> tuple[str, ...]:
        return tuple(self.column(name) for name in self.scopes)

    @property
    def parent(self):
        """The model of the group's own row (rooms for messages grouped by room)."""
        return self.model._meta.get_field(self.group_by).related_model if self.group_by else None


_listed: dict[type, Listed] = {}


def register(model, *, time_field: str, scopes=None, group_by: str | None = None) -> Listed:
    """Serve `model`'s lists through the fast path. Its table needs an `account_id` column (the
    account the data version and counters belong to)."""
    names = {f.name: f for f in model._meta.concrete_fields}
    if "account" not in names or names["account"].column != "account_id":
        raise ImproperlyConfigured(f"{model.__name__} has no account_id column.")
    for name in (time_field, *(scopes or {}), *([group_by] if group_by else [])):
        if name not in names:
            raise ImproperlyConfigured(f"{model.__name__} has no field {name!r}.")
    listed = Listed(model, time_field, dict(scopes or {}), group_by)
    _listed[model] = listed
    return listed


def listed(model) -> Listed | None:
    return _listed.get(model)


def all_listed() -> list[Listed]:
    return sorted(_listed.values(), key=lambda item: item.table)
