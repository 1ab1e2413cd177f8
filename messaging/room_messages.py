"""Each room's messages, rendered once per change of that room's messages.

A page of the rooms list nests every message of its rooms (the contract), so with a long history
the page is mostly messages: at a million messages, 18,000 of them and 6.9 MB. The account's data
version (askhandle/api/page_cache.py) changes with any write of the account, and a page built
again after a write rendered the messages of all its rooms again, although one room at most had
changed. So each room also has a version (`RoomMessagesVersion`), a random token that database
triggers replace when one of its messages is inserted, updated or deleted, by any writer, in the
same transaction; and `rendered_messages` keeps a room's rendered messages under (room, token,
label) in a process-local LRU, so a page built after a write renders and queries only the rooms
whose messages changed, and splices the others' bytes in (askhandle.api.renderers.RenderedJSON).
For gzip clients each kept part also keeps its compressed form once asked for, and the answer is
joined from those (askhandle.api.compression.stitched_gzip).

Why it stays exact (as for the pages):
- The tokens are read by the page query itself and the messages after it, so what is stored
  under a token is at least as new as the token.
- On PostgreSQL the token is replaced by a deferred constraint trigger, i.e. at commit, after the
  account's data version (trigger names sort in that order; the account's row is taken first
  by any writer of its rooms, so the two add no lock-order deadlock). SQLite: plain triggers.
- The label is part of the key: every message renders its room's label. The uuid never changes.
- A room gets its row when it is inserted and loses it when deleted; rooms loaded with triggers
  off have none until `manage.py rebuild_counts` (renew_all_sql), and are rendered every time.
"""

from functools import partial

from django.conf import settings
from django.db.models import OuterRef, Subquery

from askhandle.api.compression import deflate_piece
from askhandle.api.page_cache import RANDOM_TOKEN, PageCache
from askhandle.api.renderers import JSONRenderer, RenderedJSON

from .models import RoomMessagesVersion
from .serializers import messages_by_room

VERSION_TABLE = "messaging_roommessagesversion"
TRIGGER = "messaging_room_messages"
ROOM_TRIGGER = "messaging_room_messages_room"

fragments = PageCache(settings.API_ROOM_MESSAGES_CACHE_BYTES)
_renderer = JSONRenderer()


def _renew(vendor: str, room_id: str) -> str:
    return f"UPDATE {VERSION_TABLE} SET token = {RANDOM_TOKEN[vendor]} WHERE room_id = {room_id};"


def _create(vendor: str) -> str:
    return (
        f"INSERT INTO {VERSION_TABLE} (room_id, token) VALUES (NEW.id, {RANDOM_TOKEN[vendor]}) "
        "ON CONFLICT (room_id) DO UPDATE SET token = excluded.token;"
    )


def _drop() -> str:
    return f"DELETE FROM {VERSION_TABLE} WHERE room_id = OLD.id;"


def install_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [
            f"""
            CREATE FUNCTION {TRIGGER}_bump() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP <> 'INSERT' THEN {_renew(vendor, "OLD.room_id")} END IF;
                IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.room_id <> OLD.room_id)
                THEN {_renew(vendor, "NEW.room_id")} END IF;
                RETURN NULL;
            END $$;
            """,
            f"CREATE CONSTRAINT TRIGGER {TRIGGER} AFTER INSERT OR DELETE ON messaging_message "
            f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {TRIGGER}_bump();",
            f"CREATE CONSTRAINT TRIGGER {TRIGGER}_update AFTER UPDATE ON messaging_message "
            f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) "
            f"EXECUTE FUNCTION {TRIGGER}_bump();",
            f"""
            CREATE FUNCTION {ROOM_TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'INSERT' THEN {_create(vendor)} ELSE {_drop()} END IF;
                RETURN NULL;
            END $$;
            """,
            f"CREATE TRIGGER {ROOM_TRIGGER} AFTER INSERT OR DELETE ON rooms_room "
            f"FOR EACH ROW EXECUTE FUNCTION {ROOM_TRIGGER}();",
        ]
    if vendor == "sqlite":
        return [
            f"CREATE TRIGGER {TRIGGER}_insert AFTER INSERT ON messaging_message "
            f"BEGIN {_renew(vendor, 'NEW.room_id')} END;",
            f"CREATE TRIGGER {TRIGGER}_delete AFTER DELETE ON messaging_message "
            f"BEGIN {_renew(vendor, 'OLD.room_id')} END;",
            f"CREATE TRIGGER {TRIGGER}_update AFTER UPDATE ON messaging_message "
            f"BEGIN {_renew(vendor, 'OLD.room_id')} {_renew(vendor, 'NEW.room_id')} END;",
            f"CREATE TRIGGER {ROOM_TRIGGER}_insert AFTER INSERT ON rooms_room "
            f"BEGIN {_create(vendor)} END;",
            f"CREATE TRIGGER {ROOM_TRIGGER}_delete AFTER DELETE ON rooms_room BEGIN {_drop()} END;",
        ]
    raise NotImplementedError(f"No room-messages triggers for {vendor}.")


def uninstall_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [
            f"DROP FUNCTION IF EXISTS {TRIGGER}_bump() CASCADE;",
            f"DROP FUNCTION IF EXISTS {ROOM_TRIGGER}() CASCADE;",
        ]
    return [
        f"DROP TRIGGER IF EXISTS {name};"
        for name in (
            f"{TRIGGER}_insert",
            f"{TRIGGER}_delete",
            f"{TRIGGER}_update",
            f"{ROOM_TRIGGER}_insert",
            f"{ROOM_TRIGGER}_delete",
        )
    ]


def renew_all_sql(vendor: str) -> list[str]:
    """A new token for every room (at install, and after a load with triggers off)."""
    return [
        f"DELETE FROM {VERSION_TABLE};",
        f"INSERT INTO {VERSION_TABLE} (room_id, token) "
        f"SELECT id, {RANDOM_TOKEN[vendor]} FROM rooms_room;",
    ]


def with_messages_tokens(rooms):
    """The rooms queryset with each room's `messages_token` (None: no version row)."""
    versions = RoomMessagesVersion.objects.filter(room_id=OuterRef("pk")).values("token")
    return rooms.annotate(messages_token=Subquery(versions[:1]))


def rendered_messages(rooms) -> dict[int, RenderedJSON]:
    """Each room's messages, oldest first, rendered: from `fragments` where the room's token has
    not changed, else in one query for all the other rooms (none when all were kept)."""
    caching = fragments.max_bytes > 0
    found, missing = {}, []
    for room in rooms:
        key = _key(room)
        page = fragments.get(key) if caching and key is not None else None
        if page is None:
            missing.append(room)
        else:
            found[room.pk] = _part(key, page.content)
    if missing:
        rendered = messages_by_room(missing)
        for room in missing:
            content = _renderer.render(rendered[room.pk])
            key = _key(room) if caching else None
            if key is not None:
                fragments.put(key, content, "application/json")
            found[room.pk] = _part(key, content)
    return found


def _part(key, content: bytes) -> RenderedJSON:
    return RenderedJSON(content, None if key is None else partial(_deflated, key, content))


def _deflated(key, content: bytes) -> bytes:
    """The part compressed for a gzip answer, kept beside it while it is kept."""
    page = fragments.get(key)
    if page is None or page.content is not content:
        return deflate_piece(content)
    return fragments.gzipped(key, page, compress=deflate_piece)


def _key(room):
    # PageCache's key shape: (kind, owner, token, ..., last part counted in the entry's size).
    token = getattr(room, "messages_token", None)
    return None if token is None else ("messages", room.pk, token, room.label)
