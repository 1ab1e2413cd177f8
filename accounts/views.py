from drf_spectacular.utils import extend_schema
from rest_framework import throttling
from rest_framework.response import Response
from rest_framework.views import APIView

from askhandle.api.schema import ERROR_RESPONSES

from .serializers import ApiTokenRequestSerializer, ApiTokenResponseSerializer
from .services import api_key_issue


class ApiTokenThrottle(throttling.SimpleRateThrottle):
    """Per client address: slows password guessing (passwords are also stored stretched)."""

    scope = "api_token"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ApiTokenView(APIView):
    """Exchange a username and password for a new API key.

    Each call issues a new key; it is shown only in this response (the server keeps its digest).
    """

    authentication_classes = []
    permission_classes = []
    throttle_classes = [ApiTokenThrottle]

    @extend_schema(
        operation_id="auth_api_token",
        request=ApiTokenRequestSerializer,
        responses={
            200: ApiTokenResponseSerializer,
            400: ERROR_RESPONSES[400],
            429: ERROR_RESPONSES[429],
        },
        tags=["auth"],
    )
    def post(self, request):
        serializer = ApiTokenRequestSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        _, key = api_key_issue(user=serializer.validated_data["user"], name="api-token")
        return Response({"token": key})
