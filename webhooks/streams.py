"""Live updates: the account's event log read as it grows (docs/streams.md).

Every event is recorded in the transaction that made it happen (webhooks.services.event_emit),
so the log is the one source: the webhook deliveries, the Server-Sent Events streams
(`GET /events/`, `GET /rooms/<label>/events/`), the long-polls (`wait=` on messages) and the
admin inbox's live updates all read it. This module is the one boundary of the mechanism:

- **The log** (`log_read`, `cursor_now`): an account's events after a cursor, the event id.
  Within an account ids follow the order of the commits, so a reader never skips an event that
  commits late: SQLite has one writer at a time; on PostgreSQL a trigger (migration webhooks
  0004) takes the account's lock before a row takes its id, so one account's event-writing
  transactions take ids one after the other, from their first event to their commit. (Reading
  below the oldest running transaction, pg_snapshot_xmin, was the other way: any transaction of
  any database of the cluster, an idle one included, would then hold every stream back.)
- **The hub** (`hub()`): one per event loop (a web worker's). It learns that an account's log
  grew from PostgreSQL's LISTEN/NOTIFY (the trigger), or on SQLite from a datagram the writer
  sends each worker after its commit (`wake_send`), with a read of the log's head every
  STREAM_SAFETY_SECONDS besides; and wakes that account's (that room's) subscribers. A
  subscriber then reads the log from its own cursor: a missed or merged wake-up loses nothing.
- **The responses** (`event_stream`, `wake_stream`, `wait_response`): bodies that wait on the
  event loop, never on a thread, once the view (synchronous, with its authentication, throttling
  and tenancy) has answered; askhandle/asgi.py sends these requests to Django's ASGI handler.

Bounds (hostile tenants): at most STREAMS_PER_ACCOUNT live connections (streams and long-polls)
per account in a worker process (429 beyond); a stream ends after STREAM_MAX_SECONDS (clients
reconnect with Last-Event-ID, as EventSource does by itself, and are authenticated again); a
read takes at most STREAM_BATCH events; wake-ups are per account, so one account's traffic
wakes no other account's subscribers.
"""

import asyncio
import contextlib
import itertools
import json
import logging
import os
import re
import socket
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.negotiation import BaseContentNegotiation

from askhandle.api.schema import ERROR_RESPONSES, ErrorDetail

from .models import Event

logger = logging.getLogger(__name__)

CHANNEL = "askhandle_events"  # the trigger's (migration webhooks 0004)
CURSOR = re.compile(r"^\d{1,18}$")


class TooManyStreams(APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = "Too many live connections (streams and long-polls) for this account."
    default_code = "too_many_streams"


# --- The log ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    cursor: int
    type: str
    data: str  # JSON text, as stored
    room_id: int | None


def cursor_parse(raw: str) -> int:
    """The event id a cursor names ("0": the start of the kept log); 400 for anything else."""
    raw = raw.strip()
    if CURSOR.match(raw):
        return int(raw)
    raise ValidationError({"Last-Event-ID": ["Not a cursor of this server's events."]})


def cursor_now() -> int:
    """A cursor before everything committed from now on: the log's newest id (within an
    account, ids follow the commits: migration webhooks 0004)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {Event._meta.db_table}")
        return cursor.fetchone()[0]


def log_read(
    *, account_id: int, room_id: int | None, types: tuple[str, ...] | None, after: int
) -> tuple[list[Row], bool]:
    """Up to STREAM_BATCH events of the account (of one room; of some types) after cursor
    `after`, in commit order; and whether more may follow at once (a full batch)."""
    where, params = ["account_id = %s", "id > %s"], [account_id, after]
    if room_id is not None:
        where.append("room_id = %s")
        params.append(room_id)
    if types:
        where.append(f"type IN ({', '.join(['%s'] * len(types))})")
        params.extend(types)
    data = "data::text" if connection.vendor == "postgresql" else "data"  # the stored JSON text
    limit = settings.STREAM_BATCH
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, type, {data}, room_id FROM {Event._meta.db_table}"
            f" WHERE {' AND '.join(where)} ORDER BY id LIMIT %s",
            [*params, limit],
        )
        fetched = cursor.fetchall()
    return [Row(*row) for row in fetched], len(fetched) == limit


def _postgresql() -> bool:
    return connection.vendor == "postgresql"


def _sqlite_changes(after: int) -> list[tuple[int, int, int | None]]:
    """(id, account, room) of the events written after `after` (at most 1000)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, account_id, room_id FROM {Event._meta.db_table}"
            " WHERE id > %s ORDER BY id LIMIT 1000",
            [after],
        )
        return cursor.fetchall()


