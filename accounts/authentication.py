from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from .lookup import active_api_key
from .models import api_key_digest
from .services import api_key_touch


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <key>` (the AskHandle scheme) or `Bearer <key>`.

    Keys are looked up by their SHA-256 digest. Revoked keys and inactive accounts are refused
    exactly like unknown keys.
    """

    keywords = ("token", "bearer")
    failure = "Invalid token."

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].decode(errors="replace").lower() not in self.keywords:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid token header. Token string should not contain spaces."
                if len(parts) > 2
                else "Invalid token header. No credentials provided."
            )
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(self.failure) from None
        api_key = active_api_key(api_key_digest(key))
        if api_key is None:
            raise exceptions.AuthenticationFailed(self.failure)
        api_key_touch(api_key=api_key)
        return api_key.user, api_key

    def authenticate_header(self, request):
        return "Token"


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'Token-based authentication with the prefix "Token" (or "Bearer"), '
            'e.g. "Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b".',
        }
