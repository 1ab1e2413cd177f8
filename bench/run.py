"""The benchmark: seed PostgreSQL, run the server and the bare baseline under gunicorn, load both
with wrk, and report requests/s, p50/p99, errors and the ratio to the baseline of the same run.

    .venv/bin/python bench/run.py            # see docs/performance.md (the command, the options)

Needs `wrk` (apt-get install -y wrk), orjson (`pip install -e .[bench]`) and a PostgreSQL database
it may wipe (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/perfbench).
"""

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV_BIN = Path(sys.executable).parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/perfbench"
BUSY_ROOMS = 1000
OTHER_ACCOUNTS = 9
OTHER_ROOMS = 100
BUSY_SHARE = 0.9  # of the messages (and leads) belong to the busy account
HISTORY_DAYS = 365
RAISED_RATE = "100000000/min"
LIMITS_OFF = [("API_KEY_THROTTLE_RATE", "off"), ("CLIENT_ADDRESS_THROTTLE_RATE", "off")]
# The chat turn: visitor messages to CHAT_ROOMS rooms of the busy account, the bot answering from
# a knowledge base of CHAT_ENTRIES entries (bench/bot_knowledge.py and product filler, with
# their embeddings).
CHAT_ROOMS = 500
CHAT_ENTRIES = 1000


# Seeding: SQL only (generate_series), triggers off, counters rebuilt once at the end.


