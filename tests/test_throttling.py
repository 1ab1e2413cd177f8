"""Rate limits per API key and per client address: 429 JSON with Retry-After, counted in the
shared cache, configurable, and never in the way when the cache fails."""

import re
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured

from accounts.services import api_key_issue
from askhandle.api import throttling
from leads.models import Lead

THROTTLED = re.compile(r"Request was throttled\. Expected available in (\d+) seconds?\.")


@pytest.fixture
def per_key(settings):
    settings.API_KEY_THROTTLE_RATE = "3/min"
    settings.CLIENT_ADDRESS_THROTTLE_RATE = "off"


@pytest.fixture
def per_address(settings):
    settings.API_KEY_THROTTLE_RATE = "off"
    settings.CLIENT_ADDRESS_THROTTLE_RATE = "3/min"


def assert_throttled(response, period=60):
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    wait = int(response["Retry-After"])
    assert 1 <= wait <= period
    match = THROTTLED.fullmatch(response.json()["detail"])
    assert match and int(match[1]) == wait, response.json()


def test_defaults_are_generous_and_documented(settings):
    assert throttling.parse_rate(settings.API_KEY_THROTTLE_RATE) == (6000, 60)
    assert throttling.parse_rate(settings.CLIENT_ADDRESS_THROTTLE_RATE) == (1200, 60)


def test_a_key_beyond_its_rate_answers_429(per_key, alice):
    for _ in range(3):
        assert alice.client.get("/api/v1/leads/").status_code == 200

    response = alice.client.post("/api/v1/leads/", {"nickname": "x"}, format="json")

    assert_throttled(response)
    assert not Lead.objects.exists()


def test_each_key_has_its_own_budget(per_key, alice, bob):
    for _ in range(3):
        alice.client.get("/api/v1/rooms/")
    assert alice.client.get("/api/v1/rooms/").status_code == 429

    assert bob.client.get("/api/v1/rooms/").status_code == 200
    _, second_key = api_key_issue(user=alice.user)
    alice.client.credentials(HTTP_AUTHORIZATION=f"Token {second_key}")
    assert alice.client.get("/api/v1/rooms/").status_code == 200


def test_the_window_ends_after_retry_after(per_key, alice, monkeypatch):
    now = 1_700_006_400.0  # 19676 days: a window boundary for every period
    monkeypatch.setattr(throttling, "clock", lambda: now)
    for _ in range(3):
        alice.client.get("/api/v1/leads/")
    response = alice.client.get("/api/v1/leads/")
    assert_throttled(response)
    assert response["Retry-After"] == "60"

    now += 59.5
    assert alice.client.get("/api/v1/leads/")["Retry-After"] == "1"
    now += 0.5
    assert alice.client.get("/api/v1/leads/").status_code == 200


def test_an_address_beyond_its_rate_answers_429_whatever_the_key(per_address, alice, anon):
    bad = "Token " + "0" * 40
    for _ in range(3):
        assert anon.get("/api/v1/leads/", HTTP_AUTHORIZATION=bad).status_code == 401

    # Counted before authentication: guessing keys uses up the address's budget.
    assert_throttled(alice.client.get("/api/v1/leads/"))
    assert_throttled(anon.get("/api/v1/nothing-here/"))
    # Another address is not affected.
    assert alice.client.get("/api/v1/leads/", REMOTE_ADDR="203.0.113.7").status_code == 200


