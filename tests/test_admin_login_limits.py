"""Failed admin logins are limited per client address and per username (django-axes); the API
(keys, and `POST /auth/api-token` with its own throttle) is not affected."""

import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.test import Client

from accounts.services import account_create

PASSWORD = "the-right-password-1"
LIMIT = 5  # ADMIN_LOGIN_FAILURE_LIMIT's default


@pytest.fixture(autouse=True)
def admins(db, settings):
    settings.API_TOKEN_THROTTLE_RATE = settings.API_KEY_THROTTLE_RATE = "off"
    settings.CLIENT_ADDRESS_THROTTLE_RATE = "off"
    for name in ("root", "other"):
        account_create(username=name, password=PASSWORD)
    from accounts.models import User

    User.objects.update(is_staff=True, is_superuser=True)


def login(username, password, address="10.0.0.1"):
    client = Client(REMOTE_ADDR=address)
    response = client.post(
        "/admin/login/?next=/admin/", {"username": username, "password": password}
    )
    return response, client


def fail(times, username="root", address="10.0.0.1"):
    """`times` failed logins: the form again each time, except the one that reaches the limit,
    which is already answered with the lock-out."""
    for number in range(1, times + 1):
        response, client = login(username, "wrong", address)
        if number < LIMIT:
            assert response.status_code == 200
            assert "Please enter the correct username and password" in response.content.decode()
        else:
            assert_locked(response, client)


def assert_locked(response, client):
    assert response.status_code == 429
    assert response["Retry-After"] == str(15 * 60)
    assert "Too many failed logins" in response.content.decode()
    assert "15 minutes" in response.content.decode()
    assert client.get("/admin/").status_code == 302  # not logged in


def test_the_right_password_works_below_the_limit(db):
    fail(LIMIT - 1)
    response, client = login("root", PASSWORD)
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
    # ...and a success resets the count: the limit starts again.
    fail(LIMIT - 1)
    assert login("root", PASSWORD)[0].status_code == 302


def test_after_the_limit_even_the_right_password_is_refused_for_the_lock_period(db):
    fail(LIMIT)

    assert_locked(*login("root", PASSWORD))
    # The same username from another address: locked (per username).
    assert_locked(*login("root", PASSWORD, address="10.9.9.9"))
    # Another username from the same address: locked (per address).
    assert_locked(*login("other", PASSWORD))
    # Another username from another address: unaffected.
    response, client = login("other", PASSWORD, address="10.9.9.9")
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_the_lock_ends_after_the_lock_period(db):
    fail(LIMIT)
    assert_locked(*login("root", PASSWORD))

    # 15 minutes pass (attempts during the lock did not prolong it).
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - dt.timedelta(minutes=15, seconds=1)
    )

    response, client = login("root", PASSWORD)
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_the_api_is_not_affected(db, make_account):
    alice = make_account("alice")
    # A locked username keeps its API keys and can get new ones.
    fail(LIMIT, username="alice")
    assert_locked(*login("alice", alice.password))
    assert alice.client.get("/api/v1/leads/").status_code == 200
    token = Client(REMOTE_ADDR="10.0.0.1").post(
        "/api/v1/auth/api-token", {"username": "alice", "password": alice.password}
    )
    assert token.status_code == 200

    # Failed api-token logins are the API's (its own throttle), never counted for the admin.
    for _ in range(LIMIT + 2):
        refused = Client(REMOTE_ADDR="10.5.5.5").post(
            "/api/v1/auth/api-token", {"username": "root", "password": "wrong"}
        )
        assert refused.status_code == 400
    assert not AccessAttempt.objects.filter(username="root").exists()
    assert login("root", PASSWORD, address="10.5.5.5")[0].status_code == 302
