"""The web server, with its options in one place: `./dev serve`, the Docker image, the slow checks
and the benchmark all start it through `command()` (or `python -m askhandle.web`).

Granian serves askhandle/asgi.py (its ASGI interface): the live requests (streams, long-polls)
wait on the worker's event loop, every other request runs the WSGI application on a pool of
WEB_THREADS threads (docs/streams.md, "One server"). Its HTTP/1.1 is read by an asynchronous Rust
runtime, and only a request whose headers and body have arrived takes one of those threads. So
slow clients (headers trickled a line at a time, the "slowloris" attack) hold no thread, and a
client that has not sent its headers within HEADER_TIMEOUT_MS is dropped. gunicorn's threaded
worker, which ran here before, gave each connection a thread as soon as it was readable: eight
connections sending a header line every 5 s took all of its threads. Measured by bench/servers.py
(docs/reliability.md, "Slow clients"; docs/performance.md).

    python -m askhandle.web [--bind 127.0.0.1:8000] [--workers N] [--threads N] [--access-log]
                            [granian's own options...]

WEB_CONCURRENCY (worker processes, default 2: about one per core) and WEB_THREADS (Python
threads per worker, default 4) set the defaults.
"""

import argparse
import os
import resource
import shutil
import sys

# A request's headers must have arrived this long after the connection opened (milliseconds).
HEADER_TIMEOUT_MS = 10_000
# Requests one worker process holds at once (granian's backpressure; its default is 1024 divided
# by the workers). A stream or long-poll holds one for its whole life, so this is also how many
# live connections a worker can keep (docs/streams.md); past it, new connections wait in the
# kernel's backlog. WEB_CONNECTIONS overrides it.
CONNECTIONS_PER_WORKER = 4096


def command(
    bind: str,
    *,
    workers: int | None = None,
    threads: int | None = None,
    access_log=False,
    extra=(),
    interface: str = "asgi",
) -> list[str]:
    host, _, port = bind.rpartition(":")
    workers = workers or int(os.environ.get("WEB_CONCURRENCY") or 2)
    threads = threads or int(os.environ.get("WEB_THREADS") or 4)
    if interface == "asgi":
        # askhandle/asgi.py: the API's views on a pool of `threads` threads, the live requests
        # (streams, long-polls) on the event loop. Granian's own blocking thread runs the loop.
        # (askhandle/asgi.py reads the pool's size from WEB_THREADS, set here for the process.)
        app, blocking = "askhandle.asgi:application", 1
        prefix = [shutil.which("env") or "/usr/bin/env", f"WEB_THREADS={threads}"]
        connections = os.environ.get("WEB_CONNECTIONS") or str(CONNECTIONS_PER_WORKER)
        live = ["--backpressure", connections, "--backlog", "2048"]
    else:  # plain WSGI: no streams nor long-polls that wait (bench/servers.py compares them)
        app, blocking, prefix, live = "askhandle.wsgi:application", threads, [], []
    return [
        *prefix, sys.executable, "-m", "granian", "--interface", interface,
        "--host", host.strip("[]") or "127.0.0.1", "--port", port,
        "--workers", str(workers), "--blocking-threads", str(blocking), *live,
        "--http", "1", "--http1-header-read-timeout", str(HEADER_TIMEOUT_MS),
        "--no-ws", "--log-level", os.environ.get("WEB_LOG_LEVEL", "warning"),
        *(["--access-log"] if access_log else []),
        *extra,
        app,
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bind", default="127.0.0.1:8000", help="host:port")
    parser.add_argument("--workers", type=int)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--access-log", action="store_true")
    args, extra = parser.parse_known_args()  # the rest goes to granian as given
    argv = command(
        args.bind,
        workers=args.workers,
        threads=args.threads,
        access_log=args.access_log,
        extra=extra,
    )
    # Each live connection is a file descriptor: lift the soft limit (often 1024) to the hard one.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    os.execv(argv[0], argv)


if __name__ == "__main__":
    main()