def seed(dsn: str, messages: int) -> dict:
    """Wipe and fill the database: one busy account (1,000 rooms, 90% of the messages and leads)
    and nine others; then rebuild the counters and VACUUM ANALYZE. Returns what the load needs."""
    keys = {}
    started = time.monotonic()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE accounts_user, accounts_apikey, rooms_room, messaging_message, leads_lead, "
            "fast_lists_daycount, fast_lists_dataversion, fast_lists_groupversion "
            "RESTART IDENTITY CASCADE"
        )
        # Loads rows with the triggers off (as pg_restore --disable-triggers would); the
        # counters are rebuilt from the rows below.
        conn.execute("SET session_replication_role = replica")
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        for index in range(OTHER_ACCOUNTS + 1):
            name = "busy" if index == 0 else f"other{index}"
            user_id = conn.execute(
                "INSERT INTO accounts_user (password, is_superuser, username, first_name, "
                "last_name, email, is_staff, is_active, date_joined) "
                "VALUES ('!', false, %s, '', '', '', false, true, %s) RETURNING id",
                (name, now),
            ).fetchone()[0]
            key = secrets.token_hex(20)
            conn.execute(
                "INSERT INTO accounts_apikey (user_id, name, digest, prefix, created_at) "
                "VALUES (%s, 'bench', %s, %s, %s)",
                (user_id, hashlib.sha256(key.encode()).hexdigest(), key[:8], now),
            )
            keys[name] = (user_id, key)
            rooms = BUSY_ROOMS if index == 0 else OTHER_ROOMS
            share = BUSY_SHARE if index == 0 else (1 - BUSY_SHARE) / OTHER_ACCOUNTS
            n_messages = int(messages * share)
            n_leads = max(int(messages / 10 * share), 10)
            # Rooms opened evenly over the history; messages go round the rooms, each room's
            # a minute apart from its opening; a bit more than 2 days of margin to "now".
            conn.execute(
                "INSERT INTO rooms_room (uuid, account_id, label, name, rating, is_bot_use, "
                "greeting_message, is_confirmed_form, is_scheduling_only, created_at) "
                "SELECT gen_random_uuid(), %(user)s, 'room-' || g, 'Room ' || g, "
                "CASE WHEN g %% 3 = 0 THEN 1 + g %% 5 END, true, 'Hello! How can we help?', "
                "false, false, "
                "%(now)s - interval '3 days' - (g::bigint * %(step)s) * interval '1 second' "
                "FROM generate_series(0, %(rooms)s - 1) g",
                {
                    "user": user_id,
                    "now": now,
                    "rooms": rooms,
                    "step": HISTORY_DAYS * 86400 // rooms,
                },
            )
            conn.execute(
                "INSERT INTO messaging_message (uuid, account_id, room_id, body, nickname, email, "
                "phone_number, is_support_sender, sent_at, support_answer, terminated) "
                "SELECT gen_random_uuid(), %(user)s, r.id, "
                "'Hello, I would like to know more about your pricing plans, message ' || g, "
                "'Visitor ' || (g %% 97), CASE WHEN g %% 10 = 0 THEN 'v' || g || '@example.com' "
                "ELSE '' END, '', g %% 2 = 1, "
                "r.created_at + (g / %(rooms)s) * interval '1 minute', "
                "CASE WHEN g %% 2 = 0 THEN 'Our plans start at 10 EUR a month.' END, false "
                "FROM generate_series(0, %(n)s - 1) g "
                "JOIN (SELECT id, created_at, row_number() OVER (ORDER BY id) - 1 AS k "
                "      FROM rooms_room WHERE account_id = %(user)s) r ON r.k = g %% %(rooms)s",
                {"user": user_id, "rooms": rooms, "n": n_messages},
            )
            conn.execute(
                "INSERT INTO leads_lead (uuid, account_id, nickname, email, phone_number, device, "
                "from_page_title, referrer, created_at) "
                "SELECT gen_random_uuid(), %(user)s, 'Visitor ' || g, 'v' || g || '@example.com',"
                " '', 'desktop', 'Pricing', 'https://example.com/pricing', "
                "%(now)s - interval '1 day' - (g::bigint * %(step)s) * interval '1 millisecond' "
                "FROM generate_series(0, %(n)s - 1) g",
                {
                    "user": user_id,
                    "now": now,
                    "n": n_leads,
                    "step": HISTORY_DAYS * 86400 * 1000 // n_leads,
                },
            )
            if index == 0:
                conn.execute(
                    "INSERT INTO rooms_room (uuid, account_id, label, name, is_bot_use, "
                    "greeting_message, is_confirmed_form, is_scheduling_only, created_at) "
                    "SELECT gen_random_uuid(), %(user)s, 'chat-' || g, 'Chat ' || g, true, '', "
                    "false, false, %(now)s - interval '400 days' "
                    "FROM generate_series(0, %(rooms)s - 1) g",
                    {"user": user_id, "now": now, "rooms": CHAT_ROOMS},
                )
        conn.execute("SET session_replication_role = origin")
    manage("rebuild_counts", dsn=dsn)
    chat_bodies = seed_chat(dsn, keys["busy"][0])
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        busy_id = keys["busy"][0]
        # The newest room for the room filter; POSTs go to the oldest (off the first pages).
        room, post_room = (
            conn.execute(
                "SELECT uuid FROM rooms_room WHERE account_id = %s AND label LIKE 'room-%%' "
                f"ORDER BY created_at {order} LIMIT 1",
                (busy_id,),
            ).fetchone()[0]
            for order in ("DESC", "ASC")
        )
        conn.execute("UPDATE rooms_room SET is_bot_use = false WHERE uuid = %s", (post_room,))
        total = conn.execute(
            "SELECT COUNT(*) FROM messaging_message WHERE account_id = %s", (busy_id,)
        ).fetchone()[0]
        depth = min(100_000, total - 40)
        deep = conn.execute(
            "SELECT sent_at, id FROM messaging_message WHERE account_id = %s "
            "ORDER BY sent_at DESC, id DESC OFFSET %s LIMIT 1",
            (busy_id, depth - 1),
        ).fetchone()
    from askhandle.api.pagination import LimitOffsetPagination

    print(f"  seeded {messages:,} messages in {time.monotonic() - started:.0f}s", flush=True)
    (BENCH / ".last-key").write_text(keys["busy"][1])  # for profiling by hand afterwards
    return {
        "key": keys["busy"][1],
        "room": str(room),
        "post_room": str(post_room),
        "busy_messages": total,
        "depth": depth,
        "deep_cursor": LimitOffsetPagination.encode_cursor(list(deep)),
        "today": now.date(),
        "chat_bodies": str(chat_bodies),
        "busy_id": busy_id,
    }


