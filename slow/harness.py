"""What the slow checks share: the real web server (askhandle/web.py) in a subprocess, a private
PostgreSQL cluster, a small asyncio HTTP/1.1 client that counts every answer, and the artifacts
folder.

The checks talk to the server over TCP on 127.0.0.1 only, exactly as a client would; nothing
here imports the project's code (the server is a separate process with its own settings).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(os.environ.get("VENV", ROOT / ".venv")) / "bin"
ARTIFACTS = ROOT / "artifacts"
# Ports the checks may bind: the first free one is taken.
PORTS = range(*(int(p) for p in os.environ.get("SLOW_CHECK_PORTS", "18400-18499").split("-")))


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


def save_figures(name: str, figures: dict) -> None:
    text = json.dumps(figures, indent=2, sort_keys=True)
    artifact(f"{name}.json").write_text(text + "\n")
    print(f"\n{name}: {text}")


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS}")


def manage(*args: str, env: dict[str, str]) -> str:
    run = subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if run.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{run.stdout}\n{run.stderr}")
    return run.stdout.strip()


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database that `url` names if it does not exist (never drops one)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    env = os.environ | {
        "DATABASE_URL": database_url,
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "slow-check-secret-key",
        "DEBUG": "",
        "LOG_LEVEL": "WARNING",
        **extra,
    }
    return env


@dataclass
class Server:
    """The web server serving the project, as `./dev serve` and the Dockerfile run it."""

    env: dict[str, str]
    workers: int = 4
    threads: int | None = None  # the server's default unless set
    port: int = field(default_factory=free_port)
    log: Path = field(default_factory=lambda: artifact("server.log"))

    process: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        # The command of `./dev serve` and the Docker image (askhandle/web.py), from the venv.
        command = [
            str(VENV_BIN / "python"), "-m", "askhandle.web",
            "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
            *(["--threads", str(self.threads)] if self.threads else []),
        ]  # fmt: skip
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the server exited:\n" + self.log.read_text()[-5000:])
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except (OSError, urllib.error.HTTPError):
                pass
            time.sleep(0.3)
        raise RuntimeError("the server did not answer /healthz within 60 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# --- a private PostgreSQL cluster (the shared one is never restarted) ---------------------------


def _newest_pg_bin() -> str:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    return str(versions[-1]) if versions else "/usr/lib/postgresql/15/bin"


PG_BIN = Path(os.environ.get("PG_BIN") or _newest_pg_bin())


@dataclass
class PrivatePostgres:
    """A throwaway PostgreSQL cluster in a temporary directory on its own port, run as a non-root
    OS user (PostgreSQL refuses root), torn down with its files at the end."""

    port: int = int(os.environ.get("FAULT_PG_PORT", "15433"))
    os_user: str = os.environ.get("FAULT_PG_OS_USER", "postgres")
    directory: Path | None = None

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/askhandle"

    @property
    def data(self) -> Path:
        assert self.directory
        return self.directory / "data"

    def _run(self, *args: str, check: bool = True, timeout: float = 60) -> float:
        """Run a PostgreSQL program as the cluster's OS user; returns the seconds it took."""
        command = [str(PG_BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", self.os_user, "--", *command]
        started = time.monotonic()
        run = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if check and run.returncode:
            raise RuntimeError(f"{' '.join(command)} failed:\n{run.stdout}\n{run.stderr}")
        return time.monotonic() - started

    def start(self) -> PrivatePostgres:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", self.port)) == 0:
                raise RuntimeError(f"port {self.port} is taken: set FAULT_PG_PORT")
        self.directory = Path(tempfile.mkdtemp(prefix="askhandle-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.directory, self.os_user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self._start()
        with psycopg.connect(
            f"postgres://postgres@127.0.0.1:{self.port}/postgres", autocommit=True
        ) as conn:
            conn.execute("CREATE DATABASE askhandle")
        return self

    def _start(self) -> None:
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.directory / "server.log"), "-w",
            "-o", f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
            " -c max_connections=200 -c fsync=on",
            "start",
        )  # fmt: skip

    def restart(self, outage: float) -> None:
        """Stop PostgreSQL (fast: connections are cut, open transactions roll back), keep it down
        `outage` seconds, start it again, and return once it accepts connections."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        time.sleep(outage)
        self._start()

    def stop(self) -> None:
        if self.directory is None:
            return
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        log = self.directory / "server.log"
        if log.exists():
            shutil.copy(log, artifact("private-postgres.log"))
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory = None

    def __enter__(self) -> PrivatePostgres:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


# --- an HTTP/1.1 client that counts every answer ------------------------------------------------


@dataclass
class Answer:
    status: int  # 0: no answer (connection refused, reset, timed out)
    body: bytes
    seconds: float
    error: str = ""

    def json(self):
        return json.loads(self.body)


class Connection:
    """One client connection: HTTP/1.1 with keep-alive when the server allows it, reconnecting
    when it closes (gunicorn's sync workers close after every answer)."""

    def __init__(self, port: int, timeout: float = 30):
        self.port = port
        self.timeout = timeout
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(
        self, method: str, path: str, *, key: str = "", payload: object = None
    ) -> Answer:
        body = b"" if payload is None else json.dumps(payload).encode()
        head = [
            f"{method} {path} HTTP/1.1",
            f"Host: 127.0.0.1:{self.port}",
            "Accept: application/json",
            "User-Agent: askhandle-slow-check",
            f"Content-Length: {len(body)}",
        ]
        if payload is not None:
            head.append("Content-Type: application/json")
        if key:
            head.append(f"Authorization: Token {key}")
        raw = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        started = time.monotonic()
        try:
            return await asyncio.wait_for(self._exchange(raw, started), self.timeout)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
            await self.close()
            return Answer(0, b"", time.monotonic() - started, f"{type(exc).__name__}: {exc}")

    async def _exchange(self, raw: bytes, started: float) -> Answer:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(raw)
        await self.writer.drain()
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split()[1])
        headers = {}
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                body += await self.reader.readexactly(size)
                await self.reader.readexactly(2)
            await self.reader.readuntil(b"\r\n")
        else:
            body = await self.reader.readexactly(int(headers.get("content-length", 0)))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Answer(status, body, time.monotonic() - started)


@dataclass
class Tally:
    """Every answer counted by status (0 = no answer), with latencies and created uuids."""

    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)

    def add(self, answer: Answer) -> None:
        self.statuses[answer.status] += 1
        self.latencies.append(answer.seconds)
        if answer.status == 201:
            self.created.append(answer.json()["uuid"])
        elif answer.status == 0:
            self.errors[answer.error.split(":")[0]] += 1
        else:
            self.errors[answer.body[:200].decode(errors="replace")] += 1

    def summary(self, seconds: float) -> dict:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 1)

        total = len(ordered)
        return {
            "requests": total,
            "seconds": round(seconds, 1),
            "requests_per_second": round(total / seconds, 1) if seconds else 0,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "latency_ms": (
                {"p50": pct(0.5), "p95": pct(0.95), "p99": pct(0.99), "max": pct(1.0)}
                if total
                else {}
            ),
            "errors": dict(self.errors.most_common(5)),
        }


