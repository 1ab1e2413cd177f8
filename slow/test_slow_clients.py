"""Slow clients cannot take the server down: 50 connections trickle their headers a line every
2 s (the "slowloris" attack) while normal requests keep being answered, on the server `./dev
serve` and the Docker image run (askhandle/web.py), on SQLite, the embedded default.

    ./dev test slow/test_slow_clients.py -s

Passes when every normal request made meanwhile answers 200 within 5 s, and a connection that
has not finished its headers after the server's header timeout is closed by the server. Figures
go to artifacts/slow_clients.json. (gunicorn's threaded worker, which served before, answered
none of them: docs/reliability.md, "Slow clients".)
"""

import socket
import statistics
import threading
import time
import urllib.request

from askhandle.web import HEADER_TIMEOUT_MS
from slow import harness

SLOW_CONNECTIONS = 50
INTERVAL = 2.0
NORMAL_REQUESTS = 20


def test_slow_clients_do_not_hold_the_server():
    with harness.scratch_dir() as scratch:
        env = harness.server_env("", SQLITE_PATH=str(scratch / "db.sqlite3"))
        del env["DATABASE_URL"]
        harness.manage("migrate", "--noinput", "-v0", env=env)
        key = harness.account_with_key(env, "slowclients")
        with harness.Server(env, workers=2) as server:
            slow = []
            for _ in range(SLOW_CONNECTIONS):
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
                sock.sendall(b"GET /api/v1/rooms/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                slow.append(sock)
            stop = threading.Event()
            closed = []

            def trickle():
                line = 0
                while not stop.wait(INTERVAL):
                    for sock in slow:
                        if sock in closed:
                            continue
                        try:
                            sock.sendall(f"X-Slow-{line}: 1\r\n".encode())
                        except OSError:
                            closed.append(sock)
                    line += 1

            thread = threading.Thread(target=trickle, daemon=True)
            thread.start()
            time.sleep(INTERVAL + 0.5)  # every slow connection has sent more than once
            latencies, failures = [], []
            for _ in range(NORMAL_REQUESTS):
                request = urllib.request.Request(
                    f"{server.base}/api/v1/rooms/", headers={"Authorization": f"Token {key}"}
                )
                began = time.monotonic()
                try:
                    with urllib.request.urlopen(request, timeout=5) as answer:
                        assert answer.status == 200
                    latencies.append(time.monotonic() - began)
                except OSError as error:
                    failures.append(repr(error))
            # Past the header timeout the server has dropped the slow connections.
            time.sleep(HEADER_TIMEOUT_MS / 1000 + 2 * INTERVAL)
            stop.set()
            thread.join()
            for sock in slow:
                sock.close()
        figures = {
            "slow_connections": SLOW_CONNECTIONS,
            "normal_requests": NORMAL_REQUESTS,
            "answered": len(latencies),
            "failures": failures,
            "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
            "max_ms": round(max(latencies) * 1000, 1) if latencies else None,
            "slow_connections_closed_by_the_server": len(closed),
        }
        harness.save_figures("slow_clients", figures)
        assert not failures, figures
        assert len(closed) == SLOW_CONNECTIONS, figures