def seed_chat(dsn: str, user_id: int) -> Path:
    """The busy account's knowledge base and the file of chat-turn bodies to its chat rooms."""
    chat_knowledge(dsn, "busy")
    with psycopg.connect(dsn, autocommit=True) as conn:
        # The message POSTs of the other loads go to a room without the bot, as before.
        rooms = [
            str(row[0])
            for row in conn.execute(
                "SELECT uuid FROM rooms_room WHERE account_id = %s AND label LIKE 'chat-%%' "
                "ORDER BY id",
                (user_id,),
            )
        ]
    return chat_bodies(rooms)


def chat_knowledge(dsn: str, username: str) -> None:
    """The account's knowledge base of CHAT_ENTRIES entries (bench/bot_knowledge.py and product
    filler), imported as a user would: `import_knowledge`, then `embed_knowledge --now` for the
    embeddings the task worker would make. Any database (bench/streams.py uses it on SQLite)."""
    sys.path.insert(0, str(BENCH))
    from bot_eval import filler_entries
    from bot_knowledge import ENTRIES

    entries = [{"question": q, "answer": a, "tags": t} for q, a, t, _ in ENTRIES]
    entries += [
        {"question": q, "answer": a, "tags": t}
        for q, a, t in filler_entries(CHAT_ENTRIES - len(entries))
    ]
    knowledge = BENCH / ".chat-knowledge.json"
    knowledge.write_text(json.dumps(entries))
    manage("import_knowledge", str(knowledge), "--account", username, dsn=dsn)
    # The entries' vectors, as the task worker makes them after an import (here and now).
    manage("embed_knowledge", "--now", "--account", username, dsn=dsn)