# Reads run on a few threads of their own (each with its own database connection), never on the
# threads that serve the API, nor on a thread per connection.
_readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="stream-read")
# Set while a WSGI server (the tests' client, a plain WSGI deployment) reads a live body to its
# end on the request's thread (LiveResponse): reads then run on that thread, in its transaction.
_on_request_thread: ContextVar[bool] = ContextVar("on_request_thread", default=False)


def _fresh(function: Callable) -> Callable:
    """`function` on a reader thread, with a connection that is usable (a database restart
    closes it; the read is then tried once more on a new one)."""

    def call(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except DatabaseError:
            if _on_request_thread.get():
                raise
            close_old_connections()
            connection.close()
            return function(*args, **kwargs)

    on_readers = sync_to_async(call, thread_sensitive=False, executor=_readers)
    on_request_thread = sync_to_async(call, thread_sensitive=True)

    async def read(*args, **kwargs):
        runner = on_request_thread if _on_request_thread.get() else on_readers
        return await runner(*args, **kwargs)

    return read


log_read_async = _fresh(log_read)
cursor_now_async = _fresh(cursor_now)
_sqlite_changes_async = _fresh(_sqlite_changes)


# --- The hub ----------------------------------------------------------------------------------


@dataclass(eq=False)
class Subscription:
    account_id: int | None  # None: every account (a superuser's admin inbox)
    room_id: int | None  # None: every room of the account
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    # What woke it, for the admin inbox: (account, room) pairs.
    seen: set = field(default_factory=set)

    async def wait(self, timeout: float) -> bool:
        """True when the log may have grown for this subscriber within `timeout` seconds."""
        try:
            await asyncio.wait_for(self.changed.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def clear(self) -> None:
        self.changed.clear()
        self.seen = set()


class Hub:
    """The subscribers of one event loop and the listener that wakes them (the module
    docstring)."""

    def __init__(self):
        # By account, then by room (None: every room): a wake-up touches only the subscribers it
        # concerns, however many idle ones the process holds.
        self.subscribers: dict[tuple[int | None, int | None], set[Subscription]] = defaultdict(set)
        self.count = 0
        self.ready = asyncio.Event()
        self.active = asyncio.Event()
        self.task: asyncio.Task | None = None

    @contextlib.asynccontextmanager
    async def subscribe(self, account_id: int | None, room_id: int | None = None):
        """Register a subscriber for the context. Returns once the listener is listening, so
        nothing committed after is missed."""
        subscription = Subscription(account_id, room_id)
        key = (account_id, room_id)
        self.subscribers[key].add(subscription)
        self.count += 1
        self.active.set()
        try:
            while not self.ready.is_set():
                if self.task is None or self.task.done():
                    self.task = asyncio.get_running_loop().create_task(self._listen())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.ready.wait(), 0.5)
            yield subscription
        finally:
            subscriptions = self.subscribers.get(key)
            if subscriptions is not None:
                subscriptions.discard(subscription)
                if not subscriptions:
                    del self.subscribers[key]
            self.count -= 1
            if not self.count:
                self.active.clear()

    def wake(self, account_id: int, room_id: int | None) -> None:
        keys = [(account_id, None), (None, None)]
        if room_id is not None:
            keys.append((account_id, room_id))
        for key in keys:
            for subscription in self.subscribers.get(key, ()):
                subscription.seen.add((account_id, room_id))
                subscription.changed.set()

    def wake_all(self) -> None:
        for subscriptions in self.subscribers.values():
            for subscription in subscriptions:
                subscription.changed.set()

    async def _listen(self) -> None:
        """Listen while anyone subscribes (and STREAM_HUB_LINGER_SECONDS after); after a failure,
        wake everyone (they read from their cursors) and listen again."""
        delay = 0.1
        while True:
            try:
                if _postgresql():
                    await self._listen_postgresql()
                else:
                    await self._poll_sqlite()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("The event listener failed; listening again.", exc_info=True)
                self.ready.set()  # subscribers read on their own meanwhile
                self.wake_all()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _idle(self) -> bool:
        """Wait for subscribers; False once none came within the linger time."""
        if self.count:
            return True
        try:
            await asyncio.wait_for(self.active.wait(), settings.STREAM_HUB_LINGER_SECONDS)
        except TimeoutError:
            return False
        return True

    async def _listen_postgresql(self) -> None:
        import psycopg

        database = settings.DATABASES["default"]
        conninfo = psycopg.conninfo.make_conninfo(
            dbname=database["NAME"],
            user=database.get("USER") or None,
            password=database.get("PASSWORD") or None,
            host=database.get("HOST") or None,
            port=database.get("PORT") or None,
        )
        conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
        try:
            await conn.execute(f"LISTEN {CHANNEL}")
            self.ready.set()
            self.wake_all()  # anything committed while (re)connecting
            while await self._idle():
                async for notice in conn.notifies(timeout=settings.STREAM_HUB_LINGER_SECONDS):
                    account, _, room = notice.payload.partition(":")
                    self.wake(int(account), int(room) if room else None)
                    if not self.count:
                        break
        finally:
            self.ready.clear()
            await conn.close()

    async def _poll_sqlite(self) -> None:
        """SQLite has no NOTIFY: the writers send a datagram to every worker's socket after
        their commits (`wake_send`), read here on the loop; the log's head is also read every
        STREAM_POLL_SECONDS (every 50 ms where no socket can be made), so a lost datagram, or a
        writer that sends none, delays an event but loses none."""
        newest = await cursor_now_async()
        loop = asyncio.get_running_loop()
        sock, path = _wake_socket()
        interval = settings.STREAM_POLL_SECONDS if sock is None else settings.STREAM_SAFETY_SECONDS
        woken = asyncio.Event()
        announced = [newest]  # the newest event id a datagram announced

        def readable():
            while True:
                try:
                    datagram = sock.recv(64)
                except (BlockingIOError, InterruptedError):
                    return
                except OSError:
                    return
                parts = datagram.decode("ascii", "replace").split(":")
                account, room, event = (parts + ["", "", ""])[:3]  # noqa: RUF005
                if account.isdigit() and event.isdigit():
                    self.wake(int(account), int(room) if room.isdigit() else None)
                    announced[0] = max(announced[0], int(event))
                    woken.set()

        if sock is not None:
            loop.add_reader(sock.fileno(), readable)
        self.ready.set()
        read_at = time.monotonic()
        try:
            while await self._idle():
                with contextlib.suppress(TimeoutError):
                    due = read_at + interval - time.monotonic()
                    await asyncio.wait_for(woken.wait(), max(0.0, due))
                woken.clear()
                if time.monotonic() - read_at >= interval:  # on a schedule, datagrams or not
                    rows = await _sqlite_changes_async(newest)
                    read_at = time.monotonic()
                    # What a datagram announced woke its subscribers already (SQLite's ids are
                    # in commit order): only the rest wakes anyone, once.
                    for account, room in {(a, r) for i, a, r in rows if i > announced[0]}:
                        self.wake(account, room)
                    if rows:
                        newest = rows[-1][0]
        finally:
            self.ready.clear()
            if sock is not None:
                loop.remove_reader(sock.fileno())
                sock.close()
                with contextlib.suppress(OSError):
                    os.unlink(path)


# --- Wake-ups on SQLite: a datagram from the writer to each worker ----------------------------


def _wake_dir() -> Path | None:
    """The directory of the workers' sockets, beside the database file (so every process of one
    database finds it); None for a database in memory (the tests')."""
    name = str(settings.DATABASES["default"]["NAME"])
    if connection.vendor != "sqlite" or "memory" in name or not name.startswith("/"):
        return None
    return Path(name).with_name(Path(name).name + ".streams")


_sockets = itertools.count()


def _wake_socket() -> tuple[socket.socket | None, str]:
    directory = _wake_dir()
    if directory is None:
        return None, ""
    try:
        directory.mkdir(mode=0o700, exist_ok=True)
        path = str(directory / f"{os.getpid()}.{next(_sockets)}.sock")  # short: 108 bytes at most
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.bind(path)
    except OSError:
        logger.warning("No wake-up socket for the streams; reading the log instead.", exc_info=True)
        return None, ""
    return sock, path


def wake_send(account_id: int, room_id: int | None, event_id: int) -> None:
    """After a commit that logged event `event_id` (SQLite): tell every worker's hub. A socket
    whose worker is gone is removed. Never raises: the hubs' own reads are the safety net."""
    directory = _wake_dir()
    if directory is None:
        return
    datagram = f"{account_id}:{room_id or ''}:{event_id}".encode()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.setblocking(False)
        for entry in entries:
            if not entry.name.endswith(".sock"):
                continue
            try:
                sender.sendto(datagram, entry.path)
            except (ConnectionRefusedError, FileNotFoundError):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)  # its worker is gone
            except OSError:
                pass  # full (a busy worker): its next read of the log finds the event


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = weakref.WeakKeyDictionary()
_hubs_lock = threading.Lock()


