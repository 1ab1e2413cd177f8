"""Live updates measured: how soon a subscriber receives a new message, and what idle subscribers
cost one process (docs/performance.md, "Live updates").

    .venv/bin/python bench/streams.py                  # SQLite (a scratch file), about 4 minutes
    .venv/bin/python bench/streams.py --database-url postgres://postgres@127.0.0.1:5432/streambench

The server runs as `./dev serve` runs it (askhandle/web.py `command()`: granian's ASGI interface,
askhandle/asgi.py; the task worker beside it), with the defaults' rate limits on and their counts
raised (bench/run.py's `server_env`). A PostgreSQL database given by --database-url **is dropped
and made again**. One account holds: rooms with the bot off and rooms with the bot on (the
latency), 500 chat rooms whose bot answers from a 1,000-entry knowledge base (bench/run.py's chat
turn: `import_knowledge`, then `embed_knowledge --now`), and idle rooms.

1. **Latency** (the default --workers 2): two subscribers on each latency room's stream
   (`GET /api/v1/rooms/<label>/events/`) and a few on the account's (`GET /api/v1/events/`);
   messages POSTed at --rate a second round the rooms, first the rooms with the bot off, then
   those with it on. Per message and subscriber: from the POST's 201 (the message committed) and
   from the POST sent to the event received; with the bot on, also from the POST sent to the bot's
   answer received. p50/p99, and the events missing after a drain of a few seconds.
2. **Idle subscribers** (--idle-workers 1: one process): the chat turn (wrk, bench/run.py's) with
   none and with --subscribers idle SSE subscribers on idle rooms' streams, alternating for
   --rounds rounds; requests/s and the ratio; the worker processes' RSS (/proc) before and after
   connecting them; whether every subscriber is still connected after the load.

Prints markdown tables (and writes them to --out).
"""

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

import run  # noqa: E402 (bench/run.py: the chat turn's knowledge, bodies, wrk, server env)
import servers  # noqa: E402 (bench/servers.py: start and stop a server command)

from askhandle import web  # noqa: E402

LATENCY_ROOMS = 20  # per kind (bot off, bot on)
ROOM_SUBSCRIBERS = 2  # per latency room
ACCOUNT_SUBSCRIBERS = 4  # on /events/
IDLE_ROOMS = 250
DRAIN_SECONDS = 3.0
TARGETS = {"p50_ms": 50, "p99_ms": 250, "ratio": 0.9}


# --- The data -----------------------------------------------------------------------------------


def prepare(dsn: str) -> dict:
    """A fresh database: migrated, one account with its key, its rooms and knowledge base."""
    if dsn.startswith("postgres"):
        run.recreate_database(dsn)
    run.manage("migrate", "--noinput", dsn=dsn)
    os.environ.update(
        {
            "DATABASE_URL": dsn,
            "DJANGO_SETTINGS_MODULE": "askhandle.settings",
            "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench",
        }
    )
    import django

    django.setup()
    from django.db import connections, transaction

    from accounts.services import account_create, api_key_issue
    from rooms.services import room_create

    with transaction.atomic():
        account = account_create(username="busy")
        _, key = api_key_issue(user=account, name="bench")
        rooms = {}
        for kind, count, bot in (
            ("off", LATENCY_ROOMS, False),
            ("on", LATENCY_ROOMS, True),
            ("chat", run.CHAT_ROOMS, True),
            ("idle", IDLE_ROOMS, False),
        ):
            rooms[kind] = [
                room_create(
                    account=account, label=f"{kind}-{i}", name=f"{kind} {i}", is_bot_use=bot
                )
                for i in range(count)
            ]
    connections.close_all()
    run.chat_knowledge(dsn, "busy")
    bodies = run.chat_bodies([str(room.uuid) for room in rooms["chat"]])
    return {
        "key": key,
        "account_id": account.pk,
        "rooms": {k: [(r.label, str(r.uuid)) for r in v] for k, v in rooms.items()},
        "bodies": str(bodies),
    }


