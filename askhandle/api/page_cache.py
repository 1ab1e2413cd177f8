"""List pages served again without the database while the account's data has not changed.

Chat frontends and connectors poll the same lists over and over, and most polls find nothing new.
Each account has a *data version* (`accounts.DataVersion`), a random token that database triggers
replace whenever a row of a table the lists render (messages, rooms, leads) is inserted, updated or
deleted, by any writer (the API, the admin, cascades, raw SQL), in the same transaction as the
change. The API key lookup of every request reads the token (one join, no extra query), and a
list page already rendered for (account, token, URL, media type) is answered from a
process-local LRU without running the count and page queries.

Why it stays exact:
- A page is stored under the token read *before* its queries ran, so its content is at least as
  new as that token; a request that reads the token of a later commit can never be given it.
- On PostgreSQL the token is replaced by a deferred constraint trigger, i.e. at commit: the
  version row is the last lock a writing transaction takes, so it adds no lock-order deadlock
  with the row locks taken before it. SQLite has one writer at a time; plain triggers there.
- A transaction that writes rows of several accounts (only the admin's bulk actions do) takes
  their version rows at commit in the order it wrote them; two such transactions in opposite
  orders can deadlock, which PostgreSQL detects by failing one of them.
- Tokens are random, not counters: a database restored from a backup cannot bring back a token
  a running process has pages for (a counter would repeat).
- An account with no token yet (nothing ever written) is not cached.

A table that a list renders must be listed in VERSIONED_TABLES (and get its triggers by a
migration: `install_sql`). Rows loaded with triggers disabled need `manage.py rebuild_counts`,
which also gives every account a new token.
"""

import threading
from collections import OrderedDict

from django.conf import settings
from django.http import HttpResponse
from rest_framework.response import Response

from askhandle.api.compression import accepts_gzip, gzip_or_none, gzipped_content, set_gzipped

VERSION_TABLE = "accounts_dataversion"
VERSIONED_TABLES = ("messaging_message", "rooms_room", "leads_lead")
TRIGGER = "accounts_data_version"

RANDOM_TOKEN = {
    # 53 random bits (a double's precision) on PostgreSQL, 64 on SQLite.
    "postgresql": "(random() * 9007199254740991)::bigint",
    "sqlite": "random()",
}


def _bump(vendor: str, row: str) -> str:
    return (
        f"INSERT INTO {VERSION_TABLE} (account_id, token) VALUES ({row}.account_id, "
        f"{RANDOM_TOKEN[vendor]}) ON CONFLICT (account_id) DO UPDATE SET token = excluded.token;"
    )


def install_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        statements = [
            f"""
            CREATE FUNCTION {TRIGGER}_bump() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP <> 'INSERT' THEN {_bump(vendor, "OLD")} END IF;
                IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.account_id <> OLD.account_id)
                THEN {_bump(vendor, "NEW")} END IF;
                RETURN NULL;
            END $$;
            """
        ]
        for table in VERSIONED_TABLES:
            statements += [
                f"CREATE CONSTRAINT TRIGGER {TRIGGER} AFTER INSERT OR DELETE ON {table} "
                f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {TRIGGER}_bump();",
                f"CREATE CONSTRAINT TRIGGER {TRIGGER}_update AFTER UPDATE ON {table} "
                f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) "
                f"EXECUTE FUNCTION {TRIGGER}_bump();",
            ]
        return statements
    if vendor == "sqlite":
        statements = []
        for table in VERSIONED_TABLES:
            statements += [
                f"CREATE TRIGGER {table}_{TRIGGER}_insert AFTER INSERT ON {table} "
                f"BEGIN {_bump(vendor, 'NEW')} END;",
                f"CREATE TRIGGER {table}_{TRIGGER}_delete AFTER DELETE ON {table} "
                f"BEGIN {_bump(vendor, 'OLD')} END;",
                f"CREATE TRIGGER {table}_{TRIGGER}_update AFTER UPDATE ON {table} "
                f"BEGIN {_bump(vendor, 'OLD')} {_bump(vendor, 'NEW')} END;",
            ]
        return statements
    raise NotImplementedError(f"No data-version triggers for {vendor}.")


def uninstall_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [f"DROP FUNCTION IF EXISTS {TRIGGER}_bump() CASCADE;"]
    return [
        f"DROP TRIGGER IF EXISTS {table}_{TRIGGER}_{event};"
        for table in VERSIONED_TABLES
        for event in ("insert", "delete", "update")
    ]


def renew_all_sql(vendor: str) -> list[str]:
    """A new token for every account (after a load with triggers off)."""
    return [
        f"DELETE FROM {VERSION_TABLE};",
        *(
            f"INSERT INTO {VERSION_TABLE} (account_id, token) SELECT DISTINCT account_id, "
            f"{RANDOM_TOKEN[vendor]} FROM {table} WHERE true ON CONFLICT (account_id) DO NOTHING;"
            for table in VERSIONED_TABLES
        ),
    ]


