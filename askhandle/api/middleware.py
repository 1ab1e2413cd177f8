from django.conf import settings

from askhandle.api.views import JsonResponse


class RequestBodyLimitMiddleware:
    """Answer 413 for a body larger than DATA_UPLOAD_MAX_MEMORY_SIZE before anything reads it, and
    411 for a chunked body.

    Django enforces that limit only when it parses form data itself; DRF's JSON parser reads the
    raw stream, so without this a JSON body of any size would be read into memory.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            # The WSGI handler would read a body of unknown length as empty: refuse it instead
            # of acting on a request whose content was dropped.
            return JsonResponse(
                {"detail": "A request body needs a Content-Length header (no chunked encoding)."},
                status=411,
            )
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Invalid Content-Length header."}, status=400)
        if limit is not None and length > limit:
            return JsonResponse(
                {"detail": f"Request body too large (limit {limit} bytes)."}, status=413
            )
        return self.get_response(request)


class ApiSecurityHeadersMiddleware:
    """API answers are data for programs, never a page: a browser must not run or frame them, and
    nothing on the way may keep a copy (they hold people's contact details). The HTML docs page
    keeps Django's defaults."""

    prefix = "/api/"
    headers = {
        "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
        "Cache-Control": "no-store",
        # Also here for the answers of the middleware below it (413, 429), which
        # XFrameOptionsMiddleware, further in, never sees.
        "X-Frame-Options": "DENY",
    }

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith(self.prefix) and not response.get("Content-Type", "").startswith(
            "text/html"
        ):
            for name, value in self.headers.items():
                response.headers.setdefault(name, value)
        return response