def chat_reset(account_id: int, prefix: str = "chat") -> None:
    """The bot on again in every chat room (a hand-off turns it off), on either database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE rooms_room SET is_bot_use = %s WHERE account_id = %s "
            "AND label LIKE %s AND NOT is_bot_use",
            [True, account_id, f"{prefix}-%"],
        )
    connection.close()


# --- The server ---------------------------------------------------------------------------------


class Server:
    """The web server as `./dev serve` runs it (askhandle/web.py), the task worker beside it."""

    def __init__(self, dsn, port, workers, extra_env=()):
        self.port = port
        env = run.server_env(dsn, extra_env)
        self.env = env
        self.proc = servers.start_command(
            web.command(f"127.0.0.1:{port}", workers=workers), port, env
        )
        self.tasks = subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--no-reload"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def workers(self) -> list[int]:
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], capture_output=True, text=True
        ).stdout
        return [int(pid) for pid in out.split()]

    def rss_kib(self) -> list[int]:
        found = []
        for pid in self.workers():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        found.append(int(line.split()[1]))
        return found

    def stop(self):
        servers.stop(self.proc)
        servers.stop(self.tasks)


# --- HTTP on asyncio streams --------------------------------------------------------------------


async def read_head(reader) -> tuple[int, dict]:
    status = int((await reader.readline()).split()[1])
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


async def chunks(reader, headers):
    """The body's pieces as they arrive (chunked, sized, or until the connection closes)."""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                await reader.readline()
                return
            yield (await reader.readexactly(size + 2))[:-2]
    elif "content-length" in headers:
        yield await reader.readexactly(int(headers["content-length"]))
    else:
        while data := await reader.read(65536):
            yield data


def request_bytes(method, path, token, body=None, headers=()) -> bytes:
    data = b"" if body is None else json.dumps(body).encode()
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Token {token}"]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
    lines += list(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


class Client:
    """One keep-alive connection."""

    def __init__(self, port, token):
        self.port, self.token, self.reader, self.writer = port, token, None, None

    async def request(self, method, path, body=None) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(request_bytes(method, path, self.token, body))
        status, headers = await read_head(self.reader)
        payload = b"".join([piece async for piece in chunks(self.reader, headers)])
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, payload

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class Subscriber:
    """A Server-Sent Events client: frames parsed as they arrive, each handed to `sink` with the
    time it was read."""

    def __init__(self, port, token, path, sink, kind):
        self.port, self.token, self.path, self.sink, self.kind = port, token, path, sink, kind
        self.connected = asyncio.Event()
        self.error = None
        self.closed = False
        self.events = 0
        self.task = asyncio.get_running_loop().create_task(self.run())

    async def run(self):
        writer = None
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 20)
            writer.write(
                request_bytes("GET", self.path, self.token, headers=["Accept: text/event-stream"])
            )
            status, headers = await read_head(reader)
            if status != 200:
                body = b"".join([piece async for piece in chunks(reader, headers)])
                self.error = f"HTTP {status}: {body[:200]!r}"
                return
            buffer = b""
            async for piece in chunks(reader, headers):
                now = time.monotonic()
                buffer += piece
                while b"\n\n" in buffer:
                    frame, buffer = buffer.split(b"\n\n", 1)
                    self.frame(frame.decode(), now)
            self.error = "the stream ended"
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # reported, not raised: the bench counts them
            self.error = repr(exc)
        finally:
            self.closed = True
            self.connected.set()  # (whoever waits for it looks at `error`)
            if writer is not None:
                writer.close()

    def frame(self, frame: str, now: float):
        fields = {}
        for line in frame.split("\n"):
            if line.startswith(":"):
                if line.startswith(": connected"):
                    self.connected.set()
                continue
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value
        if "data" in fields:
            self.events += 1
            self.sink(self, fields.get("event"), json.loads(fields["data"]), now)


async def subscribe_all(subscribers, timeout=120.0) -> list[str]:
    """Wait until every subscriber is connected; the errors of those that could not."""
    await asyncio.wait_for(asyncio.gather(*(s.connected.wait() for s in subscribers)), timeout)
    return [s.error for s in subscribers if s.error]


async def close_all(subscribers):
    for subscriber in subscribers:
        subscriber.task.cancel()
    await asyncio.gather(*(s.task for s in subscribers), return_exceptions=True)


# --- 1. Latency ---------------------------------------------------------------------------------


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


