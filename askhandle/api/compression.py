"""Gzip for API answers, for clients that ask for it (`Accept-Encoding: gzip`).

A rooms page nests every message of its rooms, so at a busy account's scale one page is megabytes
of JSON; sent compressed it is a few percent of that (most HTTP libraries and every browser ask
for gzip; curl does with `--compressed`). Django's GZipMiddleware does the work, limited to the
API: admin pages are authenticated by a cookie and carry CSRF tokens beside reflected input (the
BREACH setting), API answers are authenticated by a header a third-party page cannot make a
browser send. Pages from the page cache keep their compressed form beside the plain one, so a
repeated page is compressed once, not on every request (askhandle/api/page_cache.py).
"""

from django.middleware.gzip import GZipMiddleware, re_accepts_gzip
from django.utils.cache import patch_vary_headers
from django.utils.text import compress_string

API_PREFIX = "/api/"
# GZipMiddleware's own floor: shorter answers are not worth a gzip header.
MIN_LENGTH = 200


def accepts_gzip(request) -> bool:
    return bool(re_accepts_gzip.search(request.META.get("HTTP_ACCEPT_ENCODING", "")))


def gzip_or_none(content: bytes) -> bytes | None:
    """The body as GZipMiddleware would send it, or None where it would send it plain."""
    if len(content) < MIN_LENGTH:
        return None
    compressed = compress_string(content, max_random_bytes=GZipMiddleware.max_random_bytes)
    return compressed if len(compressed) < len(content) else None


def set_gzipped(response, compressed: bytes) -> None:
    """Give `response` the compressed body and the headers GZipMiddleware would have set (which
    then leaves it alone: it has a Content-Encoding)."""
    response.content = compressed
    response.headers["Content-Length"] = str(len(compressed))
    response.headers["Content-Encoding"] = "gzip"
    patch_vary_headers(response, ("Accept-Encoding",))


class ApiGZipMiddleware(GZipMiddleware):
    """GZipMiddleware for the answers under /api/ only."""

    def process_response(self, request, response):
        if not request.path.startswith(API_PREFIX):
            return response
        return super().process_response(request, response)
