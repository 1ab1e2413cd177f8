from dataclasses import dataclass

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import account_create, api_key_issue
from askhandle.api import rate_limits
from askhandle.api.fast_lists import pages, triggers
from knowledge import semantic


@dataclass
class Account:
    user: User
    key: str
    client: APIClient
    password: str


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Production stretches passwords on purpose; tests create two accounts each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache(db):
    # Every test starts with no rate-limit counts (in this process; their table is rolled back),
    # nothing cached, no cached list pages, none of the bot's vectors kept in memory.
    rate_limits.counters.clear()
    cache.clear()
    pages.pages.clear()
    pages.fragments.clear()
    semantic.matrices.clear()
    _data_versions_at_each_write()
    yield
    cache.clear()
    pages.pages.clear()
    pages.fragments.clear()
    semantic.matrices.clear()


def _data_versions_at_each_write():
    """On PostgreSQL the data-version triggers run at commit, and a test's transaction never
    commits: inside it, let them run at each write as they do on SQLite (and as a committed
    request sees them)."""
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute(f"SET CONSTRAINTS {', '.join(triggers.deferred_names())} IMMEDIATE")


@pytest.fixture
def anon():
    return APIClient()


@pytest.fixture
def make_account(db):
    def make(username: str) -> Account:
        password = f"pw-{username}-secret"
        user = account_create(username=username, password=password)
        _, key = api_key_issue(user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return Account(user=user, key=key, client=client, password=password)

    return make


@pytest.fixture
def alice(make_account) -> Account:
    return make_account("alice")


@pytest.fixture
def bob(make_account) -> Account:
    """The other account: nothing of bob's may ever be visible to alice, and the reverse."""
    return make_account("bob")


@pytest.fixture
def admin_client(db):
    """A logged-in superuser of the admin."""
    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(admin)
    return client


@pytest.fixture
def receiver(settings):
    """A webhook receiver on 127.0.0.1; loopback targets are allowed for it."""
    from tests.receiver import Receiver

    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def no_rate_limits(settings):
    """For pinned query counts: the rate-limit counters are cache traffic (database queries only
    with the database cache); their cost is pinned in test_throttling.py."""
    settings.API_KEY_THROTTLE_RATE = settings.CLIENT_ADDRESS_THROTTLE_RATE = "off"