def test_forwarded_for_is_ignored_without_trusted_proxies(per_address, alice):
    for n in range(3):
        alice.client.get("/api/v1/leads/", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
    response = alice.client.get("/api/v1/leads/", HTTP_X_FORWARDED_FOR="198.51.100.99")
    assert response.status_code == 429


def test_forwarded_for_names_the_client_behind_a_trusted_proxy(per_address, alice, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    for _ in range(3):
        alice.client.get("/api/v1/leads/", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert alice.client.get("/api/v1/leads/", HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == (
        429
    )
    assert alice.client.get("/api/v1/leads/", HTTP_X_FORWARDED_FOR="198.51.100.2").status_code == (
        200
    )


def test_only_the_api_is_limited_per_address(per_address, anon):
    for _ in range(5):
        assert anon.get("/healthz").status_code == 200


def test_off_disables_a_limit(settings, alice):
    settings.API_KEY_THROTTLE_RATE = settings.CLIENT_ADDRESS_THROTTLE_RATE = "off"
    for _ in range(30):
        assert alice.client.get("/api/v1/leads/").status_code == 200


@pytest.mark.parametrize(
    ("rate", "parsed"),
    [
        ("600/min", (600, 60)),
        ("10/s", (10, 1)),
        ("5/sec", (5, 1)),
        ("100/hour", (100, 3600)),
        ("1000/day", (1000, 86400)),
        ("off", None),
        ("none", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_rate(rate, parsed):
    assert throttling.parse_rate(rate) == parsed


@pytest.mark.parametrize("rate", ["fast", "10", "10/week", "x/min", "0/min", "-1/min"])
def test_a_malformed_rate_is_a_configuration_error(rate):
    with pytest.raises(ImproperlyConfigured):
        throttling.parse_rate(rate)


def test_a_failing_cache_lets_requests_through(settings, alice, monkeypatch):
    settings.API_KEY_THROTTLE_RATE = settings.CLIENT_ADDRESS_THROTTLE_RATE = "1/min"

    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(throttling, "counter_hit", broken)
    for _ in range(3):
        assert alice.client.get("/api/v1/leads/").status_code == 200


def test_counters_live_in_the_shared_cache(per_key, alice):
    """Another worker sees the same counters: they are in the configured cache, not in memory."""
    for _ in range(3):
        alice.client.get("/api/v1/leads/")
    assert caches["default"].__class__.__name__ == "DatabaseCache"
    caches["default"].clear()  # as if the counters were lost: the budget starts again
    assert alice.client.get("/api/v1/leads/").status_code == 200


def test_rate_limit_cost_is_constant(settings, alice, django_assert_max_num_queries):
    """With the database cache each limit is a read and a write of one row per request."""
    alice.client.get("/api/v1/leads/")
    settings.API_KEY_THROTTLE_RATE = settings.CLIENT_ADDRESS_THROTTLE_RATE = "off"
    with django_assert_max_num_queries(100) as off:
        alice.client.get("/api/v1/leads/")
    settings.API_KEY_THROTTLE_RATE = settings.CLIENT_ADDRESS_THROTTLE_RATE = "100/min"
    counts = []
    for _ in range(3):
        with django_assert_max_num_queries(100) as on:
            alice.client.get("/api/v1/leads/")
        counts.append(len(on) - len(off))
    assert counts[0] == counts[1] == counts[2] <= 12, counts


def redis_available():
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.2).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not redis_available(), reason="no Redis on 127.0.0.1:6379")
def test_redis_counters_are_atomic_and_expire(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/3",
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        }
    }
    cache = caches["default"]
    try:
        key = "ratelimit:test"
        assert [throttling.counter_hit(key, 5) for _ in range(3)] == [1, 2, 3]
        client = cache._cache.get_client(write=False)
        assert 0 < client.ttl(cache.make_and_validate_key(key)) <= 5  # incr kept the expiry
        assert cache.get(key) == 3  # a plain integer in the cache's own key space
        # Concurrent hits from several threads (as from several workers) lose no count.
        with ThreadPoolExecutor(max_workers=4) as pool:
            counts = list(pool.map(lambda _: throttling.counter_hit("concurrent", 60), range(200)))
        assert sorted(counts) == list(range(1, 201))
        settings.API_KEY_THROTTLE_RATE = "off"
        settings.CLIENT_ADDRESS_THROTTLE_RATE = "2/min"
        assert throttling.rate_limit_hit("address", "192.0.2.1", "2/min") is None
        assert throttling.rate_limit_hit("address", "192.0.2.1", "2/min") is None
        assert throttling.rate_limit_hit("address", "192.0.2.1", "2/min") >= 1
    finally:
        cache.clear()


def test_a_malformed_rate_stops_the_server_when_it_loads(settings):
    settings.CLIENT_ADDRESS_THROTTLE_RATE = "lots"
    with pytest.raises(ImproperlyConfigured):
        throttling.ClientAddressRateLimitMiddleware(lambda request: None)


def test_every_operation_documents_429(anon):
    schema = anon.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operations = [op for item in schema["paths"].values() for op in item.values()]
    assert len(operations) >= 17
    for operation in operations:
        assert "429" in operation["responses"], operation["operationId"]
