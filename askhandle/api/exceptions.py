import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

from .unavailable import RETRY_AFTER_SECONDS, ServiceUnavailable, is_database_unavailable

logger = logging.getLogger(__name__)


def exception_handler(exc, context):
    """DRF's handler with the hosted API's texts: every missing or foreign object is the same
    `{"detail": "Not found."}` (the model name would be noise), and a model-level validation
    error that escaped a serializer is a 400, not a 500; an unreachable database is a 503."""
    if is_database_unavailable(exc):
        logger.warning("database unavailable: %s", exc)
        response = drf_exception_handler(ServiceUnavailable(), context)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    return drf_exception_handler(exc, context)
