"""Gzip for API answers, for clients that ask for it (`Accept-Encoding: gzip`).

A rooms page nests the messages of its rooms, so at a busy account's scale one page is megabytes
of JSON; sent compressed it is a few percent of that (most HTTP libraries and every browser ask
for gzip; curl does with `--compressed`). Django's GZipMiddleware does the work, limited to the
API: admin pages are authenticated by a cookie and carry CSRF tokens beside reflected input (the
BREACH setting), API answers are authenticated by a header a third-party page cannot make a
browser send. (Pages the fast path keeps are kept compressed too, and sent with their
Content-Encoding, which GZipMiddleware leaves alone.)
"""

from django.middleware.gzip import GZipMiddleware

API_PREFIX = "/api/"


class ApiGZipMiddleware(GZipMiddleware):
    """GZipMiddleware for the answers under /api/ only."""

    def process_response(self, request, response):
        if not request.path.startswith(API_PREFIX):
            return response
        return super().process_response(request, response)
