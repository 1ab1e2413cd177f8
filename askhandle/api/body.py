"""Refuse a request whose body ended before its Content-Length: the client went away (or its
connection broke) mid-upload, and acting on what arrived would store half of what it meant.

gunicorn, like most WSGI servers, hands the application a short body without saying so when the
connection closes early. A truncated JSON body usually fails to parse, but a truncated form body
(`body=Hello wor`) is valid, and a JSON one cut inside trailing whitespace is too.
"""

from django.http import UnreadablePostError

from .views import JsonResponse


class CompleteBodyMiddleware:
    """Reads the body up front (already bounded by RequestBodyLimitMiddleware, which runs first)
    and answers 400 when fewer bytes arrived than Content-Length announced."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        expected = int(request.META.get("CONTENT_LENGTH") or 0)
        if expected > 0:
            try:
                received = len(request.body)
            except UnreadablePostError:
                received = -1
            if received != expected:
                return JsonResponse(
                    {"detail": "Incomplete request body: the connection closed before it ended."},
                    status=400,
                )
        return self.get_response(request)
