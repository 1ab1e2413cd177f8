"""Failed logins to the admin, limited per client address and per username (django-axes).

django-axes records each failed admin login (table `axes_accessattempt`, shown in the admin) and,
after `ADMIN_LOGIN_FAILURE_LIMIT` failures from one address (any username) or for one username
(from any address), refuses further logins there, even with the right password, for
`ADMIN_LOGIN_LOCKOUT_MINUTES` (docs/reliability.md). A successful login resets the count of
its username and address. The API is outside it: keys (`Authorization: Token`) are not
passwords and never pass through Django's authenticate(), and `POST /api/v1/auth/api-token`
has its own limit per address (`API_TOKEN_THROTTLE_RATE`); its failures are not counted here,
so a password guesser on the API cannot lock an administrator out of the admin, nor the reverse.
"""

from django.conf import settings
from django.shortcuts import render
from rest_framework import throttling

ADMIN_PREFIX = "/admin/"
_ident = throttling.BaseThrottle().get_ident


def client_address(request) -> str:
    """The address the API's limits use too: the connection's, or from X-Forwarded-For only
    with NUM_PROXIES set."""
    return _ident(request)


def outside_the_admin(request, credentials) -> bool:
    """Never counted or locked: any login that is not the admin's (the API's api-token)."""
    return not getattr(request, "path", "").startswith(ADMIN_PREFIX)


def lockout_response(request, original_response=None, credentials=None):
    """429 with Retry-After and the admin's look, saying what happened and for how long."""
    minutes = settings.ADMIN_LOGIN_LOCKOUT_MINUTES
    response = render(
        request,
        "admin/login_locked.html",
        {
            "title": "Too many failed logins",
            "minutes": minutes,
            "failure_limit": settings.AXES_FAILURE_LIMIT,
        },
        status=429,
    )
    response["Retry-After"] = str(minutes * 60)
    return response
