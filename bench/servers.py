"""Choose the HTTP server by measurement: throughput of the API and how it stands slow clients.

    .venv/bin/python bench/servers.py [--rounds 3] [--duration 3] [--servers gthread,granian]

Each server serves the same scratch SQLite database (migrated, one account with a few rooms, the
project's default settings: rate limits on, counts raised so that nothing is refused) on its own
port, 2 workers. Per round, in turn: wrk on `GET /rooms/?limit=20` and on `POST /messages/` at 16
connections; then 50 connections that trickle a header line every 2 s ("slowloris") while 10
normal requests are timed one after another (5 s timeout each). Prints medians per server.
"""

import argparse
import contextlib
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from askhandle import web  # noqa: E402 (the project's web server command)

VENV_BIN = ROOT / ".venv" / "bin"

SERVERS = {
    # What ./dev serve ran before: gunicorn, gthread, 2 x 4.
    "gthread": lambda port: [
        str(VENV_BIN / "gunicorn"), "askhandle.wsgi", "--bind", f"127.0.0.1:{port}",
        "--workers", "2", "--threads", "4",
    ],
    # Django's ASGI handler under gunicorn's uvicorn workers.
    "uvicorn": lambda port: [
        str(VENV_BIN / "gunicorn"), "askhandle.asgi", "--bind", f"127.0.0.1:{port}",
        "--workers", "2", "--worker-class", "uvicorn_worker.UvicornWorker",
    ],
    # Granian (HTTP in Rust, async), the WSGI app on 4 blocking threads per worker.
    "granian": lambda port: [
        str(VENV_BIN / "granian"), "--interface", "wsgi", "--host", "127.0.0.1",
        "--port", str(port), "--workers", "2", "--blocking-threads", "4",
        "--no-ws", "--log-level", "warning", "askhandle.wsgi:application",
    ],
    # What ./dev serve, the image and the slow checks run (askhandle/web.py): the same, with
    # HTTP/1 only and a request's headers due within 10 s (a slow client is dropped, not held).
    "granian-http1": lambda port: web.command(
        f"127.0.0.1:{port}", workers=2, threads=4, interface="wsgi"
    ),
    # What ./dev serve runs since the live updates (askhandle/asgi.py): granian's ASGI interface,
    # the API on a2wsgi's pool of 4 threads, the streams and long-polls on the event loop.
    "granian-asgi": lambda port: web.command(f"127.0.0.1:{port}", workers=2, threads=4),
}  # fmt: skip


def prepare(directory: Path) -> tuple[dict, str]:
    env = {
        **os.environ,
        "SQLITE_PATH": str(directory / "db.sqlite3"),
        "SECRET_KEY": secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DEBUG": "",
        "LOG_LEVEL": "WARNING",
        # The defaults' mechanism, with counts no load here reaches.
        "API_KEY_THROTTLE_RATE": "100000000/min",
        "CLIENT_ADDRESS_THROTTLE_RATE": "100000000/min",
    }
    env.pop("DATABASE_URL", None)

    def manage(*args):
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
            capture_output=True, text=True,
        ).stdout  # fmt: skip

    manage("migrate", "--noinput", "-v0")
    token = manage("create_account", "bench", "--key-name", "bench").strip().splitlines()[-1]
    return env, token


def start(name, port, env):
    return start_command(SERVERS[name](port), port, env)


def start_command(command, port, env):
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"{command[0]} did not start on port {port}")


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def call(port, token, method="GET", path="/api/v1/rooms/?limit=20", body=None, timeout=10):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def wrk(port, token, *, method, path, body, duration, connections=16):
    """wrk's req/s and p50 (bench/wrk/report.lua)."""
    env = {**os.environ, "BENCH_TOKEN": token, "BENCH_METHOD": method, "BENCH_BODY": body}
    out = subprocess.run(
        [
            "wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "10s",
            "-s", str(BENCH / "wrk" / "report.lua"), f"http://127.0.0.1:{port}{path}",
        ],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    for line in out.splitlines():
        if line.startswith("BENCH_JSON "):
            found = json.loads(line[len("BENCH_JSON ") :])
            return {
                "rps": found["requests"] / (found["duration_us"] / 1e6),
                "p50_ms": found["p50_us"] / 1000,
            }
    raise RuntimeError(out)


def slowloris(port, token, *, connections=50, interval=2.0, normal=10):
    """Normal requests' latencies (s, or None for a failure) while `connections` clients
    trickle their headers."""
    stop = threading.Event()
    sockets = []
    for _ in range(connections):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"GET /api/v1/rooms/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sockets.append(sock)

    def trickle():
        index = 0
        while not stop.wait(interval):
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.sendall(f"X-Slow-{index}: 1\r\n".encode())
            index += 1

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    time.sleep(interval + 0.5)  # every slow connection has been read from at least once
    latencies = []
    for _ in range(normal):
        began = time.monotonic()
        try:
            call(port, token, timeout=5)
            latencies.append(time.monotonic() - began)
        except OSError:
            latencies.append(None)
    stop.set()
    for sock in sockets:
        sock.close()
    return latencies


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=3)
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--port", type=int, default=18300)
    args = parser.parse_args()
    names = args.servers.split(",")
    with tempfile.TemporaryDirectory() as scratch:
        env, token = prepare(Path(scratch))
        procs = {}
        try:
            for index, name in enumerate(names):
                procs[name] = (args.port + index, start(name, args.port + index, env))
            port = procs[names[0]][0]
            room = call(port, token, "POST", "/api/v1/rooms/", {"name": "bench"})
            for index in range(20):
                body = {"room": {"uuid": room["uuid"]}, "body": f"hello {index}", "nickname": "B"}
                call(port, token, "POST", "/api/v1/messages/", body)
            post = json.dumps({"room": {"uuid": room["uuid"]}, "body": "hi", "nickname": "B"})
            results = {name: {"rooms": [], "post": [], "slow": []} for name in names}
            for round_ in range(args.rounds):
                order = names[round_ % len(names) :] + names[: round_ % len(names)]
                for name in order:
                    port = procs[name][0]
                    get = wrk(port, token, method="GET", path="/api/v1/rooms/?limit=20",
                              body="", duration=args.duration)  # fmt: skip
                    results[name]["rooms"].append(get)
                    write = wrk(port, token, method="POST", path="/api/v1/messages/",
                                body=post, duration=args.duration)  # fmt: skip
                    results[name]["post"].append(write)
                    results[name]["slow"].append(slowloris(port, token))
            print("| server | rooms req/s | rooms p50 ms | POST message req/s | POST p50 ms "
                  "| under 50 slow clients: answered | p50 ms | max ms |")  # fmt: skip
            print("|---|---|---|---|---|---|---|---|")
            for name in names:
                r, p = results[name]["rooms"], results[name]["post"]
                slow = [x for run in results[name]["slow"] for x in run]
                ok = [x for x in slow if x is not None]
                print(
                    f"| {name} | {statistics.median(x['rps'] for x in r):.0f} "
                    f"| {statistics.median(x['p50_ms'] for x in r):.1f} "
                    f"| {statistics.median(x['rps'] for x in p):.0f} "
                    f"| {statistics.median(x['p50_ms'] for x in p):.1f} "
                    f"| {len(ok)}/{len(slow)} "
                    f"| {statistics.median(ok) * 1000 if ok else float('nan'):.0f} "
                    f"| {max(ok) * 1000 if ok else float('nan'):.0f} |"
                )
        finally:
            for _, proc in procs.values():
                stop(proc)


if __name__ == "__main__":
    main()
