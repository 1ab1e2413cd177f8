"""A real HTTP server on 127.0.0.1 that records webhook deliveries and answers as scripted."""

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    # When the request arrived and when its answer was sent (time.monotonic()).
    started: float = 0.0
    ended: float = 0.0

    @property
    def json(self):
        return json.loads(self.body)


@dataclass
class Receiver:
    """`answers` is consumed one per request (status, or (status, headers), or ("sleep", s));
    when empty, requests get `default`."""

    default: int = 200
    answers: list = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hook"

    def start(self, port: int = 0) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received = Received(self.path, dict(self.headers), body, time.monotonic())
                with receiver.lock:
                    receiver.received.append(received)
                    answer = receiver.answers.pop(0) if receiver.answers else receiver.default
                headers = {}
                if isinstance(answer, tuple) and answer[0] == "sleep":
                    time.sleep(answer[1])
                    answer = 200
                elif isinstance(answer, tuple):
                    answer, headers = answer
                try:
                    self.send_response(answer)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the worker gave up waiting (the timeout tests)
                received.ended = time.monotonic()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def most_at_once(self, paths) -> int:
        """The most requests to any of `paths` that were being answered at the same time."""
        moments = []
        for r in self.received:
            if r.path in paths:
                moments += [(r.started, 1), (r.ended, -1)]
        most = now = 0
        for _, step in sorted(moments):  # an end before a start at the same instant
            now += step
            most = max(most, now)
        return most

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class BlackHole:
    """A TCP server on 127.0.0.1 that accepts connections and never answers (nor reads)."""

    connections: list = field(default_factory=list)
    most_at_once: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    sock: socket.socket | None = None

    def url(self, path: str = "/hook") -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://{host}:{port}{path}"

    def start(self) -> "BlackHole":
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=128)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # stopped
            with self.lock:
                self.connections.append(conn)
                self.most_at_once = max(self.most_at_once, self._count_open())

    def open_connections(self) -> int:
        """Connections the other side has not closed yet (what they sent is read and dropped)."""
        with self.lock:
            return self._count_open()

    def _count_open(self) -> int:
        open_ = 0
        for conn in self.connections:
            conn.setblocking(False)
            try:
                while conn.recv(65536):
                    pass
            except BlockingIOError:
                open_ += 1  # nothing more to read, and not closed
            except OSError:
                pass  # reset: closed
        return open_

    def stop(self) -> None:
        self.sock.close()
        with self.lock:
            for conn in self.connections:
                conn.close()
