"""The per API key rate limit: in the accounts app, which owns API keys; the counting is shared
(askhandle.api.throttling)."""

from django.conf import settings
from rest_framework import throttling

from askhandle.api.throttling import rate_limit_hit

from .models import ApiKey


class ApiKeyRateThrottle(throttling.BaseThrottle):
    """Per API key (`API_KEY_THROTTLE_RATE`): each key of an account has its own budget."""

    wait_seconds = None

    def allow_request(self, request, view):
        if not isinstance(request.auth, ApiKey):
            return True
        self.wait_seconds = rate_limit_hit(
            "key", str(request.auth.pk), settings.API_KEY_THROTTLE_RATE
        )
        return self.wait_seconds is None

    def wait(self):
        return self.wait_seconds