async def latency(port, token, data, *, kind, count, rate) -> dict:
    """Messages POSTed at `rate` a second round the `kind` rooms; what every subscriber received."""
    received = defaultdict(dict)  # tag -> {subscriber: time}
    answers = {}  # tag -> first time the bot's answer was received on the room's stream
    last_tag = {}  # room label -> the latest visitor tag POSTed there (the bot answers it)
    rooms = data["rooms"][kind]

    def message_of(event, payload):
        if event == "message":
            return payload
        if event == "message.added":  # /events/: the webhook's payload
            return payload.get("data", payload) if "nickname" not in payload else payload
        return None

    def sink(subscriber, event, payload, now):
        message = message_of(event, payload)
        if message is None:
            return
        tag = message.get("nickname", "")
        if tag.startswith("t-"):
            received[tag].setdefault(subscriber, now)
        elif subscriber.kind == "room" and message.get("is_support_sender"):
            previous = last_tag.get(message["room"]["label"])
            if previous and previous not in answers:
                answers[previous] = now

    subscribers = [
        Subscriber(port, token, f"/api/v1/rooms/{label}/events/", sink, "room")
        for label, _ in rooms
        for _ in range(ROOM_SUBSCRIBERS)
    ] + [
        Subscriber(port, token, "/api/v1/events/", sink, "account")
        for _ in range(ACCOUNT_SUBSCRIBERS)
    ]
    errors = await subscribe_all(subscribers)
    by_room = defaultdict(list)
    for subscriber in subscribers:
        if subscriber.kind == "room":
            by_room[subscriber.path.split("/")[4]].append(subscriber)
    accounts = [s for s in subscribers if s.kind == "account"]

    sent, committed, answered, failures = {}, {}, set(), []
    pool = asyncio.Queue()
    for _ in range(8):
        pool.put_nowait(Client(port, token))
    run_id = uuid.uuid4().hex[:6]
    questions = [json.loads(line)["body"] for line in Path(data["bodies"]).read_text().splitlines()]
    started = time.monotonic() + 0.2

    async def post(index):
        label, room_uuid = rooms[index % len(rooms)]
        tag = f"t-{run_id}-{index}"
        body = questions[index % len(questions)] if kind == "on" else f"Hello, message {index}"
        await asyncio.sleep(max(0.0, started + index / rate - time.monotonic()))
        client = await pool.get()
        try:
            last_tag[label] = tag
            sent[tag] = (time.monotonic(), label)
            status, payload = await client.request(
                "POST",
                "/api/v1/messages/",
                {"room": {"uuid": room_uuid}, "body": body, "nickname": tag},
            )
            if status == 201:
                committed[tag] = time.monotonic()
                if json.loads(payload).get("support_answer"):
                    answered.add(tag)  # the bot answered it inline: its message follows
            else:
                failures.append(f"{status} {payload[:120]!r}")
        except Exception as exc:
            client.close()
            failures.append(repr(exc))
        finally:
            pool.put_nowait(client)

    await asyncio.gather(*(post(i) for i in range(count)))
    await asyncio.sleep(DRAIN_SECONDS)
    result = {"kind": kind, "messages": count, "rate": rate, "errors": errors, "failures": failures}
    for stream in ("room", "account"):
        from_201, from_sent, missing, expected = [], [], 0, 0
        for tag, (at, label) in sent.items():
            if tag not in committed:
                continue
            for subscriber in by_room[label] if stream == "room" else accounts:
                expected += 1
                got = received.get(tag, {}).get(subscriber)
                if got is None:
                    missing += 1
                    continue
                from_201.append((got - committed[tag]) * 1000)
                from_sent.append((got - at) * 1000)
        result[stream] = {
            "expected": expected,
            "missing": missing,
            "p50_201": percentile(from_201, 0.5),
            "p99_201": percentile(from_201, 0.99),
            "p50_sent": percentile(from_sent, 0.5),
            "p99_sent": percentile(from_sent, 0.99),
        }
    post_ms = [(committed[t] - sent[t][0]) * 1000 for t in committed]
    result["post_p50"], result["post_p99"] = percentile(post_ms, 0.5), percentile(post_ms, 0.99)
    if kind == "on":
        waits = [(answers[t] - sent[t][0]) * 1000 for t in answered if t in answers]
        result["answers"] = {
            "received": len(waits),
            "of": len(answered),
            "posted": len(committed),
            "p50_sent": percentile(waits, 0.5),
            "p99_sent": percentile(waits, 0.99),
        }
    result["dropped"] = [s.error for s in subscribers if s.error]
    await close_all(subscribers)
    return result


# --- 2. Idle subscribers ------------------------------------------------------------------------


