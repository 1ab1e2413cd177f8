"""Per-request cost in-process, without gunicorn or wrk: where the time of one request goes.

    .venv/bin/python bench/inprocess.py                          # ms/request, server and baseline
    .venv/bin/python bench/inprocess.py --path "/api/v1/rooms/?limit=20" --profile
    .venv/bin/python bench/inprocess.py --path "/api/v1/messages/?limit=20" --cprofile

Runs against the benchmark's database as bench/run.py left it (BENCH_DATABASE_URL, seeded by a
run; this issues one more API key to its busy account). Calls the WSGI applications directly
(the server with the benchmark's settings, then bench/baseline.py) and prints the best of 5
batches in ms per request; --profile prints a pyinstrument tree (`pip install pyinstrument`),
--cprofile cProfile's top functions. Numbers on a shared machine move by 10-20% between runs:
compare variants by alternating them.
"""

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/perfbench"


HEADERS = {}  # e.g. HTTP_ACCEPT_ENCODING (--accept-encoding)


def environ(path, key, body=b""):
    path_info, _, query = path.partition("?")
    extra = {"CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body))} if body else {}
    extra.update(HEADERS)
    return {
        **extra,
        "REQUEST_METHOD": "POST" if body else "GET",
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Token {key}",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
    }


def caller(app, path, key, post=b""):
    def call():
        status = []
        body = b"".join(app(environ(path, key, post), lambda s, h: status.append(s)))
        if not status[0].startswith("201" if post else "200"):
            raise SystemExit(f"{path}: {status[0]} {body[:300]!r}")

    return call


def best_ms(call, count):
    for _ in range(50):  # warm up: imports, connections, prepared statements
        call()
    batches = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(count):
            call()
        batches.append((time.perf_counter() - started) / count * 1000)
    return min(batches)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", default="/api/v1/messages/?limit=20")
    parser.add_argument("--requests", type=int, default=200, help="per batch")
    parser.add_argument("--profile", action="store_true", help="pyinstrument tree (server)")
    parser.add_argument("--cprofile", action="store_true", help="cProfile top 40 (server)")
    parser.add_argument(
        "--post", action="store_true", help="POST a message (to the busy account's oldest room)"
    )
    parser.add_argument("--accept-encoding", default="", help='e.g. "gzip", on every request')
    args = parser.parse_args()
    if args.accept_encoding:
        HEADERS["HTTP_ACCEPT_ENCODING"] = args.accept_encoding

    dsn = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "askhandle.settings",
            "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench",
            "DATABASE_URL": dsn,
            "BASELINE_DATABASE_URL": dsn,
            "ALLOWED_HOSTS": "127.0.0.1",
            "API_KEY_THROTTLE_RATE": "off",
            "CLIENT_ADDRESS_THROTTLE_RATE": "off",
            "DEBUG": "",
        }
    )
    import django

    django.setup()
    from django.core.wsgi import get_wsgi_application

    from accounts.models import User
    from accounts.services import api_key_issue

    busy = User.objects.get(username="busy")
    _, key = api_key_issue(user=busy)
    post = b""
    if args.post:
        room = busy.rooms.order_by("created_at").first()
        post = json.dumps({"room": str(room.uuid), "body": "How much?", "nickname": "B"}).encode()
        args.path = "/api/v1/messages/"
    server = caller(get_wsgi_application(), args.path, key, post)

    if args.profile or args.cprofile:
        best_ms(server, 1)  # warm up
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0002)
            profiler.start()
            for _ in range(args.requests):
                server()
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False))
        else:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.runcall(lambda: [server() for _ in range(args.requests)])
            pstats.Stats(profiler).sort_stats(
                os.environ.get("PROFILE_SORT", "cumulative")
            ).print_stats(40)
        return

    import baseline

    base = caller(baseline.app, args.path, key, post)
    ours, floor = best_ms(server, args.requests), best_ms(base, args.requests)
    print(f"{args.path}: server {ours:.2f} ms, baseline {floor:.2f} ms per request in-process")


if __name__ == "__main__":
    main()
