"""Rate limits per API key and per client address: 429 JSON with Retry-After, counted in the
shared cache, configurable, and never in the way when the cache fails."""

import re
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.services import api_key_issue
from askhandle.api import rate_limits, throttling
from askhandle.api.rate_limits.models import Counter
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


def test_counters_live_in_a_shared_table_not_in_the_cache(per_key, alice):
    """Another worker sees the same counts: they are in the database (Redis with REDIS_URL), not
    only in this process's memory, and not in a cache that may cull them."""
    for _ in range(3):
        alice.client.get("/api/v1/leads/")
    assert Counter.objects.get(key__startswith="key:").count == 3
    caches["default"].clear()  # a cache culling its entries takes no count with it
    rate_limits.counters.clear()  # another process, which has counted nothing itself
    assert_throttled(alice.client.get("/api/v1/leads/"))


def test_far_from_the_limit_a_request_costs_no_query(
    settings, alice, monkeypatch, django_assert_num_queries
):
    """Each process adds its hits to the shared count at most every FLUSH_SECONDS per key (here:
    never within the test), so a request far from its limits makes no query for them; once due,
    one statement per counter."""
    settings.API_KEY_THROTTLE_RATE = settings.CLIENT_ADDRESS_THROTTLE_RATE = "off"
    alice.client.get("/api/v1/leads/")
    with CaptureQueriesContext(connection) as off:
        alice.client.get("/api/v1/leads/")
    settings.API_KEY_THROTTLE_RATE = settings.CLIENT_ADDRESS_THROTTLE_RATE = "100000/min"
    monkeypatch.setattr(rate_limits, "FLUSH_SECONDS", 3600)
    for _ in range(3):
        with django_assert_num_queries(len(off)):
            assert alice.client.get("/api/v1/leads/").status_code == 200
    monkeypatch.setattr(rate_limits, "FLUSH_SECONDS", 0)
    with django_assert_num_queries(len(off) + 2) as on:
        assert alice.client.get("/api/v1/leads/").status_code == 200
    added = [q["sql"] for q in on.captured_queries if "rate_limits_counter" in q["sql"]]
    assert len(added) == 2
    # The key's and the address's 4 hits each, added at once.
    assert sorted(Counter.objects.values_list("count", flat=True)) == [4, 4]


def test_near_the_limit_every_hit_is_shared(transactional_db):
    """Two processes (two Counters) on one key: far from the limit they count alone, near it at
    every hit, so together they admit the limit and at most each one's last share beyond it."""
    first, second = rate_limits.Counters(), rate_limits.Counters()
    limit, admitted, shared_hits = 100, 0, 0
    for index in range(400):
        counters = first if index % 2 else second
        before = Counter.objects.filter(key="k").values_list("count", flat=True).first()
        if counters.hit("k", window=1, limit=limit, period=60) <= limit:
            admitted += 1
        after = Counter.objects.filter(key="k").values_list("count", flat=True).first()
        shared_hits += before != after
    assert limit <= admitted <= limit + 2 * (limit // rate_limits.SHARERS), admitted
    assert shared_hits < 400  # far from the limit, hits were counted in memory


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
        add = rate_limits._redis_add
        assert [add("test", window=7, period=5, delta=2) for _ in range(3)] == [2, 4, 6]
        client = cache._cache.get_client(write=False)
        redis_key = cache.make_and_validate_key("ratelimit:test:7")
        assert 0 < client.ttl(redis_key) <= 6  # incrby kept the expiry
        assert cache.get("ratelimit:test:7") == 6  # a plain integer in the cache's own key space
        # Concurrent hits from several threads (as from several workers) lose no count.
        with ThreadPoolExecutor(max_workers=4) as pool:
            counts = list(
                pool.map(lambda _: add("concurrent", window=1, period=60, delta=1), range(200))
            )
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