class Loop:
    """An event loop on a thread of its own, holding subscribers while wrk runs."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine, timeout=300):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


async def idle_connect(port, token, data, count) -> list:
    rooms = data["rooms"]["idle"]

    def sink(subscriber, event, payload, now):
        pass  # nothing is posted in idle rooms; `events` counts anything that comes

    subscribers = []
    for index in range(count):  # in batches: the server authenticates each on a thread
        label = rooms[index % len(rooms)][0]
        subscribers.append(Subscriber(port, token, f"/api/v1/rooms/{label}/events/", sink, "idle"))
        if index % 100 == 99:
            await subscribe_all(subscribers[-100:])
    await subscribe_all(subscribers)
    return subscribers


async def idle_check(subscribers) -> dict:
    return {
        "open": sum(not s.closed for s in subscribers),
        "errors": sorted({s.error for s in subscribers if s.error})[:5],
        "events": sum(s.events for s in subscribers),
    }


def idle(dsn, data, args) -> dict:
    """The chat turn with none and with `args.subscribers` idle subscribers, alternating."""
    extra = [("STREAMS_PER_ACCOUNT", str(args.subscribers + 100)), *args.server_env]
    server = Server(dsn, args.port + 1, args.idle_workers, extra)
    loop = Loop()
    url = f"http://127.0.0.1:{server.port}/api/v1/messages/"
    runs = {0: [], args.subscribers: []}
    memory, checks = [], []
    try:
        chat_reset(data["account_id"])  # warm up: the encoder loaded, connections open
        run.wrk(
            url, connections=4, duration=3, token=data["key"], method=run.CHAT, body=data["bodies"]
        )
        for round_ in range(args.rounds):
            order = [0, args.subscribers] if round_ % 2 == 0 else [args.subscribers, 0]
            for count in order:
                subscribers = []
                if count:
                    before = server.rss_kib()
                    subscribers = loop.run(idle_connect(server.port, data["key"], data, count))
                    time.sleep(1)
                    after = server.rss_kib()
                    memory.append((before, after))
                chat_reset(data["account_id"])
                result = run.wrk(
                    url,
                    connections=args.chat_connections,
                    duration=args.duration,
                    token=data["key"],
                    method=run.CHAT,
                    body=data["bodies"],
                )
                runs[count].append(result)
                print(
                    f"  round {round_ + 1}, {count:>5} idle subscribers: {result['rps']:6.1f} "
                    f"req/s p50 {result['p50_ms']:.0f} ms errors {result['errors']}",
                    flush=True,
                )
                if count:
                    check = loop.run(idle_check(subscribers))
                    checks.append(check)
                    print(f"    subscribers after the load: {check}", flush=True)
                    loop.run(close_all(subscribers))
                    time.sleep(1)
                    memory[-1] += (server.rss_kib(),)
    finally:
        loop.stop()
        server.stop()
    summary = {
        label: {
            "rps": statistics.median(r["rps"] for r in results),
            "p50_ms": statistics.median(r["p50_ms"] for r in results),
            "p99_ms": statistics.median(r["p99_ms"] for r in results),
            "errors": sum(r["errors"] for r in results),
        }
        for label, results in runs.items()
    }
    deltas = [(sum(after) - sum(before)) for before, after, *_ in memory]
    return {
        "runs": summary,
        "ratio": summary[args.subscribers]["rps"] / summary[0]["rps"],
        "rss_before": statistics.median(sum(m[0]) for m in memory) / 1024,
        "rss_after": statistics.median(sum(m[1]) for m in memory) / 1024,
        "rss_closed": statistics.median(sum(m[-1]) for m in memory) / 1024,
        "per_subscriber_kib": statistics.median(deltas) / args.subscribers,
        "workers": len(memory[0][0]) if memory else 0,
        "checks": checks,
    }


# --- The report ---------------------------------------------------------------------------------


def report(database, args, results, idle_result, started) -> str:
    lines = [
        f"### {database}",
        "",
        f"Measured {started:%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores shared with other "
        f"sessions (load average at the start {os.getloadavg()[0]:.1f}); the server as "
        "`./dev serve` runs it (askhandle/web.py: granian ASGI, "
        f"{args.workers} workers x 4 API threads for the latency), rate limits on (counts raised).",
        "",
        f"**Message created -> event received** ({LATENCY_ROOMS} rooms per row, "
        f"{ROOM_SUBSCRIBERS} subscribers on each room's stream, {ACCOUNT_SUBSCRIBERS} on "
        "`/events/`; POSTs at a steady rate on 8 keep-alive connections):",
        "",
        "| bot | messages | rate/s | stream | received / expected | p50 from 201 ms "
        "| p99 from 201 ms | p50 from sent ms | p99 from sent ms | POST p50 / p99 ms |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        for stream in ("room", "account"):
            row = result[stream]
            lines.append(
                f"| {result['kind']} | {result['messages']} | {result['rate']} "
                f"| {'room' if stream == 'room' else '/events/'} "
                f"| {row['expected'] - row['missing']} / {row['expected']} "
                f"| **{row['p50_201']:.1f}** | **{row['p99_201']:.1f}** "
                f"| {row['p50_sent']:.1f} | {row['p99_sent']:.1f} "
                f"| {result['post_p50']:.1f} / {result['post_p99']:.1f} |"
            )
    for result in results:
        if "answers" in result:
            answers = result["answers"]
            lines += [
                "",
                f"With the bot on, the bot's answer (of the {answers['of']} of "
                f"{answers['posted']} messages it answered inline, per their 201) received on "
                f"the room's stream: {answers['received']}/{answers['of']}, "
                f"p50 {answers['p50_sent']:.0f} ms, p99 {answers['p99_sent']:.0f} ms from the "
                "POST sent.",
            ]
        problems = result["errors"] + result["dropped"] + result["failures"]
        if problems:
            lines += ["", f"Problems ({result['kind']}): {sorted(set(problems))[:5]}"]
    if idle_result:
        runs = idle_result["runs"]
        none, some = runs[0], runs[args.subscribers]
        lines += [
            "",
            f"**{args.subscribers:,} idle subscribers on one process** (--workers "
            f"{args.idle_workers}; the chat turn with wrk at {args.chat_connections} "
            f"connections, {args.duration} s per run, median of {args.rounds} alternating "
            "rounds; subscribers on "
            f"{IDLE_ROOMS} idle rooms' streams, STREAMS_PER_ACCOUNT raised):",
            "",
            "| idle subscribers | chat turn req/s | p50 ms | p99 ms | errors | worker RSS MiB |",
            "|---:|---:|---:|---:|---:|---:|",
            f"| 0 | {none['rps']:.1f} | {none['p50_ms']:.0f} | {none['p99_ms']:.0f} "
            f"| {none['errors']} | {idle_result['rss_before']:.0f} |",
            f"| {args.subscribers:,} | {some['rps']:.1f} | {some['p50_ms']:.0f} "
            f"| {some['p99_ms']:.0f} | {some['errors']} | {idle_result['rss_after']:.0f} |",
            "",
            f"Ratio {args.subscribers:,} / 0: **{idle_result['ratio']:.2f}** (target >= "
            f"{TARGETS['ratio']}); memory **{idle_result['per_subscriber_kib']:.1f} KiB per "
            f"subscriber** ({idle_result['workers']} worker process(es), RSS from /proc; "
            f"{idle_result['rss_closed']:.0f} MiB a second after they disconnected). "
            f"Subscribers still open after each load: "
            f"{[c['open'] for c in idle_result['checks']]}; errors "
            f"{sorted({e for c in idle_result['checks'] for e in c['errors']})[:3]}.",
        ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="", help="PostgreSQL (dropped!); default SQLite")
    parser.add_argument("--workers", type=int, default=2, help="the latency's server")
    parser.add_argument("--idle-workers", type=int, default=1, help="the idle subscribers' server")
    parser.add_argument("--messages", type=int, default=300, help="bot off (bot on: two thirds)")
    parser.add_argument("--rate", type=float, default=20, help="POSTs a second, bot off")
    parser.add_argument("--bot-rate", type=float, default=8, help="POSTs a second, bot on")
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--chat-connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["latency", "idle"], default=None)
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--port", type=int, default=18400)
    parser.add_argument("--out", default=str(BENCH / "results" / "streams.md"))
    args = parser.parse_args()
    args.server_env = [tuple(item.split("=", 1)) for item in args.server_env]
    # Every subscriber is a socket here and one in the server (which inherits the limit).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    started = dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory() as scratch:
        dsn = args.database_url or f"sqlite:///{scratch}/streams.sqlite3"
        database = "PostgreSQL" if dsn.startswith("postgres") else "SQLite"
        print(f"== {database}: preparing", flush=True)
        data = prepare(dsn)
        results, idle_result = [], None
        if args.only in (None, "latency"):
            server = Server(dsn, args.port, args.workers, args.server_env)
            try:
                for kind, count, rate in (
                    ("off", args.messages, args.rate),
                    ("on", args.messages * 2 // 3, args.bot_rate),
                ):
                    if kind == "on":
                        chat_reset(data["account_id"], "on")  # after a hand-off there
                    result = asyncio.run(
                        latency(server.port, data["key"], data, kind=kind, count=count, rate=rate)
                    )
                    results.append(result)
                    print(f"  latency, bot {kind}: {json.dumps(result, default=str)}", flush=True)
            finally:
                server.stop()
        if args.only in (None, "idle"):
            idle_result = idle(dsn, data, args)
        text = report(database, args, results, idle_result, started)
    Path(args.out).parent.mkdir(exist_ok=True)
    Path(args.out).write_text(text)
    print("\n" + text)
    print(f"Written to {args.out}; took {(dt.datetime.now(dt.UTC) - started).seconds}s.")


if __name__ == "__main__":
    main()