def hub() -> Hub:
    """The hub of the running event loop (a web worker has one loop; tests make several)."""
    loop = asyncio.get_running_loop()
    with _hubs_lock:
        found = _hubs.get(loop)
        if found is None:
            found = _hubs[loop] = Hub()
        return found


# --- The bound ------------------------------------------------------------------------------

_live: dict[int | None, int] = defaultdict(int)
_live_lock = threading.Lock()


def live_reserve(account_id: int | None) -> Callable[[], None]:
    """Count a live connection of the account in this process (TooManyStreams beyond
    STREAMS_PER_ACCOUNT); returns its release, which may be called more than once."""
    with _live_lock:
        if _live[account_id] >= settings.STREAMS_PER_ACCOUNT:
            raise TooManyStreams()
        _live[account_id] += 1
    released = False

    def release():
        nonlocal released
        with _live_lock:
            if not released:
                released = True
                _live[account_id] -= 1
                if not _live[account_id]:
                    del _live[account_id]

    return release


# --- The responses ----------------------------------------------------------------------------


# What the streams' schema says (webhooks.views, rooms.views).
STREAM_PARAMETERS = [
    OpenApiParameter(
        "Last-Event-ID",
        location=OpenApiParameter.HEADER,
        required=False,
        description="Resume after this event (the `id` of the last one received; EventSource "
        "sends it when it reconnects). Without it the stream starts now.",
    ),
    OpenApiParameter(
        "last_event_id",
        required=False,
        description="The same as the `Last-Event-ID` header, for clients that cannot set it.",
    ),
]
STREAM_RESPONSES = {
    (200, "text/event-stream"): OpenApiResponse(
        OpenApiTypes.STR,
        description="Server-Sent Events, until STREAM_MAX_SECONDS (600 s) have passed: reconnect "
        "with `Last-Event-ID` to go on with nothing missed. A comment line every 15 s of silence.",
    ),
    400: ERROR_RESPONSES[400],
    404: ERROR_RESPONSES[404],
    429: OpenApiResponse(ErrorDetail, description="Too many live connections for this account."),
}