def visitor_message(room_uuid: str, n: int) -> dict:
    """A visitor message as the vendor's frontend sends it; every fourth carries contact details
    from a small set, so hooks that record leads from chat see the same email concurrently."""
    message = {"room": {"uuid": room_uuid}, "body": f"load message {n}", "nickname": f"v{n % 97}"}
    if n % 4 == 0:
        message["email"] = f"visitor{n % 8}@example.com"
        message["phone_number"] = f"+1555000{n % 8:04d}"
    return message


def account_with_key(env: dict[str, str], username: str, *, superuser: bool = False) -> str:
    args = ["create_account", username, "--password", f"{username}-Pw-9271", "--exists-ok"]
    if superuser:
        args.append("--superuser")
    return manage(*args, env=env)


@contextlib.contextmanager
def scratch_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="askhandle-slow-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def site(name: str) -> Iterator[dict[str, str]]:
    """The environment of a server with production settings on a scratch SQLite database, migrated
    and with its static files collected (the browser checks: WhiteNoise serves the admin's)."""
    with scratch_dir() as scratch:
        env = server_env(
            f"sqlite:///{scratch / f'{name}.sqlite3'}", STATIC_ROOT=str(scratch / "static")
        )
        manage("migrate", "--noinput", "-v0", env=env)
        manage("collectstatic", "--noinput", "-v0", env=env)
        yield env
