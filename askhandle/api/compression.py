"""Gzip for API answers, for clients that ask for it (`Accept-Encoding: gzip`).

A rooms page nests the messages of its rooms, so at a busy account's scale one page is megabytes
of JSON; sent compressed it is a few percent of that (most HTTP libraries and every browser ask
for gzip; curl does with `--compressed`). Django's GZipMiddleware does the work, limited to the
API: admin pages are authenticated by a cookie and carry CSRF tokens beside reflected input (the
BREACH setting), API answers are authenticated by a header a third-party page cannot make a
browser send. (Pages the fast path keeps are kept compressed too, and sent with their
Content-Encoding, which GZipMiddleware leaves alone.)

Django decides with a regex that finds the word "gzip" anywhere in the header, so
`gzip;q=0` (the client refusing gzip) got gzip. `gzip_accepted` reads the header as RFC 9110
section 12.5.3 says; both GZipMiddleware (here) and the fast path ask it.
"""

from django.middleware.gzip import GZipMiddleware
from django.utils.cache import patch_vary_headers

API_PREFIX = "/api/"
GZIP_CODINGS = frozenset({"gzip", "x-gzip"})


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                return 0.0  # malformed: not an acceptance
            return quality if 0.0 <= quality <= 1.0 else 0.0
    return 1.0


def gzip_accepted(accept_encoding: str) -> bool:
    """Whether the client accepts gzip: it names `gzip` (or `x-gzip`) with a quality above 0.

    `gzip;q=0`, `identity`, `*;q=0` or no header: no. A bare `*` also gets the plain answer
    (identity is always acceptable, and a client that wants gzip names it).
    """
    accepted = False
    for item in accept_encoding.split(","):
        coding, *parameters = item.split(";")
        if coding.strip().lower() in GZIP_CODINGS:
            if _quality(parameters) <= 0:
                return False  # an explicit refusal wins over any other mention
            accepted = True
    return accepted


class ApiGZipMiddleware(GZipMiddleware):
    """GZipMiddleware for the answers under /api/ only, and only when gzip is accepted."""

    def process_response(self, request, response):
        if not request.path.startswith(API_PREFIX):
            return response
        if response.get("Content-Type", "").startswith("text/event-stream"):
            return response  # each event is sent as it happens, never held for compression
        if not gzip_accepted(request.META.get("HTTP_ACCEPT_ENCODING", "")):
            # As GZipMiddleware does for a client without gzip: the answer varies by the header.
            if not response.has_header("Content-Encoding") and (
                response.streaming or len(response.content) >= 200
            ):
                patch_vary_headers(response, ("Accept-Encoding",))
            return response
        # Django's own test is a case-sensitive search for "gzip": say it plainly for it.
        header = request.META.get("HTTP_ACCEPT_ENCODING")
        request.META["HTTP_ACCEPT_ENCODING"] = "gzip"
        try:
            return super().process_response(request, response)
        finally:
            request.META["HTTP_ACCEPT_ENCODING"] = header
