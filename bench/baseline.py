"""The bare floor: the benchmarked endpoints as a plain WSGI app (psycopg 3 + orjson, no Django).

Same SQL semantics as the server (an account's rows only, newest first, the exact `count` by
`COUNT(*)` as any plain implementation would do it), the same token check (SHA-256 digest of the
key, active key, active account), the same response shape and links. It serves only what the
benchmark asks (`limit`/`offset`, `room`, date-only `start_date`/`end_date`, a message POST) and
validates only what it must. Run by bench/run.py under gunicorn with the server's settings.

A message POST to a room with the bot on is a chat turn of a bare keyword bot, in one
transaction: the key check, the best knowledge entry by PostgreSQL's full-text rank over the
visitor's words, the visitor's message with that answer and the bot's message (or a hand-off,
which turns the room's bot off, as the server does).
"""

import datetime as dt
import hashlib
import os
import threading
from urllib.parse import parse_qsl, urlencode

import orjson
import psycopg

DSN = os.environ["BASELINE_DATABASE_URL"]
MESSAGE_COLUMNS = (
    "m.uuid, r.uuid, r.label, m.body, m.nickname, m.email, m.phone_number, "
    "m.is_support_sender, m.sent_at, m.support_answer, m.terminated, "
    "m.support_answer_sources, m.support_answer_confidence"
)
_local = threading.local()
HANDOFF = "Let me connect you with a person."
ROOM_MESSAGES_MAX = 100


def db():
    """One connection per worker thread, kept open (what the server's pool gives it too)."""
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(DSN, autocommit=True)
    return conn


def when(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def message_json(row):
    return {
        "uuid": str(row[0]),
        "room": {"uuid": str(row[1]), "label": row[2]},
        "body": row[3],
        "nickname": row[4],
        "email": row[5],
        "phone_number": row[6],
        "is_support_sender": row[7],
        "sent_at": when(row[8]),
        "support_answer": row[9],
        "terminated": row[10],
        "support_answer_sources": row[11],
        "support_answer_confidence": row[12],
    }


def respond(start_response, status, payload, extra=()):
    body = orjson.dumps(payload)
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *extra],
    )
    return [body]


def account_of(environ):
    header = environ.get("HTTP_AUTHORIZATION", "").split()
    if len(header) != 2 or header[0].lower() not in ("token", "bearer"):
        return None
    digest = hashlib.sha256(header[1].encode()).hexdigest()
    row = (
        db()
        .execute(
            "SELECT u.id FROM accounts_apikey k JOIN accounts_user u ON u.id = k.user_id "
            "WHERE k.digest = %s AND k.revoked_at IS NULL AND u.is_active",
            (digest,),
        )
        .fetchone()
    )
    return row[0] if row else None


def page_links(environ, params, limit, offset, count):
    base = f"http://{environ['HTTP_HOST']}{environ['PATH_INFO']}?"

    def link(new_offset):
        query = {**params, "limit": str(limit)}
        if new_offset:
            query["offset"] = str(new_offset)
        else:
            query.pop("offset", None)
        return base + urlencode(sorted(query.items()))  # as DRF orders them

    nxt = link(offset + limit) if offset + limit < count else None
    prev = None if offset <= 0 else link(max(offset - limit, 0))
    return nxt, prev


def date_range(params, column, where, args):
    if params.get("start_date"):
        where.append(f"{column} >= %s")
        args.append(dt.datetime.fromisoformat(params["start_date"]).replace(tzinfo=dt.UTC))
    if params.get("end_date"):
        day = dt.datetime.fromisoformat(params["end_date"]).replace(tzinfo=dt.UTC)
        where.append(f"{column} < %s")
        args.append(day + dt.timedelta(days=1))


def paging(params):
    limit = min(int(params.get("limit", 20)), 1000)
    offset = int(params.get("offset", 0))
    if limit < 1 or offset < 0:
        raise ValueError
    return limit, offset