# An entry's compressed form before anyone asked for it (None: compressing did not pay).
UNKNOWN = object()


class Page:
    __slots__ = ("content", "content_type", "gzipped", "size")

    def __init__(self, content: bytes, content_type: str, gzipped, size: int):
        self.content = content
        self.content_type = content_type
        self.gzipped = gzipped
        self.size = size


class PageCache:
    """A thread-safe LRU of rendered pages, bounded in bytes (per process).

    Keys are `(view, account, token, media type, URL)`. Storing a page under an account's new
    token drops the account's pages under any other token: they can no longer be asked for, and
    keeping them would let every write grow the cache up to its bound."""

    # Rough bookkeeping cost of an entry beside its body (key, tuple, dict slots).
    OVERHEAD = 400

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_bytes // 4
        self._entries: OrderedDict = OrderedDict()
        self._tokens: dict = {}  # (view, account) -> (token, {keys})
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key, content: bytes, content_type: str, gzipped=UNKNOWN) -> None:
        size = len(content) + len(key[-1]) + self.OVERHEAD
        size += len(gzipped) if isinstance(gzipped, bytes) else 0
        if size > self.max_entry_bytes:
            return
        view, account, token = key[:3]
        with self._lock:
            self._remove(key)
            current = self._tokens.get((view, account))
            if current is not None and current[0] != token:
                for stale in list(current[1]):
                    self._remove(stale)
            _, keys = self._tokens.setdefault((view, account), (token, set()))
            self._entries[key] = Page(content, content_type, gzipped, size)
            keys.add(key)
            self._bytes += size
            self._evict()

    def gzipped(self, key, page: Page, compress=None) -> bytes | None:
        """The page compressed (None where compressing does not pay), made once and kept;
        by `compress`, gzip_or_none unless told."""
        if page.gzipped is UNKNOWN:
            compress = compress or gzip_or_none
            compressed = compress(page.content)  # outside the lock: it takes a while
            with self._lock:
                if page.gzipped is UNKNOWN:
                    page.gzipped = compressed
                    if compressed and self._entries.get(key) is page:
                        page.size += len(compressed)
                        self._bytes += len(compressed)
                        self._evict()
        return page.gzipped

    def _evict(self) -> None:
        while self._bytes > self.max_bytes:  # never the newest entry: at most a quarter
            self._remove(next(iter(self._entries)))

    def _remove(self, key) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        self._bytes -= entry.size
        view_account = key[:2]
        _, keys = self._tokens[view_account]
        keys.discard(key)
        if not keys:
            del self._tokens[view_account]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._tokens.clear()
            self._bytes = 0

    def __len__(self):
        return len(self._entries)

    @property
    def size(self) -> int:
        return self._bytes


pages = PageCache(settings.API_PAGE_CACHE_BYTES)


class CachedListMixin:
    """For a viewset's `list`: answer a page from `pages` when the account's data version has
    not changed since it was rendered. Only JSON pages of requests authenticated by an API key
    (whose lookup read the version) are cached; everything else takes the normal path.
    A page is kept plain and, once a client asks for gzip, compressed too (askhandle/api/
    compression.py), so it is compressed once per change of the data, not per request.
    A viewset that builds its page its own way overrides `list_page`, not `list`."""

    def list(self, request, *args, **kwargs):
        key = self._page_key(request)
        if key is not None:
            page = pages.get(key)
            if page is not None:
                response = HttpResponse(page.content, content_type=page.content_type)
                compressed = pages.gzipped(key, page) if accepts_gzip(request) else None
                if compressed:
                    set_gzipped(response, compressed)
                return response
        response = self.list_page(request, *args, **kwargs)
        response.page_cache_key = key
        return response

    def list_page(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        key = getattr(response, "page_cache_key", None)
        if key is not None and isinstance(response, Response) and response.status_code == 200:
            response.render()  # what Django would do next; the bytes are what the cache keeps
            compressed = gzipped_content(response) if accepts_gzip(request) else UNKNOWN
            pages.put(key, response.content, response["Content-Type"], compressed)
            if isinstance(compressed, bytes):
                set_gzipped(response, compressed)
        return response

    def _page_key(self, request):
        if not pages.max_bytes or request.method != "GET":
            return None
        token = getattr(request.auth, "data_version", None)
        renderer = getattr(request, "accepted_renderer", None)
        if token is None or renderer is None or renderer.format != "json":
            return None
        # The URL (scheme, host and query string included) fixes the page and its links.
        return (
            type(self).__name__,
            request.user.pk,
            token,
            request.accepted_media_type,
            request.build_absolute_uri(),
        )