def chat_bodies(rooms: list[str]) -> Path:
    """The file of chat-turn bodies: each answerable question of bench/bot_knowledge.py to the
    rooms (uuids) in turn."""
    sys.path.insert(0, str(BENCH))
    from bot_knowledge import ENTRIES

    questions = [q for _, _, _, asked in ENTRIES for q in asked]
    bodies = BENCH / ".chat-bodies.jsonl"
    bodies.write_text(
        "".join(
            json.dumps({"room": {"uuid": rooms[i % len(rooms)]}, "body": question, "nickname": "V"})
            + "\n"
            for i, question in enumerate(questions * (len(rooms) // len(questions) + 1))
        )
    )
    return bodies


def chat_reset(dsn: str, user_id: int) -> None:
    """The bot on again in every chat room (a hand-off turns it off) before a chat-turn run."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE rooms_room SET is_bot_use = true WHERE account_id = %s "
            "AND label LIKE 'chat-%%' AND NOT is_bot_use",
            (user_id,),
        )


def manage(*args, dsn):
    subprocess.run(
        [sys.executable, "manage.py", *args, "-v0"],
        cwd=ROOT,
        env=server_env(dsn),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def server_env(dsn, extra=()):
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "BASELINE_DATABASE_URL": dsn,
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        # The defaults' rate limiting (what ./dev serve and the compose stack run), with counts
        # no load here reaches: measured as users run it (`--also-limits-off` beside it).
        "API_KEY_THROTTLE_RATE": RAISED_RATE,
        "CLIENT_ADDRESS_THROTTLE_RATE": RAISED_RATE,
        "DEBUG": "",
    }
    env.update(dict(extra))
    return env


# Servers.


class Gunicorn:
    """A WSGI app served as `./dev serve` serves the project (askhandle/web.py: granian), or by
    gunicorn with `--server gunicorn` (`args`: gunicorn's options)."""

    server = "granian"

    def __init__(self, app, port, args, env, chdir):
        self.url = f"http://127.0.0.1:{port}"
        if self.server.startswith("granian"):
            from askhandle import web

            workers = int(args[args.index("--workers") + 1])
            threads = int(args[args.index("--threads") + 1]) if "--threads" in args else 1
            module, _, name = app.partition(":")
            bind = f"127.0.0.1:{port}"
            if module == "askhandle.wsgi" and self.server == "granian-wsgi":
                # The project as ./dev serve ran it before the live updates (bench/ab.py's A).
                command = web.command(bind, workers=workers, threads=threads, interface="wsgi")
            elif module == "askhandle.wsgi":
                # The project as ./dev serve runs it (askhandle/asgi.py: the API on a pool of
                # `threads` threads, the live requests on the event loop).
                command = web.command(bind, workers=workers, threads=threads)
            else:  # a plain WSGI app (the baseline): granian's WSGI interface, the same options
                command = web.command(bind, workers=workers, threads=threads, interface="wsgi")
                command[-1] = f"{module}:{name or 'application'}"
        else:
            command = [str(VENV_BIN / "gunicorn"), app, "--bind", f"127.0.0.1:{port}", *args]
        self.proc = subprocess.Popen(
            command,
            cwd=chdir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{app} did not start on port {port}")

    def workers(self):
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], capture_output=True, text=True
        ).stdout
        return [int(pid) for pid in out.split()]

    def worker_rss_kib(self):
        total = []
        for pid in self.workers():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total.append(int(line.split()[1]))
        return total

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# A GET endpoint with every WRITE_EVERY-th request a POST of a message (the body given): pages
# cached by the server are invalidated as a polling frontend's would be while visitors write.
MIXED = "GET+POST"
# POSTs of the lines of a file in turn (bench/wrk/report.lua's BENCH_BODIES): the chat turn.
CHAT = "CHAT"
CHAT_CONNECTIONS = (16, 64)
WRITE_EVERY = 10


def wrk(url, *, connections, duration, token, method="GET", body=""):
    env = {**os.environ, "BENCH_TOKEN": token, "BENCH_METHOD": method, "BENCH_BODY": body}
    if method == CHAT:
        env |= {"BENCH_METHOD": "POST", "BENCH_BODY": "", "BENCH_BODIES": body}
    if method == MIXED:
        env |= {
            "BENCH_METHOD": "GET",
            "BENCH_BODY": "",
            "BENCH_WRITE_EVERY": str(WRITE_EVERY),
            "BENCH_WRITE_PATH": "/api/v1/messages/",
            "BENCH_WRITE_BODY": body,
        }
    out = subprocess.run(
        [
            "wrk",
            f"-t{min(connections, 2)}",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "10s",
            "-s",
            str(BENCH / "wrk" / "report.lua"),
            url,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    drain(url)
    line = next(line for line in out.splitlines() if line.startswith("BENCH_JSON "))
    data = json.loads(line.removeprefix("BENCH_JSON "))
    seconds = data["duration_us"] / 1e6
    return {
        "rps": data["requests"] / seconds,
        "p50_ms": data["p50_us"] / 1000,
        "p99_ms": data["p99_us"] / 1000,
        "errors": data["errors"],
        "requests": data["requests"],
    }


def drain(url):
    """Wait until the server has answered what wrk left queued (slow pages can pile up a few
    seconds of work), so the next run does not pay for this one."""
    base = url.split("/api/", 1)[0]
    with urllib.request.urlopen(base + "/healthz", timeout=120) as response:
        response.read()
    with urllib.request.urlopen(base + "/healthz", timeout=120) as response:
        response.read()


def endpoints(data):
    today = data["today"]
    start = (today - dt.timedelta(days=120)).isoformat()
    end = (today - dt.timedelta(days=30)).isoformat()
    post = json.dumps(
        {"room": {"uuid": data["post_room"]}, "body": "How much is it?", "nickname": "B"}
    )
    return [
        # name, path, method, body, baseline too
        ("messages", "/api/v1/messages/?limit=20", "GET", "", True),
        ("messages room", f"/api/v1/messages/?room={data['room']}&limit=20", "GET", "", True),
        (
            "messages dates",
            f"/api/v1/messages/?start_date={start}&end_date={end}&limit=20",
            "GET",
            "",
            True,
        ),
        ("rooms", "/api/v1/rooms/?limit=20", "GET", "", True),
        ("leads dates", f"/api/v1/leads/?start_date={start}&end_date={end}", "GET", "", True),
        ("POST message", "/api/v1/messages/", "POST", post, True),
        (f"messages + {100 // WRITE_EVERY}% POST", "/api/v1/messages/?limit=20", MIXED, post, True),
        (f"rooms + {100 // WRITE_EVERY}% POST", "/api/v1/rooms/?limit=20", MIXED, post, True),
        *(
            [("chat turn", "/api/v1/messages/", CHAT, data["chat_bodies"], True)]
            if "chat_bodies" in data  # (a seed from before the chat turn: bench/ab.py)
            else []
        ),
        (
            f"offset {data['depth']}",
            f"/api/v1/messages/?limit=20&offset={data['depth']}",
            "GET",
            "",
            True,
        ),
        ("cursor first", "/api/v1/messages/?limit=20&cursor=", "GET", "", False),
        (
            f"cursor at {data['depth']}",
            f"/api/v1/messages/?limit=20&cursor={data['deep_cursor']}",
            "GET",
            "",
            False,
        ),
    ]


def check_same_answers(server, baseline, data):
    """The two apps answer the benchmarked GETs with the same JSON (else the ratio means little)."""
    for name, path, method, _, with_baseline in endpoints(data):
        if method != "GET" or not with_baseline:
            continue
        answers = []
        for target in (server, baseline):
            request = urllib.request.Request(
                target.url + path, headers={"Authorization": f"Token {data['key']}"}
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                answer = json.loads(response.read())
            for link in ("next", "previous"):
                if answer[link]:
                    answer[link] = answer[link].split("?", 1)[1]  # ports differ
            answers.append(answer)
        if answers[0] != answers[1]:
            raise SystemExit(f"server and baseline disagree on {name}: {path}")


def run_scale(messages, args, gunicorn_args, dsn):
    print(f"\n== {messages:,} messages", flush=True)
    data = seed(dsn, messages)
    env = server_env(dsn, [item.split("=", 1) for item in args.server_env])
    server = Gunicorn("askhandle.wsgi", args.port, gunicorn_args, env, ROOT)
    baseline = Gunicorn("baseline:app", args.port + 1, gunicorn_args, env, BENCH)
    limits_off = None
    if args.also_limits_off:
        off_env = server_env(dsn, [*[i.split("=", 1) for i in args.server_env], *LIMITS_OFF])
        limits_off = Gunicorn("askhandle.wsgi", args.port + 2, gunicorn_args, off_env, ROOT)
    rows = []
    try:
        check_same_answers(server, baseline, data)
        for target in (server, baseline):  # warm up: imports, connections, caches
            wrk(target.url + "/api/v1/messages/", connections=4, duration=2, token=data["key"])
        selected = [e for e in endpoints(data) if not args.only or e[0] in args.only]
        for index, (name, path, method, body, with_baseline) in enumerate(selected):
            for connections in CHAT_CONNECTIONS if method == CHAT else args.connections:
                targets = [("server", server)] + ([("baseline", baseline)] if with_baseline else [])
                if limits_off is not None:
                    targets.append(("limits off", limits_off))
                results = {label: [] for label, _ in targets}
                for round_ in range(args.rounds):
                    # Alternate who goes first, so drift on the shared machine hits both alike.
                    order = targets if (index + round_) % 2 == 0 else targets[::-1]
                    for label, target in order:
                        if method == CHAT:
                            chat_reset(dsn, data["busy_id"])
                        results[label].append(
                            wrk(
                                target.url + path,
                                connections=connections,
                                duration=args.duration,
                                token=data["key"],
                                method=method,
                                body=body,
                            )
                        )
                row = {"scale": messages, "endpoint": name, "connections": connections}
                for label, runs in results.items():
                    row[label] = {
                        "rps": statistics.median(r["rps"] for r in runs),
                        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
                        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
                        "errors": sum(r["errors"] for r in runs),
                    }
                rows.append(row)
                print(format_row(row), flush=True)
        if args.memory:
            rows_memory = memory_check(server, data, args.memory)
            print("  " + rows_memory["text"], flush=True)
            rows.append({"scale": messages, "memory": rows_memory})
    finally:
        server.stop()
        baseline.stop()
        if limits_off is not None:
            limits_off.stop()
    return rows


def memory_check(server, data, total):
    """Worker RSS after a tenth of `total` requests and after all of them, cycling through every
    endpoint in 5-second runs (a leak anywhere shows as growth between the two)."""
    mix = endpoints(data)
    done, runs, first = 0, 0, None
    while done < total:
        _, path, method, body, _ = mix[runs % len(mix)]
        result = wrk(
            server.url + path,
            connections=16,
            duration=5,
            token=data["key"],
            method=method,
            body=body,
        )
        done, runs = done + result["requests"], runs + 1
        if first is None and done >= total // 10:
            first = (done, server.worker_rss_kib())
    last = (done, server.worker_rss_kib())
    growth = (sum(last[1]) - sum(first[1])) / sum(first[1])
    text = (
        f"worker RSS after {first[0]:,} requests: {[k // 1024 for k in first[1]]} MiB; "
        f"after {last[0]:,}: {[k // 1024 for k in last[1]]} MiB ({growth:+.1%} in total)"
    )
    return {"first": first, "last": last, "growth": growth, "text": text}


def format_row(row):
    server = row["server"]
    text = (
        f"  {row['endpoint']:<18} c={row['connections']:<3} server {server['rps']:7.0f} req/s "
        f"p50 {server['p50_ms']:7.2f} ms p99 {server['p99_ms']:8.2f} ms err {server['errors']}"
    )
    if "baseline" in row:
        base = row["baseline"]
        text += (
            f" | baseline {base['rps']:7.0f} req/s p50 {base['p50_ms']:7.2f} ms "
            f"err {base['errors']} | ratio {server['rps'] / base['rps']:.2f}x"
        )
    if "limits off" in row:
        off = row["limits off"]
        text += (
            f" | limits off {off['rps']:7.0f} req/s p50 {off['p50_ms']:7.2f} ms "
            f"(defaults at {server['rps'] / off['rps']:.2f}x of it)"
        )
    return text


def markdown(rows, args, gunicorn_args, started):
    lines = [
        f"Measured {started:%Y-%m-%d %H:%M} UTC on {machine()}.",
        "",
        f"Command: `{' '.join(['.venv/bin/python', *sys.argv])}`; {args.server} "
        f"{args.workers} workers x {args.threads} threads; rate limits on (counts raised); "
        f"wrk {args.duration}s per run, median of {args.rounds} alternating round(s).",
        "",
        "| messages | endpoint | conns | server req/s | p50 ms | p99 ms | errors "
        "| baseline req/s | p50 ms | p99 ms | errors | ratio (req/s) |"
        + (" limits off req/s | defaults / off |" if args.also_limits_off else ""),
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        + ("---:|---:|" if args.also_limits_off else ""),
    ]
    for row in rows:
        if "memory" in row:
            continue
        server, base = row["server"], row.get("baseline")
        cells = [
            f"{row['scale']:,}",
            row["endpoint"],
            str(row["connections"]),
            f"{server['rps']:.0f}",
            f"{server['p50_ms']:.2f}",
            f"{server['p99_ms']:.2f}",
            str(server["errors"]),
        ]
        if base:
            cells += [
                f"{base['rps']:.0f}",
                f"{base['p50_ms']:.2f}",
                f"{base['p99_ms']:.2f}",
                str(base["errors"]),
                f"**{server['rps'] / base['rps']:.2f}x**",
            ]
        else:
            cells += ["", "", "", "", ""]
        if "limits off" in row:
            off = row["limits off"]
            cells += [f"{off['rps']:.0f}", f"{server['rps'] / off['rps']:.2f}x"]
        lines.append("| " + " | ".join(cells) + " |")
    flat = flatness(rows)
    if flat:
        lines += ["", "Page-1 p50 at the largest scale over the smallest (c=1):", ""]
        lines += [f"- {name}: {ratio:.2f}x" for name, ratio in flat]
    for row in rows:
        if "memory" in row:
            lines += ["", f"Memory ({row['scale']:,} messages): {row['memory']['text']}"]
    return "\n".join(lines) + "\n"


def flatness(rows):
    scales = sorted({row["scale"] for row in rows})
    if len(scales) < 2:
        return []
    by_key = {
        (row["scale"], row["endpoint"], row["connections"]): row for row in rows if "server" in row
    }
    low, high = scales[0], scales[-1]
    conns = min(row["connections"] for row in rows if "server" in row)
    out = []
    for (scale, endpoint, connections), row in by_key.items():
        if scale != high or connections != conns or endpoint.startswith(("offset", "cursor at")):
            continue
        other = by_key.get((low, endpoint, connections))
        if other:
            out.append((endpoint, row["server"]["p50_ms"] / other["server"]["p50_ms"]))
    return out


def machine():
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    with psycopg.connect(os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
    return (
        f"{os.cpu_count()} x {cpu}, Linux {platform.release()}, Python "
        f"{platform.python_version()}, PostgreSQL {pg} on loopback (shared machine)"
    )


def create_database(dsn):
    """The benchmark's database, made on first use (from the server's `postgres` database)."""
    from psycopg import conninfo, sql

    params = conninfo.conninfo_to_dict(dsn)
    name = params.get("dbname")
    with psycopg.connect(conninfo.make_conninfo(dsn, dbname="postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"Created database {name}.")


def recreate_database(dsn):
    """The benchmark's database dropped and made empty (it is the benchmark's own), for a schema
    made by the migrations of the code that runs next (bench/ab.py, bench/streams.py)."""
    from psycopg import conninfo, sql

    name = conninfo.conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(conninfo.make_conninfo(dsn, dbname="postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def setup_django():
    """Django for the seed's helpers (the cursor encoding); returns the database URL."""
    dsn = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "askhandle.settings")
    os.environ.update({"SECRET_KEY": os.environ.get("SECRET_KEY") or "bench", "DATABASE_URL": dsn})
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    return dsn


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="10000,1000000", help="messages, comma-separated")
    parser.add_argument("--connections", default="1,16", help="wrk connections, comma-separated")
    parser.add_argument("--duration", type=int, default=4, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds per cell")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", 2)))
    parser.add_argument("--threads", type=int, default=4, help=">1: the gthread worker")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument(
        "--only", default="", help='endpoints by name, comma-separated (e.g. "messages,rooms")'
    )
    parser.add_argument(
        "--also-limits-off",
        action="store_true",
        help="also the server with the rate limits off (port+2), reported beside the defaults",
    )
    parser.add_argument("--memory", type=int, default=0, help="requests for the RSS check")
    parser.add_argument("--port", type=int, default=18201, help="server; baseline on port+1")
    parser.add_argument(
        "--accept-encoding",
        default="",
        help='an Accept-Encoding header on every request of wrk (e.g. "gzip"), to both apps',
    )
    parser.add_argument(
        "--server",
        choices=["granian", "gunicorn"],
        default="granian",
        help="the web server (granian: what ./dev serve and the image run)",
    )
    parser.add_argument("--out", default=str(BENCH / "results.md"))
    args = parser.parse_args()
    if args.accept_encoding:
        os.environ["BENCH_ACCEPT_ENCODING"] = args.accept_encoding  # read by wrk/report.lua
    args.connections = [int(c) for c in args.connections.split(",")]
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    dsn = setup_django()
    Gunicorn.server = args.server
    gunicorn_args = ["--workers", str(args.workers)]
    if args.threads > 1:
        gunicorn_args += ["--worker-class", "gthread", "--threads", str(args.threads)]
    started = dt.datetime.now(dt.UTC)
    create_database(dsn)
    manage("migrate", "--noinput", dsn=dsn)
    rows = []
    for scale in [int(s) for s in args.scales.split(",")]:
        rows += run_scale(scale, args, gunicorn_args, dsn)
    text = markdown(rows, args, gunicorn_args, started)
    Path(args.out).write_text(text)
    print("\n" + text)
    print(f"Written to {args.out}; took {(dt.datetime.now(dt.UTC) - started).seconds}s.")


if __name__ == "__main__":
    main()