def list_messages(environ, account, params):
    limit, offset = paging(params)
    where, args, join = ["m.account_id = %s"], [account], ""
    if params.get("room"):
        join = " JOIN rooms_room rf ON rf.id = m.room_id AND rf.uuid = %s"
        args.insert(0, params["room"])
    date_range(params, "m.sent_at", where, args)
    sql_where = " AND ".join(where)
    conn = db()
    count = conn.execute(
        f"SELECT COUNT(*) FROM messaging_message m{join} WHERE {sql_where}", args
    ).fetchone()[0]
    rows = conn.execute(
        f"SELECT {MESSAGE_COLUMNS} FROM messaging_message m{join} "
        f"JOIN rooms_room r ON r.id = m.room_id WHERE {sql_where} "
        "ORDER BY m.sent_at DESC, m.id DESC LIMIT %s OFFSET %s",
        [*args, limit, offset],
    ).fetchall()
    return count, [message_json(row) for row in rows], limit, offset


ROOM_COLUMNS = (
    "id, label, uuid, name, rating, is_bot_use, greeting_message, is_confirmed_form, "
    "is_scheduling_only, created_at"
)


def list_rooms(environ, account, params):
    limit, offset = paging(params)
    where, args = ["account_id = %s"], [account]
    date_range(params, "created_at", where, args)
    sql_where = " AND ".join(where)
    conn = db()
    count = conn.execute(f"SELECT COUNT(*) FROM rooms_room WHERE {sql_where}", args).fetchone()[0]
    rooms = conn.execute(
        f"SELECT {ROOM_COLUMNS} FROM rooms_room WHERE {sql_where} "
        "ORDER BY created_at DESC, id DESC LIMIT %s OFFSET %s",
        [*args, limit, offset],
    ).fetchall()
    nested = {room[0]: [] for room in rooms}
    counts = dict.fromkeys(nested, 0)
    if rooms:
        # Each room's ROOM_MESSAGES_MAX newest messages, oldest first, and its message count.
        for row in conn.execute(
            f"SELECT m.room_id, {MESSAGE_COLUMNS} FROM rooms_room r CROSS JOIN LATERAL ("
            "  SELECT * FROM messaging_message WHERE room_id = r.id "
            "  ORDER BY sent_at DESC, id DESC LIMIT %s) m "
            "WHERE r.id = ANY(%s) ORDER BY m.sent_at, m.id",
            [ROOM_MESSAGES_MAX, list(nested)],
        ):
            nested[row[0]].append(message_json(row[1:]))
        counts |= dict(
            conn.execute(
                "SELECT room_id, COUNT(*) FROM messaging_message WHERE room_id = ANY(%s) "
                "GROUP BY room_id",
                [list(nested)],
            ).fetchall()
        )
    results = [
        {
            "label": room[1],
            "uuid": str(room[2]),
            "name": room[3],
            "rating": room[4],
            "is_bot_use": room[5],
            "greeting_message": room[6],
            "is_confirmed_form": room[7],
            "is_scheduling_only": room[8],
            "created_at": when(room[9]),
            "messages": nested[room[0]],
            "message_count": counts[room[0]],
        }
        for room in rooms
    ]
    return count, results, limit, offset


def list_leads(environ, account, params):
    limit, offset = paging(params)
    where, args = ["account_id = %s"], [account]
    date_range(params, "created_at", where, args)
    sql_where = " AND ".join(where)
    conn = db()
    count = conn.execute(f"SELECT COUNT(*) FROM leads_lead WHERE {sql_where}", args).fetchone()[0]
    rows = conn.execute(
        "SELECT uuid, nickname, email, phone_number, device, from_page_title, referrer, "
        f"created_at FROM leads_lead WHERE {sql_where} "
        "ORDER BY created_at DESC, id DESC LIMIT %s OFFSET %s",
        [*args, limit, offset],
    ).fetchall()
    keys = ("nickname", "email", "phone_number", "device", "from_page_title", "referrer")
    results = [
        {"uuid": str(row[0]), **dict(zip(keys, row[1:7], strict=True)), "created_at": when(row[7])}
        for row in rows
    ]
    return count, results, limit, offset


