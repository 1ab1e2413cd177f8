"""A database that cannot be reached (restarting, failing over, out of connections) is a
temporary condition: the client gets `503 {"detail": ...}` with `Retry-After` and can send the
same request again, instead of a 500 that reads like a bug in its request.

Only OperationalError and InterfaceError mean that: the connection broke, could not be made, or
the pool had none to give in time (psycopg's PoolTimeout is an OperationalError; so is SQLite's
"database is locked" after its busy timeout). The transaction of that request rolled back, so
nothing of it was stored. IntegrityError and the like stay 500s: they are bugs, not outages.
"""

from django.db import InterfaceError, OperationalError
from rest_framework import status
from rest_framework.exceptions import APIException

RETRY_AFTER_SECONDS = 2


class ServiceUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service is temporarily unavailable; retry shortly."
    default_code = "service_unavailable"


def is_database_unavailable(exc: BaseException | None) -> bool:
    return isinstance(exc, OperationalError | InterfaceError)
