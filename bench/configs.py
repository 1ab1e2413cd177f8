"""Choose the gunicorn settings by measurement: several server configurations run side by side
and are loaded in turn (round-robin, so the shared machine's drift hits them alike).

    .venv/bin/python bench/configs.py [--scale 10000] [--rounds 4] [--duration 3]

Uses the data of bench/run.py (seeds it first) and prints the median req/s and p50 per endpoint.
"""

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run

NO_POOL = [("DATABASE_POOL", "0")]
CONFIGS = {
    "sync x2, pool": (["--workers", "2"], [("DATABASE_POOL", "1")]),
    "sync x2": (["--workers", "2"], NO_POOL),
    "sync x3": (["--workers", "3"], NO_POOL),
    "sync x4": (["--workers", "4"], NO_POOL),
    "gthread 2x4": (["--workers", "2", "--worker-class", "gthread", "--threads", "4"], NO_POOL),
    "gthread 2x4, pool": (
        ["--workers", "2", "--worker-class", "gthread", "--threads", "4"],
        [("DATABASE_POOL", "1")],
    ),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--port", type=int, default=18220)
    args = parser.parse_args()
    dsn = run.setup_django()
    run.manage("migrate", "--noinput", dsn=dsn)
    data = run.seed(dsn, args.scale)
    wanted = ("messages", "rooms", "POST message")
    chosen = [e for e in run.endpoints(data) if e[0] in wanted]
    servers = {}
    try:
        for index, (name, (gunicorn_args, env)) in enumerate(CONFIGS.items()):
            servers[name] = run.Gunicorn(
                "askhandle.wsgi",
                args.port + index,
                gunicorn_args,
                run.server_env(dsn, env),
                run.ROOT,
            )
        results = {(config, e[0]): [] for config in servers for e in chosen}
        for round_ in range(args.rounds):
            for endpoint, path, method, body, _ in chosen:
                order = list(servers.items())
                order = order[round_ % len(order) :] + order[: round_ % len(order)]
                for config, server in order:
                    results[config, endpoint].append(
                        run.wrk(
                            server.url + path,
                            connections=args.connections,
                            duration=args.duration,
                            token=data["key"],
                            method=method,
                            body=body,
                        )
                    )
        print(f"\n{args.scale:,} messages, {args.connections} connections, median of {args.rounds}")
        print("| configuration | " + " | ".join(f"{e[0]} req/s (p50 ms)" for e in chosen) + " |")
        print("|---|" + "---:|" * len(chosen))
        for config in servers:
            cells = []
            for endpoint, *_ in chosen:
                runs = results[config, endpoint]
                rps = statistics.median(r["rps"] for r in runs)
                p50 = statistics.median(r["p50_ms"] for r in runs)
                cells.append(f"{rps:.0f} ({p50:.0f})")
            print(f"| {config} | " + " | ".join(cells) + " |")
    finally:
        for server in servers.values():
            server.stop()


if __name__ == "__main__":
    main()
