"""JSON answers for what falls outside the routed API: unknown paths and server errors never
answer an HTML page."""

import sys
from functools import partial

from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from .unavailable import RETRY_AFTER_SECONDS, ServiceUnavailable, is_database_unavailable

# Compact separators, like DRF's renderer, so every error body has the same bytes.
JsonResponse = partial(JsonResponse, json_dumps_params={"separators": (",", ":")})


# Exempt: a POST to an unknown API path must get this 404, not the CSRF failure page.
@csrf_exempt
def not_found(request, *args, **kwargs):
    return JsonResponse({"detail": "Not found."}, status=404)


@require_safe
def health(request):
    """For load balancers and compose: 200 when the server can reach its database."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok"})


def server_error(request, *args, **kwargs):
    # Django calls this inside its `except` block, so the exception is at hand: a database
    # outage outside the API's views (the admin, middleware) is a 503 there too.
    if is_database_unavailable(sys.exc_info()[1]):
        response = JsonResponse({"detail": ServiceUnavailable.default_detail}, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return JsonResponse({"detail": "A server error occurred."}, status=500)


def bad_request(request, *args, **kwargs):
    return JsonResponse({"detail": "Bad request."}, status=400)


def permission_denied(request, *args, **kwargs):
    return JsonResponse(
        {"detail": "You do not have permission to perform this action."}, status=403
    )
