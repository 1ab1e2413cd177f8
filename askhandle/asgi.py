"""The application the web server runs (askhandle/web.py): one ASGI application in front of two
ways of running Django, chosen per request by its path (docs/streams.md, "One server").

- The live requests, which wait (Server-Sent Events streams, and long-polls with `wait=`), go to
  Django's ASGI handler. Their views answer at once with a body that waits on the event loop
  (webhooks/streams.py), so a thousand idle subscribers hold no thread.
- Every other request goes to Django's WSGI application, run on a pool of WEB_THREADS threads
  (WSGIBridge): the API's views are synchronous (DRF), and a thread pool runs them with less
  overhead than Django's ASGI handler, which gives each request a thread of its own (measured:
  docs/performance.md, "Live updates").

So the threads that serve the API are never held by a connection that waits.
"""

import asyncio
import io
import os
import re
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qsl

from a2wsgi import WSGIMiddleware
from a2wsgi.wsgi import build_environ
from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "askhandle.settings")

# The paths of the streams (their slashes are optional, as on every API path).
STREAM_PATH = re.compile(
    r"^/(?:api/v1/events|api/v1/rooms/[^/]+/events|admin/bot/inboxroom/events)/?$"
)
# The paths that long-poll with `wait=`: a message list and one message.
WAIT_PATH = re.compile(r"^/api/v1/messages(?:/[^/]+)?/?$")


def is_live(scope) -> bool:
    """Whether the request waits: a stream, or a long-poll (a `wait` in its query)."""
    path = scope["path"]
    if STREAM_PATH.match(path):
        return True
    if WAIT_PATH.match(path) and b"wait=" in scope.get("query_string", b""):
        return any(
            name == "wait" for name, _ in parse_qsl(scope["query_string"].decode("latin-1"), True)
        )
    return False


class WSGIBridge:
    """The WSGI application run for ASGI requests on a pool of threads, in one hop each way: the
    body is read on the event loop, the application runs (and its answer is read whole) on a
    thread, the answer is sent from the loop. a2wsgi's own middleware, streaming both ways, hops
    between the loop and the thread for every chunk received and sent: measured on /healthz, one
    worker, 16 connections (the server's CPU time per request, medians of 3 rounds), it cost 49%
    more than granian's WSGI interface (4.37 against 2.93 ms, on a loaded machine), this bridge
    3% (3.02 ms), at the same requests/s (docs/performance.md, "Live updates"). The API's
    answers are never long streams (the live ones do not come here), so reading them whole
    costs no memory worth the hops. The environ is a2wsgi's (build_environ)."""

    def __init__(self, app, *, threads: int):
        self.app = app
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="wsgi")

    async def __call__(self, scope, receive, send):
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                # The client stopped sending before the body ended: the application answers
                # what arrived (askhandle.api.body refuses a body shorter than its
                # Content-Length with a 400), as under a WSGI server.
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        environ = build_environ(scope, io.BytesIO(b"".join(chunks)))
        loop = asyncio.get_running_loop()
        status, headers, body = await loop.run_in_executor(self.pool, self.run, environ)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def run(self, environ):
        started = []

        def start_response(status, headers, exc_info=None):
            if exc_info and started:
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [status, headers]
            return written.append

        written = []
        result = self.app(environ, start_response)
        try:
            for chunk in result:
                if chunk:
                    written.append(chunk)
        finally:
            if hasattr(result, "close"):
                result.close()
        status, headers = started
        return (
            int(status.split(" ", 1)[0]),
            [(name.lower().encode("latin1"), value.encode("latin1")) for name, value in headers],
            b"".join(written),
        )


def router(*, threads: int | None = None):
    live = get_asgi_application()
    threads = threads or int(os.environ.get("WEB_THREADS") or 4)
    if os.environ.get("WEB_BRIDGE") == "a2wsgi":  # for bench/servers.py's comparison
        api = WSGIMiddleware(get_wsgi_application(), workers=threads)
    else:
        api = WSGIBridge(get_wsgi_application(), threads=threads)

    async def application(scope, receive, send):
        if scope["type"] == "http" and not is_live(scope):
            # a2wsgi hands `receive` to run_coroutine_threadsafe, which wants a coroutine
            # function; granian's is a Rust awaitable.
            async def receive_coroutine():
                return await receive()

            await api(scope, receive_coroutine, send)
        elif scope["type"] == "lifespan":
            await lifespan(receive, send)
        else:
            # handle(), not the handler itself: that opens a ThreadSensitiveContext per request,
            # a thread (with its database connection) that a stream kept until it ended. So the
            # live views' short synchronous part (authentication, the first check) runs on
            # Django's one thread-sensitive thread; their reads on webhooks.streams' readers.
            await live.handle(scope, receive, send)

    return application


async def lifespan(receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


application = router()
