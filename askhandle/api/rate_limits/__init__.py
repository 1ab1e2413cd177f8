"""Rate-limit counters shared by every worker process and host, at a fraction of a round trip
per request.

`counter_hit(key, window=, limit=, period=)` counts one hit and answers the count as this process
knows it. Each process counts hits in memory and adds them to the shared count (Redis with
REDIS_URL, else the `rate_limits_counter` table of the database, one atomic statement either way):
- at a key's first hit after FLUSH_SECONDS since its last addition, and
- at once whenever its hits not yet added exceed its share of what is left of the limit,
  `(limit - shared count) // SHARERS`.
So far from its limit a request costs no round trip (the shared count lags by at most a second
per process), and near it every hit is added at once, so the limit holds: with up to SHARERS
processes, what they admit beyond it in one window is at most about what was left when they last
added (docs/performance.md, "Rate limits"). Counts live in a table or Redis, not in a cache
that culls: a count is never lost before its window ends.

Measured against one cache read and write per counter per request (the former mechanism), on a
cached list page: see docs/performance.md.
"""

import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connections, router

FLUSH_SECONDS = 1.0
SHARERS = 8
# Keys a process holds in memory before it drops those of ended windows.
MAX_KEYS = 10_000
# One flush in this many also deletes ended windows' rows from the table.
SWEEP_EVERY = 1000


@dataclass(slots=True)
class _Local:
    window: int
    period: int
    flushed_at: float
    shared: int = 0
    pending: int = 0


class Counters:
    def __init__(self):
        self._lock = threading.Lock()
        self._keys: dict[str, _Local] = {}
        self._flushes = 0

    def clear(self) -> None:
        """Forget what this process counted (tests)."""
        with self._lock:
            self._keys.clear()

    def hit(self, key: str, *, window: int, limit: int, period: int) -> int:
        now = time.monotonic()
        with self._lock:
            state = self._keys.get(key)
            if state is None or state.window != window:
                if len(self._keys) >= MAX_KEYS:
                    self._drop_ended()
                state = self._keys[key] = _Local(window, period, flushed_at=now)
            state.pending += 1
            if state.pending <= (limit - state.shared) // SHARERS and (
                now - state.flushed_at < FLUSH_SECONDS
            ):
                return state.shared + state.pending
            delta, state.pending, state.flushed_at = state.pending, 0, now
            self._flushes += 1
            sweep = self._flushes % SWEEP_EVERY == 0
        try:
            total = _store_add(key, window=window, period=period, delta=delta, sweep=sweep)
        except Exception:
            with self._lock:
                state.pending += delta  # added at the next flush
            raise
        with self._lock:
            state.shared = max(state.shared, total)
            return state.shared + state.pending

    def _drop_ended(self) -> None:
        now = time.time()
        self._keys = {
            key: state
            for key, state in self._keys.items()
            if state.window >= int(now // state.period)
        }


counters = Counters()


def counter_hit(key: str, *, window: int, limit: int, period: int) -> int:
    """Count one hit of `key` in `window` (time // period) against `limit`; answer its count."""
    return counters.hit(key, window=window, limit=limit, period=period)


def _store_add(key: str, *, window: int, period: int, delta: int, sweep: bool) -> int:
    if settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
        return _redis_add(key, window=window, period=period, delta=delta)
    return _database_add(key, window=window, period=period, delta=delta, sweep=sweep)


def _redis_add(key, *, window, period, delta) -> int:
    from django.core.cache import caches

    cache = caches["default"]
    # One round trip, atomic (MULTI): the window's counter with its expiry if it is missing, then
    # INCRBY (which keeps the expiry).
    redis_key = cache.make_and_validate_key(f"ratelimit:{key}:{window}")
    pipeline = cache._cache.get_client(redis_key, write=True).pipeline()
    pipeline.set(redis_key, 0, ex=period + 1, nx=True)
    pipeline.incrby(redis_key, delta)
    return pipeline.execute()[1]


# "slot" is the window's number: a row of an ended window starts from the delta again. The
# same statement on SQLite (3.35+) and PostgreSQL.
_ADD_SQL = """
INSERT INTO rate_limits_counter (key, slot, expires_at, count) VALUES (%s, %s, %s, %s)
ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN rate_limits_counter.slot = excluded.slot
                 THEN rate_limits_counter.count + excluded.count ELSE excluded.count END,
    slot = excluded.slot,
    expires_at = excluded.expires_at
RETURNING count
"""
_SWEEP_SQL = "DELETE FROM rate_limits_counter WHERE expires_at < %s"


def _database_add(key, *, window, period, delta, sweep) -> int:
    from .models import Counter

    connection = connections[router.db_for_write(Counter)]
    with connection.cursor() as cursor:
        cursor.execute(_ADD_SQL, [key, window, (window + 1) * period, delta])
        total = cursor.fetchone()[0]
        if sweep:
            cursor.execute(_SWEEP_SQL, [int(time.time())])
    return total
