from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorDetail = inline_serializer("ErrorDetail", {"detail": serializers.CharField()})

ERROR_RESPONSES = {
    400: OpenApiResponse(
        OpenApiTypes.OBJECT,
        description='Invalid input: `{"<field or parameter>": ["<message>", ...]}`, '
        '`{"non_field_errors": [...]}`, or `{"detail": "..."}` for a body that is not valid JSON.',
    ),
    401: OpenApiResponse(ErrorDetail, description="Missing or invalid API key."),
    404: OpenApiResponse(ErrorDetail, description="No such object in this account."),
    411: OpenApiResponse(ErrorDetail, description="A chunked body (send Content-Length)."),
    413: OpenApiResponse(ErrorDetail, description="Request body too large."),
    415: OpenApiResponse(ErrorDetail, description="Body is neither JSON nor form data."),
    422: OpenApiResponse(
        ErrorDetail,
        description="The `Idempotency-Key` was already used with another body or endpoint.",
    ),
    429: OpenApiResponse(ErrorDetail, description="Too many requests; see `Retry-After`."),
    503: OpenApiResponse(
        ErrorDetail,
        description="The database is briefly unreachable; nothing was stored. Retry after "
        "`Retry-After` seconds.",
    ),
}


class ApiAutoSchema(AutoSchema):
    """Documents the error answers every operation can give, so clients (and the fuzzing tests)
    see the whole contract, not only the happy path."""

    def _is_idempotent(self):
        # Handlers that honour `Idempotency-Key` are marked so (and document the header
        # themselves, idempotency.decorators); this shared module knows no app.
        # A viewset's handler is its action (`create`); an APIView's, the method (`post`).
        handler = getattr(
            self.view, getattr(self.view, "action", None) or self.method.lower(), None
        )
        return getattr(handler, "idempotent", False)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        method = self.method.upper()
        codes = []
        if self.get_auth():
            codes.append(401)
        if method in {"POST", "PUT", "PATCH"}:
            codes += [400, 411, 413, 415]
        elif self._is_list_view() and method == "GET":
            codes.append(400)  # bad filters, limit or offset
        if "{" in self.path:
            codes.append(404)
        if self._is_idempotent():
            codes.append(422)
        codes.append(429)  # the rate limits apply to every request under /api/
        codes.append(503)
        for code in codes:
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(
                    ERROR_RESPONSES[code], str(code), direction=direction
                )
        return responses


def unslash_api_token(result, generator, request, public):
    """The reference documents `auth/api-token` without a trailing slash (both are served)."""
    paths = result["paths"]
    result["paths"] = {
        (path.rstrip("/") if path.endswith("/auth/api-token/") else path): item
        for path, item in paths.items()
    }
    return result
