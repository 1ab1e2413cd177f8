"""`Idempotency-Key` on creates: a retried POST replays the first answer instead of creating
twice. Opt in with `IdempotentCreateMixin` on a viewset, or `@idempotent` on a view method."""

import functools
import hashlib
import json
import re

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response

from .services import idempotency_key_claim, idempotency_key_complete

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    description="Optional, 1 to 255 printable ASCII characters (a UUID is a good choice). A "
    "retry with the same key within 24 hours creates nothing and answers the first response "
    "again (with `Idempotent-Replayed: true`); the same key with another body answers 422. "
    "Keys are per account.",
    pattern=r"^[\x21-\x7e]{1,255}$",
)


class IdempotencyKeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = (
        "This Idempotency-Key was already used for a different request (another body or "
        "endpoint). Use a new key for a new request."
    )
    default_code = "idempotency_key_reused"


def request_fingerprint(request) -> str:
    """The operation and the parsed body: the same JSON in another key order or spacing is the
    same request; form data is compared field by field."""
    data = request.data
    if hasattr(data, "lists"):  # a QueryDict (form data)
        data = dict(data.lists())
    view_name = request.resolver_match.view_name if request.resolver_match else request.path
    canonical = json.dumps(
        [request.method, view_name, data], sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent_call(request, create, *, keep=None, replay=None):
    """Run `create()` (returning a Response) at most once per account and `Idempotency-Key`.

    The key is recorded with the answer in the transaction of the create, and only for a
    success: a request refused with a 4xx created nothing, so the same key may be sent again.
    `keep(data)` gives what is stored of the answer (default: all of it) and `replay(stored)`
    the body replayed from it (it may raise an APIException instead): for answers that hold
    something that must not be kept, or not be shown again once it changed (a secret).
    """
    key = request.headers.get(HEADER)
    if key is None:
        return create()
    if not KEY_PATTERN.fullmatch(key):
        raise ValidationError(
            {HEADER: ["Must be 1 to 255 printable ASCII characters without spaces."]}
        )
    fingerprint = request_fingerprint(request)
    with transaction.atomic():
        record, claimed = idempotency_key_claim(
            account=request.user, key=key, fingerprint=fingerprint
        )
        if not claimed:
            if record.fingerprint != fingerprint:
                raise IdempotencyKeyReused()
            body = record.response_body
            return Response(
                body if replay is None else replay(body),
                status=record.response_status,
                headers={REPLAYED_HEADER: "true"},
            )
        response = create()
        if not status.is_success(response.status_code):
            transaction.set_rollback(True)
            return response
        body = response.data if keep is None else keep(response.data)
        idempotency_key_complete(record=record, status=response.status_code, body=body)
    return response


def idempotent(method):
    """Make a view method (`post`, or a viewset's `create`) honour `Idempotency-Key`."""

    @functools.wraps(method)
    def wrapper(self, request, *args, **kwargs):
        return idempotent_call(
            request,
            lambda: method(self, request, *args, **kwargs),
            keep=getattr(self, "idempotent_keep", None),
            replay=getattr(self, "idempotent_replay", None),
        )

    # The marker tells the schema generator (askhandle.api.schema) to document the 422 answer.
    wrapper.idempotent = True
    return extend_schema(parameters=[IDEMPOTENCY_KEY_PARAMETER])(wrapper)


class IdempotentCreateMixin:
    """For a viewset with `CreateModelMixin`: POST creates honour `Idempotency-Key`.

    A view may define `idempotent_keep(data)` and `idempotent_replay(stored)`: see
    `idempotent_call`.
    """

    def in_key_transaction(self) -> bool:
        """Whether this create runs inside its Idempotency-Key's transaction, which commits after
        the response is made (so nothing the create defers to the commit can make it in time)."""
        return self.request.headers.get(HEADER) is not None

    @idempotent
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)
