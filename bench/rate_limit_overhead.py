"""What the rate limits cost per request: the same sequential GETs against three gunicorns (1
worker each, SQLite), with the limits off, counted in the database cache, and counted in Redis.

    .venv/bin/python bench/rate_limit_overhead.py [--port 18350] [--requests 1000]
    REDIS_URL=redis://127.0.0.1:6379/3 adds the Redis run (its db is flushed afterwards).

Bounded: N requests per configuration to 127.0.0.1 only. Prints the median and p95 latency of
each and the ratio to "off" (ratios within one run are what to compare on a shared machine).
"""

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = ROOT / ".venv" / "bin" / "python"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"


def run(env, args):
    return subprocess.run(
        [str(PY), "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def start(port, extra_env, tmp):
    env = os.environ | {
        "SECRET_KEY": "bench-only-secret",
        "SQLITE_PATH": f"{tmp}/db.sqlite3",
        "API_KEY_THROTTLE_RATE": "1000000/min",
        "CLIENT_ADDRESS_THROTTLE_RATE": "1000000/min",
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env |= extra_env
    run(env, ["migrate", "--noinput", "-v0"])
    key = run(env, ["create_account", "bench"])
    server = subprocess.Popen(
        [str(GUNICORN), "askhandle.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            get(port, key)
            return server, key
        except OSError:
            if time.monotonic() > deadline:
                server.terminate()
                raise
            time.sleep(0.2)


def get(port, key):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/api/v1/leads/", headers={"Authorization": f"Token {key}"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=18350)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    configs = [
        ("off", {"API_KEY_THROTTLE_RATE": "off", "CLIENT_ADDRESS_THROTTLE_RATE": "off"}),
        ("database cache", {}),
    ]
    if os.environ.get("REDIS_URL"):
        configs.append(("redis", {"REDIS_URL": os.environ["REDIS_URL"]}))
    servers = []
    times = {name: [] for name, _ in configs}
    try:
        for i, (name, env) in enumerate(configs):
            tmp = tempfile.mkdtemp(prefix="askhandle-bench-")
            server, key = start(args.port + i, env, tmp)
            servers.append((name, args.port + i, key, server))
        # Interleaved, one request to each server in turn: the machine's noise (other work on
        # shared cores) hits every configuration alike.
        for round_ in range(50 + args.requests):
            for name, port, key, _ in servers:
                begin = time.perf_counter()
                status = get(port, key)
                elapsed = time.perf_counter() - begin
                assert status == 200, (name, status)
                if round_ >= 50:  # after a warm-up
                    times[name].append(elapsed)
    finally:
        for *_, server in servers:
            server.terminate()
            server.wait(10)
        if os.environ.get("REDIS_URL"):
            import redis

            redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    base = statistics.median(times["off"])
    for name, samples in times.items():
        samples.sort()
        median, p95 = statistics.median(samples), samples[int(len(samples) * 0.95)]
        print(
            f"{name:15} median {median * 1000:6.2f} ms  p95 {p95 * 1000:6.2f} ms  "
            f"x{median / base:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
