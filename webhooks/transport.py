"""One HTTP POST to a webhook target: bounded in time, no redirects, connected only to addresses
that passed the safety check (the very addresses checked, so DNS cannot change in between)."""

import contextlib
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from .safety import UnresolvableTarget, UnsafeTarget, safe_addresses, split_target

# What is read of a receiver's answer: enough to finish the exchange, never a huge body.
MAX_RESPONSE_BYTES = 64 * 1024


@dataclass
class Outcome:
    status_code: int | None
    error: str
    duration_ms: int
    retry_after: float | None = None
    # The target is not allowed (a private address, a bad URL): trying again will not help.
    refused: bool = False

    @property
    def retryable(self) -> bool:
        if self.status_code is None:
            return not self.refused
        return self.status_code == 429 or self.status_code >= 500


class _PinnedConnectionMixin:
    """Connect to a given address while keeping the URL's host for Host, SNI and certificates."""

    address: str

    def _connect_socket(self):
        sock = socket.create_connection(
            (self.address, self.port), timeout=settings.WEBHOOK_CONNECT_TIMEOUT
        )
        sock.settimeout(self.timeout)
        return sock


class _HTTPConnection(_PinnedConnectionMixin, http.client.HTTPConnection):
    def connect(self):
        self.sock = self._connect_socket()


class _HTTPSConnection(_PinnedConnectionMixin, http.client.HTTPSConnection):
    def connect(self):
        sock = self._connect_socket()
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: ignored, the backoff applies


def _abort(conn: http.client.HTTPConnection) -> None:
    # shutdown(), unlike close(), wakes up a recv() blocked in another thread.
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def post(url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    started = time.monotonic()

    def outcome(status_code=None, error="", retry_after=None, refused=False):
        duration = int((time.monotonic() - started) * 1000)
        return Outcome(status_code, error[:500], duration, retry_after, refused)

    try:
        scheme, host, port = split_target(url)
        addresses = safe_addresses(host, port)
    except UnresolvableTarget as exc:
        return outcome(error=str(exc))
    except (ValueError, UnsafeTarget) as exc:
        return outcome(error=f"Refused: {exc}", refused=True)

    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    total = settings.WEBHOOK_TIMEOUT
    cls = _HTTPSConnection if scheme == "https" else _HTTPConnection
    kwargs = {"context": ssl.create_default_context()} if scheme == "https" else {}
    conn = cls(host, port, timeout=total, **kwargs)
    conn.address = addresses[0]
    # A receiver that trickles its answer byte by byte defeats per-read timeouts: a watchdog
    # closes the connection when the total time is up.
    watchdog = threading.Timer(total, _abort, args=(conn,))
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        error = "" if 200 <= response.status < 300 else f"HTTP {response.status} {response.reason}"
        if 300 <= response.status < 400:
            error += " (redirects are not followed)"
        return outcome(response.status, error, _retry_after(response.getheader("Retry-After")))
    except (OSError, http.client.HTTPException) as exc:
        if time.monotonic() - started >= total:
            return outcome(error=f"Timed out after {total:g} s")
        return outcome(error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    finally:
        watchdog.cancel()
        conn.close()
