"""The application the web server runs (askhandle/web.py): one ASGI application in front of two
ways of running Django, chosen per request by its path (docs/streams.md, "One server").

- The live requests, which wait (Server-Sent Events streams, and long-polls with `wait=`), go to
  Django's ASGI handler. Their views answer at once with a body that waits on the event loop
  (webhooks/streams.py), so a thousand idle subscribers hold no thread.
- Every other request goes to Django's WSGI application, run on a pool of WEB_THREADS threads by
  a2wsgi: the API's views are synchronous (DRF), and a thread pool runs them with less overhead
  than Django's ASGI handler, which gives each request a thread of its own (measured:
  docs/performance.md, "Live updates").

So the threads that serve the API are never held by a connection that waits.
"""

import os
import re
from urllib.parse import parse_qsl

from a2wsgi import WSGIMiddleware
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


def router(*, threads: int | None = None):
    live = get_asgi_application()
    threads = threads or int(os.environ.get("WEB_THREADS") or 4)
    # send_queue_size: how many response chunks a thread may write ahead of a slow reader.
    api = WSGIMiddleware(get_wsgi_application(), workers=threads)

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
