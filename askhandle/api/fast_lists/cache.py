"""A per-process, thread-safe LRU of rendered bytes, bounded in bytes: list pages under the
account's data version, and nested groups (a room's messages) under the group's version."""

import threading
from collections import OrderedDict

from django.middleware.gzip import GZipMiddleware
from django.utils.text import compress_string

# GZipMiddleware's own floor: shorter answers are not worth a gzip header.
MIN_GZIP_LENGTH = 200
# An entry's compressed form before anyone asked for it (None: compressing did not pay).
UNKNOWN = object()


def gzip_or_none(content: bytes) -> bytes | None:
    """The body as GZipMiddleware would send it, or None where it would send it plain."""
    if len(content) < MIN_GZIP_LENGTH:
        return None
    compressed = compress_string(content, max_random_bytes=GZipMiddleware.max_random_bytes)
    return compressed if len(compressed) < len(content) else None


class Entry:
    __slots__ = ("content", "gzipped", "size")

    def __init__(self, content: bytes, size: int):
        self.content = content
        self.gzipped = UNKNOWN
        self.size = size


class Cache:
    """Keys are `(kind, owner, token, ..., last)`; the last part counts in the entry's size.
    Storing an entry under an owner's new token drops the owner's entries under any other
    token: they can no longer be asked for, and keeping them would let every write grow the
    cache up to its bound."""

    OVERHEAD = 400  # rough bookkeeping cost of an entry beside its body

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_bytes // 4
        self._entries: OrderedDict = OrderedDict()
        self._tokens: dict = {}  # (kind, owner) -> (token, {keys})
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key, content: bytes) -> None:
        size = len(content) + len(str(key[-1])) + self.OVERHEAD
        if size > self.max_entry_bytes:
            return
        owner, token = key[:2], key[2]
        with self._lock:
            self._remove(key)
            current = self._tokens.get(owner)
            if current is not None and current[0] != token:
                for stale in list(current[1]):
                    self._remove(stale)
            _, keys = self._tokens.setdefault(owner, (token, set()))
            self._entries[key] = Entry(content, size)
            keys.add(key)
            self._bytes += size
            self._evict()

    def gzipped(self, key, entry: Entry) -> bytes | None:
        """The entry compressed (None where that does not pay), made once and kept."""
        if entry.gzipped is UNKNOWN:
            compressed = gzip_or_none(entry.content)  # outside the lock: it takes a while
            with self._lock:
                if entry.gzipped is UNKNOWN:
                    entry.gzipped = compressed
                    if compressed and self._entries.get(key) is entry:
                        entry.size += len(compressed)
                        self._bytes += len(compressed)
                        self._evict()
        return entry.gzipped

    def _evict(self) -> None:
        while self._bytes > self.max_bytes:  # never the newest entry: at most a quarter
            self._remove(next(iter(self._entries)))

    def _remove(self, key) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        self._bytes -= entry.size
        owner = key[:2]
        _, keys = self._tokens[owner]
        keys.discard(key)
        if not keys:
            del self._tokens[owner]

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
