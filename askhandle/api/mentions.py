"""Which stored API representations are about a person: for erasure (a lead's purge).

Webhook events and the answers kept for `Idempotency-Key` replays are copies of what the API
rendered: a lead, a room, a message, a keyword notification, a hand-off. Such a copy is about a
person when one of its fields *equals* one of theirs, compared as JSON values, never as text
inside the document (a substring test made a one-character phone number match nearly every
stored answer):

- its own `uuid`, or its room's (`room.uuid`), is the lead's or one of the lead's rooms' (every
  message, notification and hand-off names its room; random uuids never collide);
- its `email`, or its message's (`message.email`), is the lead's email, ignoring case (as rooms
  are found for a lead);
- its `phone_number`, or its message's, is the lead's phone number exactly.

A name alone is not a person: another visitor may be called "Mary" too.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db.models import Q

# The most uuids in one `IN (...)`: well under SQLite's and PostgreSQL's parameter limits.
CHUNK = 500


@dataclass(frozen=True)
class Person:
    """How API representations name one person: uuids (the lead's, its rooms'), email, phone."""

    uuids: tuple[str, ...]
    email: str = ""
    phone_number: str = ""


def _chunks(values: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def mentions(field: str, person: Person) -> Iterable[Q]:
    """Filters on the JSON field `field` selecting the documents about `person`, a few at a time
    (delete with each in turn: a lead may have many rooms)."""
    details = Q(pk__in=[])
    if person.email:
        details |= Q(**{f"{field}__email__iexact": person.email})
        details |= Q(**{f"{field}__message__email__iexact": person.email})
    if person.phone_number:
        details |= Q(**{f"{field}__phone_number": person.phone_number})
        details |= Q(**{f"{field}__message__phone_number": person.phone_number})
    yield details
    for uuids in _chunks(tuple(dict.fromkeys(str(u) for u in person.uuids))):
        yield Q(**{f"{field}__uuid__in": uuids}) | Q(**{f"{field}__room__uuid__in": uuids})
