import datetime as dt
import re

import pytest
from django.utils import timezone

from accounts.models import ApiKey, api_key_digest
from accounts.services import api_key_issue

TOKEN_URLS = ["/api/v1/auth/api-token", "/api/v1/auth/api-token/"]
BAD_CREDENTIALS = {"non_field_errors": ["Unable to log in with provided credentials."]}


@pytest.mark.parametrize("url", TOKEN_URLS)
@pytest.mark.parametrize("fmt", ["json", "multipart", "urlencoded"])
def test_api_token_issues_a_new_working_key(url, fmt, alice, anon):
    credentials = {"username": "alice", "password": alice.password}
    if fmt == "urlencoded":
        response = anon.post(
            url,
            "username=alice&password=" + alice.password,
            content_type="application/x-www-form-urlencoded",
        )
    else:
        response = anon.post(url, credentials, format=fmt)

    assert response.status_code == 200
    assert list(response.json()) == ["token"]
    key = response.json()["token"]
    assert re.fullmatch(r"[0-9a-f]{40}", key)
    anon.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert anon.get("/api/v1/rooms/").status_code == 200


def test_each_call_issues_a_different_key_stored_only_as_digest(alice, anon):
    credentials = {"username": "alice", "password": alice.password}
    keys = [anon.post(TOKEN_URLS[0], credentials, format="json").json()["token"] for _ in range(2)]

    assert keys[0] != keys[1]
    for key in keys:
        stored = ApiKey.objects.get(digest=api_key_digest(key))
        assert stored.user == alice.user
        assert stored.prefix == key[:8]
        assert stored.created_at is not None
    # The clear key is in no column of any key row.
    for row in ApiKey.objects.values():
        assert not any(isinstance(v, str) and keys[0] in v for v in row.values())


@pytest.mark.parametrize(
    "payload",
    [
        {"username": "alice", "password": "wrong"},
        {"username": "nobody", "password": "x"},
    ],
)
def test_api_token_refuses_bad_credentials(payload, alice, anon):
    response = anon.post(TOKEN_URLS[0], payload, format="json")
    assert (response.status_code, response.json()) == (400, BAD_CREDENTIALS)
    assert ApiKey.objects.count() == 1  # alice's fixture key only


def test_api_token_refuses_inactive_accounts(alice, anon):
    alice.user.is_active = False
    alice.user.save()
    response = anon.post(
        TOKEN_URLS[0], {"username": "alice", "password": alice.password}, format="json"
    )
    assert (response.status_code, response.json()) == (400, BAD_CREDENTIALS)


def test_api_token_names_missing_fields(anon):
    response = anon.post(TOKEN_URLS[0], {}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "username": ["This field is required."],
        "password": ["This field is required."],
    }


def test_api_token_is_throttled_per_client_address(alice, anon):
    bad = {"username": "alice", "password": "wrong"}
    for _ in range(10):
        assert anon.post(TOKEN_URLS[0], bad, format="json").status_code == 400

    response = anon.post(
        TOKEN_URLS[0], {"username": "alice", "password": alice.password}, format="json"
    )
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["detail"].startswith("Request was throttled.")

    # A forged X-Forwarded-For does not make a new client (no proxy is trusted by default).
    response = anon.post(
        TOKEN_URLS[0],
        {"username": "alice", "password": alice.password},
        format="json",
        HTTP_X_FORWARDED_FOR="203.0.113.9",
    )
    assert response.status_code == 429

    # Another address is not affected.
    other = anon.post(
        TOKEN_URLS[0],
        {"username": "alice", "password": alice.password},
        format="json",
        REMOTE_ADDR="10.0.0.2",
    )
    assert other.status_code == 200


@pytest.mark.parametrize("scheme", ["Token", "Bearer", "token", "bearer"])
def test_token_and_bearer_schemes(scheme, alice, anon):
    anon.credentials(HTTP_AUTHORIZATION=f"{scheme} {alice.key}")
    assert anon.get("/api/v1/leads/").status_code == 200


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("Token", "Invalid token header. No credentials provided."),
        ("Token a b", "Invalid token header. Token string should not contain spaces."),
        ("Token " + "0" * 40, "Invalid token."),
        ("Bearer nothex", "Invalid token."),
    ],
)
def test_bad_authorization_headers(header, detail, alice, anon):
    anon.credentials(HTTP_AUTHORIZATION=header)
    response = anon.get("/api/v1/leads/")
    assert response.status_code == 401
    assert response.json() == {"detail": detail}
    assert response["WWW-Authenticate"] == "Token"


def test_non_ascii_key_is_refused_not_crashed(alice, anon):
    anon.credentials(HTTP_AUTHORIZATION="Token clé".encode().decode("latin-1"))
    response = anon.get("/api/v1/leads/")
    assert (response.status_code, response.json()) == (401, {"detail": "Invalid token."})


def test_basic_auth_is_not_an_api_credential(alice, anon):
    anon.credentials(HTTP_AUTHORIZATION="Basic YWxpY2U6eA==")
    response = anon.get("/api/v1/leads/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_revoked_key_and_inactive_account_are_refused(alice, anon):
    anon.credentials(HTTP_AUTHORIZATION=f"Token {alice.key}")
    ApiKey.objects.filter(user=alice.user).update(revoked_at=timezone.now())
    response = anon.get("/api/v1/leads/")
    assert (response.status_code, response.json()) == (401, {"detail": "Invalid token."})

    _, key = api_key_issue(user=alice.user)
    anon.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert anon.get("/api/v1/leads/").status_code == 200
    alice.user.is_active = False
    alice.user.save()
    response = anon.get("/api/v1/leads/")
    assert (response.status_code, response.json()) == (401, {"detail": "Invalid token."})


def test_last_used_is_recorded_at_most_once_a_minute(alice):
    key = ApiKey.objects.get(user=alice.user)
    assert key.last_used_at is None

    alice.client.get("/api/v1/leads/")
    key.refresh_from_db()
    first_use = key.last_used_at
    assert first_use is not None

    alice.client.get("/api/v1/leads/")
    key.refresh_from_db()
    assert key.last_used_at == first_use

    ApiKey.objects.filter(pk=key.pk).update(last_used_at=first_use - dt.timedelta(minutes=2))
    alice.client.get("/api/v1/leads/")
    key.refresh_from_db()
    assert key.last_used_at > first_use
