"""Where a chat turn's time goes: in-process `POST /api/v1/messages/` of visitor messages to the
bot rooms of bench/run.py's data, under cProfile, with the queries of one turn.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/perfbench \\
        .venv/bin/python bench/profile_turn.py [--turns 200] [--top 30]

Run bench/run.py first (it seeds the data and writes bench/.last-key and bench/.chat-bodies.jsonl).
`--plain` profiles bench/run.py's `POST message` instead (one room, the bot off).
Prints the mean wall time per turn (unprofiled, then profiled), the SQL of one turn, and the
functions by cumulative time.
"""

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="cumulative", help="pstats order: cumulative, tottime")
    parser.add_argument("--save", help="also write the profile to this file (for pstats)")
    parser.add_argument(
        "--plain",
        action="store_true",
        help="profile bench/run.py's `POST message` instead (one room, the bot off)",
    )
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/perfbench"
    )
    os.environ.setdefault("SECRET_KEY", "bench-only-secret")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "askhandle.settings")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("API_KEY_THROTTLE_RATE", "100000000/min")
    os.environ.setdefault("CLIENT_ADDRESS_THROTTLE_RATE", "100000000/min")
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(BENCH))
    import django

    django.setup()
    import run
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    key = (BENCH / ".last-key").read_text().strip()
    if args.plain:
        bodies = [_plain_body(connection)]
    else:
        bodies = (BENCH / ".chat-bodies.jsonl").read_text().splitlines()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    def turn(index):
        response = client.post(
            "/api/v1/messages/", bodies[index % len(bodies)], content_type="application/json"
        )
        assert response.status_code == 201, response.content

    for index in range(20):  # warm: the model, the account's matrix, prepared statements
        turn(index)
    with CaptureQueriesContext(connection) as queries:
        turn(20)
    print(f"Queries of one turn: {len(queries)}")
    for query in queries.captured_queries:
        print(f"  {query['time']}s  {query['sql'][:160]}")
    started = time.perf_counter()
    for index in range(args.turns):
        turn(21 + index)
    elapsed = time.perf_counter() - started
    print(f"\n{args.turns} turns: {elapsed / args.turns * 1000:.2f} ms per turn (not profiled)")
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    for index in range(args.turns):
        turn(21 + args.turns + index)
    profile.disable()
    elapsed = time.perf_counter() - started
    print(f"{args.turns} turns: {elapsed / args.turns * 1000:.2f} ms per turn (profiled)")
    pstats.Stats(profile).sort_stats(args.sort).print_stats(args.top)
    if args.save:
        profile.dump_stats(args.save)
    run.chat_reset(os.environ["DATABASE_URL"], _busy_id(connection))


def _plain_body(connection):
    """bench/run.py's `POST message`: to the busy account's oldest room (its bot off)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT r.uuid FROM rooms_room r JOIN accounts_user u ON u.id = r.account_id "
            "WHERE u.username = 'busy' AND r.label LIKE 'room-%%' AND NOT r.is_bot_use "
            "ORDER BY r.created_at LIMIT 1"
        )
        room = cursor.fetchone()[0]
    return json.dumps({"room": {"uuid": str(room)}, "body": "How much is it?", "nickname": "B"})


def _busy_id(connection):
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM accounts_user WHERE username = 'busy'")
        return cursor.fetchone()[0]


if __name__ == "__main__":
    main()
