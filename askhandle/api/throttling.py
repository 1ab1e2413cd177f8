"""Rate limits per API key and per client address: fixed one-period windows, counted by
`askhandle.api.rate_limits` in Redis with REDIS_URL, in a table of the database otherwise, so
every worker and host shares them; each process adds its hits there in batches, and at every hit
near a limit.

The per-key limit is the accounts app's (accounts/throttling.py), which owns API keys; this module
is shared and knows no app. They are courtesy limits against runaway clients, not a security
boundary. Beyond a limit the answer is
`429 {"detail": "Request was throttled. Expected available in N seconds."}` with `Retry-After: N`,
N being the seconds left in the window.
"""

import functools
import logging
import math
import time

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import ngettext
from rest_framework import throttling

from askhandle.api.rate_limits import counter_hit
from askhandle.api.views import JsonResponse

logger = logging.getLogger(__name__)

PERIODS = {"s": 1, "m": 60, "h": 60 * 60, "d": 24 * 60 * 60}
OFF = {"", "off", "none", "0"}
clock = time.time  # replaced in tests


@functools.cache
def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """`"600/min"` -> (600, 60); None or "off" -> None (no limit). Periods: s, min, hour, day
    (only the first letter counts, as in DRF)."""
    if rate is None or rate.strip().lower() in OFF:
        return None
    try:
        count, period = rate.strip().split("/")
        parsed = int(count), PERIODS[period.strip()[0].lower()]
    except (ValueError, KeyError, IndexError):
        raise ImproperlyConfigured(f"Invalid rate {rate!r}: expected 600/min or off.") from None
    if parsed[0] < 1:
        raise ImproperlyConfigured(f"Invalid rate {rate!r}: the count must be at least 1.")
    return parsed


def rate_limit_hit(scope: str, ident: str, rate: str | None) -> int | None:
    """Count one request of `ident` against `rate`; return None when it is within the limit, or
    the seconds until the window ends when it is over.

    A cache that fails (Redis down) lets the request through: the limits are a courtesy, and
    availability is not.
    """
    parsed = parse_rate(rate)
    if parsed is None:
        return None
    limit, period = parsed
    now = clock()
    window = int(now // period)
    try:
        count = counter_hit(f"{scope}:{ident}:{period}", window=window, limit=limit, period=period)
    except Exception:
        logger.warning("Rate limit counter unavailable; request let through", exc_info=True)
        return None
    if count <= limit:
        return None
    return max(1, math.ceil((window + 1) * period - now))


def throttled_detail(wait: int) -> str:
    # DRF's text, so both limits answer alike.
    unit = ngettext("second", "seconds", wait)
    return f"Request was throttled. Expected available in {wait} {unit}."


class ClientAddressRateLimitMiddleware:
    """Per client address (`CLIENT_ADDRESS_THROTTLE_RATE`), for every request under /api/,
    counted before authentication so that floods of bad keys are limited too. The address is
    the connection's, or taken from X-Forwarded-For only with NUM_PROXIES set (as DRF does)."""

    prefix = "/api/"

    def __init__(self, get_response):
        self.get_response = get_response
        self.ident = throttling.BaseThrottle().get_ident
        # A malformed rate stops the server when it loads, not at the first request.
        parse_rate(settings.CLIENT_ADDRESS_THROTTLE_RATE)
        parse_rate(settings.API_KEY_THROTTLE_RATE)

    def __call__(self, request):
        if request.path.startswith(self.prefix):
            wait = rate_limit_hit(
                "address", self.ident(request), settings.CLIENT_ADDRESS_THROTTLE_RATE
            )
            if wait is not None:
                response = JsonResponse({"detail": throttled_detail(wait)}, status=429)
                response["Retry-After"] = str(wait)
                return response
        return self.get_response(request)