class IgnoreClientContentNegotiation(BaseContentNegotiation):
    """A stream answers `text/event-stream` whatever the client accepts (EventSource sends
    `Accept: text/event-stream`, curl `*/*`); its errors are JSON, as everywhere in the API."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def last_event_id(request) -> int | None:
    """The cursor a client resumes from: the `Last-Event-ID` header (EventSource sends it when
    it reconnects) or the `last_event_id` query parameter; 400 when it is not one of ours."""
    raw = request.headers.get("Last-Event-ID") or request.GET.get("last_event_id")
    return None if not raw else cursor_parse(raw)


def _frame(row: Row, event_name: str | None) -> bytes:
    name = event_name or row.type
    return f"id: {row.cursor}\nevent: {name}\ndata: {row.data}\n\n".encode()


class LiveResponse(StreamingHttpResponse):
    """A body that waits on the event loop (askhandle/asgi.py serves it). A WSGI server reads it
    to its end first (Django runs it with async_to_sync on the request's thread): its reads then
    run on that thread too, which the tests' database (one transaction) needs."""

    def __iter__(self):
        token = _on_request_thread.set(True)
        try:
            return super().__iter__()
        finally:
            _on_request_thread.reset(token)


def _response(
    body: Callable[[], AsyncIterator[bytes]], content_type: str, account_id: int | None
) -> StreamingHttpResponse:
    """A response whose body waits, counted against the account's bound from now until it
    is closed (Django closes every response once sent, or when the client went away)."""
    release = live_reserve(account_id)

    async def counted():
        try:
            async for chunk in body():
                yield chunk
        finally:
            release()

    response = LiveResponse(counted(), content_type=content_type)
    response._resource_closers.append(release)
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy in front must not buffer it (nginx)
    return response


def event_stream(
    *,
    account_id: int,
    room_id: int | None = None,
    types: tuple[str, ...] | None = None,
    event_name: str | None = None,
    after: int | None = None,
) -> StreamingHttpResponse:
    """The Server-Sent Events response of an account's events (of one room, of some types)
    after cursor `after` (from this request on when None; call it in the view): one event per
    log row, its `id` the cursor, its `event` the type (or `event_name`), its `data` the payload
    as the webhooks send it; a comment line every STREAM_HEARTBEAT_SECONDS of silence; the end
    after STREAM_MAX_SECONDS."""

    cursor = after if after is not None else cursor_now()

    async def body():
        nonlocal cursor
        async with hub().subscribe(account_id, room_id) as subscription:
            yield f"retry: {settings.STREAM_RETRY_MS}\n: connected\n\n".encode()
            started = last_sent = time.monotonic()
            while (now := time.monotonic()) - started < settings.STREAM_MAX_SECONDS:
                subscription.clear()
                rows, more = await log_read_async(
                    account_id=account_id, room_id=room_id, types=types, after=cursor
                )
                if rows:
                    cursor = rows[-1].cursor
                    yield b"".join(_frame(row, event_name) for row in rows)
                    last_sent = time.monotonic()
                if more:
                    continue  # a full batch: read on at once
                heartbeat = settings.STREAM_HEARTBEAT_SECONDS
                remaining = settings.STREAM_MAX_SECONDS - (now - started)
                quiet = heartbeat - (time.monotonic() - last_sent)
                if quiet <= 0:
                    yield b": heartbeat\n\n"
                    last_sent, quiet = time.monotonic(), heartbeat
                await subscription.wait(max(0.0, min(quiet, remaining)))

    return _response(body, "text/event-stream", account_id)


def wake_stream(*, account_id: int | None) -> StreamingHttpResponse:
    """A stream of wake-ups for the admin inbox: `event: changed`, data `{"rooms": [ids]}` (the
    rooms whose log grew; null for an event of no room), at most one per STREAM_POLL_SECONDS;
    every account's for `account_id` None (a superuser). No cursor: the page reloads its part."""

    async def body():
        async with hub().subscribe(account_id) as subscription:
            yield f"retry: {settings.STREAM_RETRY_MS}\n: connected\n\n".encode()
            started = time.monotonic()
            while (now := time.monotonic()) - started < settings.STREAM_MAX_SECONDS:
                remaining = settings.STREAM_MAX_SECONDS - (now - started)
                if await subscription.wait(min(settings.STREAM_HEARTBEAT_SECONDS, remaining)):
                    rooms = sorted({room for _, room in subscription.seen if room is not None})
                    subscription.clear()
                    yield f"event: changed\ndata: {json.dumps({'rooms': rooms})}\n\n".encode()
                    await asyncio.sleep(settings.STREAM_POLL_SECONDS)  # coalesce a burst
                else:
                    yield b": heartbeat\n\n"

    return _response(body, "text/event-stream", account_id)


def wait_param(request) -> float | None:
    """The `wait` of a long-poll in seconds (None without one); 400 unless 0-LONG_POLL_MAX."""
    raw = request.GET.get("wait")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= settings.LONG_POLL_MAX_SECONDS:
        raise ValidationError(
            {"wait": [f"Seconds to wait, from 0 to {settings.LONG_POLL_MAX_SECONDS}."]}
        )
    return min(seconds, settings.STREAM_MAX_SECONDS)  # a live connection, bounded as streams


def wait_response(
    *,
    account_id: int,
    room_id: int | None,
    seconds: float,
    answer: Callable[[], tuple[bytes, bool]],
) -> StreamingHttpResponse:
    """A long-poll's 200 whose body waits: `answer()` (run on a reader thread) gives the body
    and whether it is what the client waits for; it is run when the account's log grows (in
    `room_id`, if given), and its body sent as soon as it is, or after `seconds` regardless.
    The view checked it once already: the caller sends the answer directly when it is."""
    answer_async = _fresh(answer)

    async def body():
        deadline = time.monotonic() + seconds
        async with hub().subscribe(account_id, room_id) as subscription:
            while True:
                subscription.clear()
                content, done = await answer_async()
                remaining = deadline - time.monotonic()
                if done or remaining <= 0:
                    yield content
                    return
                await subscription.wait(remaining)

    return _response(body, "application/json", account_id)
