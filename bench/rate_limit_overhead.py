"""What the rate limits cost: a cached list page's throughput with the defaults (limits on, counted
as `./dev serve` and the compose stack count them; the counts raised so that nothing is refused)
against the same server with the limits off, in the same run, on SQLite and on PostgreSQL.

    .venv/bin/python bench/rate_limit_overhead.py [--rounds 5] [--duration 3] [--connections 16]
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/askhandle_ratelimit  (the default)
    REDIS_URL=redis://127.0.0.1:6379/3 adds a run counting in Redis (its db is flushed afterwards)

Per database: migrate, one account with a room of 20 messages; the web server of ./dev serve
(granian, 2 workers x 4 threads) per configuration, each on its own port; wrk on
`GET /api/v1/messages/?limit=20` in turn, rounds rotated so that the shared machine's drift hits
every configuration alike. Prints median req/s,
p50 and the ratio to "off".
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import servers  # bench/servers.py: start_command, call, wrk, stop

ROOT = Path(__file__).resolve().parent.parent
PY = ROOT / ".venv" / "bin" / "python"
RAISED = "100000000/min"
PAGE = "/api/v1/messages/?limit=20"


def environment(database: str, tmp: str) -> dict:
    env = os.environ | {
        "SECRET_KEY": "bench-only-secret",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DEBUG": "",
        "LOG_LEVEL": "WARNING",
        "API_KEY_THROTTLE_RATE": RAISED,
        "CLIENT_ADDRESS_THROTTLE_RATE": RAISED,
    }
    env.pop("REDIS_URL", None)
    env.pop("DATABASE_URL", None)
    if database == "sqlite":
        env["SQLITE_PATH"] = f"{tmp}/db.sqlite3"
    else:
        env["DATABASE_URL"] = database
    return env


def manage(env, *args) -> str:
    return subprocess.run(
        [str(PY), "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def web_server(port, env):
    """The server as ./dev serve runs it (askhandle/web.py), 2 workers x 4 threads."""
    from askhandle import web

    return servers.start_command(web.command(f"127.0.0.1:{port}", workers=2, threads=4), port, env)


def measure(database: str, args) -> list[str]:
    tmp = tempfile.mkdtemp(prefix="askhandle-bench-")
    base = environment(database, tmp)
    if database != "sqlite":
        import psycopg

        name = database.rsplit("/", 1)[1]
        with psycopg.connect(database.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    manage(base, "migrate", "--noinput", "-v0")
    token = manage(base, "create_account", "bench").splitlines()[-1]
    configs = {
        "limits on (defaults, counts raised)": {},
        "limits off": {"API_KEY_THROTTLE_RATE": "off", "CLIENT_ADDRESS_THROTTLE_RATE": "off"},
    }
    if os.environ.get("REDIS_URL"):
        configs["limits on, counted in Redis"] = {"REDIS_URL": os.environ["REDIS_URL"]}
    procs = {}
    results = {name: [] for name in configs}
    try:
        for index, (name, extra) in enumerate(configs.items()):
            procs[name] = (args.port + index, web_server(args.port + index, base | extra))
        port = next(iter(procs.values()))[0]
        room = servers.call(port, token, "POST", "/api/v1/rooms/", {"name": "bench"})
        for index in range(20):
            body = {"room": {"uuid": room["uuid"]}, "body": f"hello {index}", "nickname": "B"}
            servers.call(port, token, "POST", "/api/v1/messages/", body)
        names = list(configs)
        for round_ in range(args.rounds):
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                found = servers.wrk(
                    procs[name][0], token, method="GET", path=PAGE, body="",
                    duration=args.duration, connections=args.connections,
                )  # fmt: skip
                results[name].append(found)
    finally:
        for _, proc in procs.values():
            servers.stop(proc)
        if os.environ.get("REDIS_URL"):
            import redis

            redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    off = statistics.median(r["rps"] for r in results["limits off"])
    label = "SQLite" if database == "sqlite" else "PostgreSQL"
    lines = []
    for name, runs in results.items():
        rps = statistics.median(r["rps"] for r in runs)
        p50 = statistics.median(r["p50_ms"] for r in runs)
        lines.append(f"| {label} | {name} | {rps:.0f} | {p50:.1f} | {rps / off:.2f} |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--port", type=int, default=18350)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    pg = os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/askhandle_ratelimit"
    )
    lines = ["| database | rate limits | req/s | p50 ms | x limits off |", "|---|---|---|---|---|"]
    for database in args.databases.split(","):
        lines += measure("sqlite" if database == "sqlite" else pg, args)
    print(f"`GET {PAGE}`, wrk {args.connections} connections, {args.duration} s x {args.rounds}")
    print("\n".join(lines))
    print(json.dumps({"command": sys.argv}))


if __name__ == "__main__":
    main()