def create_message(environ, account):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    data = orjson.loads(environ["wsgi.input"].read(length))
    room = data.get("room")
    room_uuid = room.get("uuid") if isinstance(room, dict) else room
    body = data.get("body")
    if not room_uuid or not isinstance(body, str) or not body.strip():
        return None
    conn = db()
    with conn.transaction():
        found = conn.execute(
            "SELECT id, is_bot_use FROM rooms_room WHERE account_id = %s AND uuid = %s",
            (account, room_uuid),
        ).fetchone()
        if found is None:
            return None
        room_id, bot = found
        support = bool(data.get("is_support_sender", False))
        answer = None
        if bot and not support:
            # The keyword bot: the best entry by full-text rank over any of the words.
            best = conn.execute(
                "SELECT answer FROM knowledge_knowledgeentry, (SELECT "
                "replace(plainto_tsquery('english', %s)::text, '&', '|')::tsquery AS q) t "
                "WHERE account_id = %s AND search_vector @@ t.q "
                "ORDER BY ts_rank(search_vector, t.q) DESC, id LIMIT 1",
                (body, account),
            ).fetchone()
            answer = best[0] if best else HANDOFF
            if best is None:
                conn.execute("UPDATE rooms_room SET is_bot_use = false WHERE id = %s", (room_id,))
        row = conn.execute(
            "INSERT INTO messaging_message (uuid, account_id, room_id, body, nickname, email, "
            "phone_number, is_support_sender, sent_at, support_answer, terminated) "
            "VALUES (gen_random_uuid(), %s, %s, %s, %s, %s, %s, %s, now(), %s, %s) "
            "RETURNING id",
            (
                account,
                room_id,
                body,
                data.get("nickname") or "",
                data.get("email") or "",
                data.get("phone_number") or "",
                support,
                answer,
                answer == HANDOFF,
            ),
        ).fetchone()
        if answer is not None:
            conn.execute(
                "INSERT INTO messaging_message (uuid, account_id, room_id, body, nickname, "
                "email, phone_number, is_support_sender, sent_at, support_answer, terminated) "
                "VALUES (gen_random_uuid(), %s, %s, %s, 'Bot', '', '', true, now(), NULL, false)",
                (account, room_id, answer),
            )
        full = conn.execute(
            f"SELECT {MESSAGE_COLUMNS} FROM messaging_message m "
            "JOIN rooms_room r ON r.id = m.room_id WHERE m.id = %s",
            (row[0],),
        ).fetchone()
    return message_json(full)


LISTS = {
    "/api/v1/messages/": list_messages,
    "/api/v1/rooms/": list_rooms,
    "/api/v1/leads/": list_leads,
}


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/healthz":
        return respond(start_response, "200 OK", {"status": "ok"})
    if not path.endswith("/"):
        path += "/"
    account = account_of(environ)
    if account is None:
        return respond(
            start_response,
            "401 Unauthorized",
            {"detail": "Invalid token."},
            [("WWW-Authenticate", "Token")],
        )
    method = environ["REQUEST_METHOD"]
    if method == "POST" and path == "/api/v1/messages/":
        created = create_message(environ, account)
        if created is None:
            return respond(start_response, "400 Bad Request", {"room": ["Invalid room."]})
        return respond(start_response, "201 Created", created)
    if method != "GET" or path not in LISTS:
        return respond(start_response, "404 Not Found", {"detail": "Not found."})
    params = dict(parse_qsl(environ.get("QUERY_STRING", "")))
    try:
        count, results, limit, offset = LISTS[path](environ, account, params)
    except ValueError:
        return respond(start_response, "400 Bad Request", {"detail": "Bad parameter."})
    nxt, prev = page_links(environ, params, limit, offset, count)
    return respond(
        start_response,
        "200 OK",
        {"count": count, "next": nxt, "previous": prev, "results": results},
    )
