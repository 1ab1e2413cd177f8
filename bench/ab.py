"""Two versions of the server side by side: the same endpoints, loaded in turn (who goes first
alternates by round), so the shared machine's drift hits both alike; medians per cell and the
ratio B/A. For "within N% of before": a change is judged against the code before it, in one run.

    git worktree add /tmp/before <rev> && (cd /tmp/before && ./dev test --version)   # its .venv
    .venv/bin/python bench/ab.py --a /tmp/before --b . --seed 10000 --rounds 3

Each side runs from its own checkout and virtualenv, on its own database (`--a-db`, `--b-db`,
default perfbench_a / perfbench_b, dropped and made anew by that side's own migrations: a
database left by a newer checkout keeps columns the older code does not fill, and its writes then
fail), seeded by its own bench/run.py (`--seed N`). Errors (wrk's: timeouts and answers of 400
and above) are reported per side.
Settings as bench/run.py's (the defaults' rate limiting with counts raised, 2 workers x 4
threads); each side on its own web server (`--a-server`, `--b-server`: granian, what ./dev serve
runs (askhandle/asgi.py on granian's ASGI interface since the live updates), granian-wsgi (the
WSGI application on granian's WSGI interface, what it ran from the seventh round until then), or
gunicorn, what it ran before).
"""

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run

SEED = """
import json, os, sys
sys.path.insert(0, "bench")
import run
os.environ["BENCH_DATABASE_URL"] = sys.argv[1]
run.create_database(sys.argv[1])
run.setup_django()
run.manage("migrate", "--noinput", dsn=sys.argv[1])
data = run.seed(sys.argv[1], int(sys.argv[2]))
print("DATA " + json.dumps(data, default=str))
"""


def seeded(tree: Path, dsn: str, scale: int) -> dict:
    """Seed `dsn` with `tree`'s own bench/run.py (its schema, its seed); what the load needs."""
    run.recreate_database(dsn)
    out = subprocess.run(
        [str(tree / ".venv/bin/python"), "-c", SEED, dsn, str(scale)],
        cwd=tree,
        env=run.server_env(dsn),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    data = json.loads(next(line for line in out.splitlines() if line.startswith("DATA "))[5:])
    data["today"] = run.dt.date.fromisoformat(data["today"])
    return data


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", required=True, type=Path, help="checkout A (the reference)")
    parser.add_argument("--b", required=True, type=Path, help="checkout B")
    parser.add_argument("--a-db", default="postgres://postgres@127.0.0.1:5432/perfbench_a")
    parser.add_argument("--b-db", default="postgres://postgres@127.0.0.1:5432/perfbench_b")
    parser.add_argument("--seed", type=int, required=True, help="messages to seed both with")
    for side in ("a", "b"):
        parser.add_argument(
            f"--{side}-env", action="append", default=[], metavar="NAME=VALUE", help="server env"
        )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=4)
    parser.add_argument("--connections", default="1,16")
    parser.add_argument("--only", default="", help="endpoint names, comma-separated")
    parser.add_argument("--port", type=int, default=18301)
    for side in ("a", "b"):
        parser.add_argument(
            f"--{side}-server", choices=["granian", "granian-wsgi", "gunicorn"], default="granian"
        )
    args = parser.parse_args()
    sides = {"A": (args.a.resolve(), args.a_db), "B": (args.b.resolve(), args.b_db)}
    extra = {
        "A": [item.split("=", 1) for item in args.a_env],
        "B": [item.split("=", 1) for item in args.b_env],
    }
    data = {name: seeded(tree, dsn, args.seed) for name, (tree, dsn) in sides.items()}
    gunicorn = ["--workers", "2", "--worker-class", "gthread", "--threads", "4"]
    servers = {}
    try:
        for index, (name, (tree, dsn)) in enumerate(sides.items()):
            run.VENV_BIN = tree / ".venv/bin"
            run.Gunicorn.server = getattr(args, f"{name.lower()}_server")
            env = run.server_env(dsn, extra[name])
            servers[name] = run.Gunicorn("askhandle.wsgi", args.port + index, gunicorn, env, tree)
        wanted = {name for name in args.only.split(",") if name}
        cells = {}
        for round_ in range(args.rounds):
            for conns in (int(c) for c in args.connections.split(",")):
                for index, endpoint in enumerate(run.endpoints(data["A"])):
                    name = endpoint[0]
                    if wanted and name not in wanted:
                        continue
                    order = ["A", "B"] if (round_ + index) % 2 == 0 else ["B", "A"]
                    for side in order:
                        _, path, method, body, _ = next(
                            e for e in run.endpoints(data[side]) if e[0] == name
                        )
                        if name == "chat turn":  # the bot on again where it handed off
                            run.chat_reset(sides[side][1], data[side]["busy_id"])
                        result = run.wrk(
                            servers[side].url + path,
                            connections=conns,
                            duration=args.duration,
                            token=data[side]["key"],
                            method=method,
                            body=body,
                        )
                        cells.setdefault((name, conns, side), []).append(result)
        print(f"\n{args.seed:,} messages, {args.rounds} rounds, medians; A={args.a}, B={args.b}")
        print(f"server env: A {args.a_env or '-'}, B {args.b_env or '-'}")
        print(f"{'endpoint':24} {'c':>3} {'A req/s':>9} {'B req/s':>9} {'B/A':>6}  p50 A / B ms")
        for name, conns, side in cells:
            if side != "A":
                continue
            a = cells[(name, conns, "A")]
            b = cells[(name, conns, "B")]
            rps_a = statistics.median(r["rps"] for r in a)
            rps_b = statistics.median(r["rps"] for r in b)
            p50_a = statistics.median(r["p50_ms"] for r in a)
            p50_b = statistics.median(r["p50_ms"] for r in b)
            errors = [sum(r["errors"] for r in side) for side in (a, b)]
            print(
                f"{name:24} {conns:>3} {rps_a:9.0f} {rps_b:9.0f} {rps_b / rps_a:6.2f}  "
                f"{p50_a:.2f} / {p50_b:.2f}"
                + ("  errors A {} / B {}".format(*errors) if any(errors) else "")
            )
    finally:
        for server in servers.values():
            server.stop()


if __name__ == "__main__":
    main()
