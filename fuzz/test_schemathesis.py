"""Fuzzing against our own OpenAPI schema (`/api/v1/schema/`), in-process over WSGI.

For every operation and for each of two accounts, schemathesis generates valid and invalid
requests (positive and negative data, edge cases of every parameter) and checks each answer: never
a 5xx, status code, content type, headers and body as documented, and authentication enforced.
Path parameters and a message's room are drawn partly from a fixed set of objects of both
accounts, so that requests reach real objects (one's own: 2xx; the other account's: 404 / 400),
not only random identifiers.

The budget: `FUZZ_EXAMPLES` per operation and account (hypothesis `max_examples`); the run must
send at least `FUZZ_MIN_REQUESTS` (5000) requests and cover every operation of the schema.
"""

import os
import uuid

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from accounts.services import account_create, api_key_issue
from accounts.views import ApiTokenThrottle
from leads.models import Lead
from messaging.models import Message
from rooms.models import Room

from .conftest import MIN_REQUESTS, SENT

# Everything about the answers: no 5xx; status code, content type, headers and body as the
# schema documents them; authentication enforced (re-sent without the key: 401); methods the
# schema lacks answer 405. Not `positive_data_acceptance` / `negative_data_rejection`: they judge
# input validation by what OpenAPI can express, and our rules are partly semantic (a message's
# room must exist in the account, a date must be a real date, a reused Idempotency-Key is a 422,
# unknown query parameters are ignored as DRF does). Invalid input is still generated (negative
# mode) and must get a documented 4xx, never a 5xx.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    ignored_auth,
    unsupported_method,
]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "120"))
ACCOUNTS = ["alice", "bob"]


def fixed_uuid(n: int) -> uuid.UUID:
    return uuid.UUID(int=0x5EED_0000_0000_4000_8000_0000_0000_0000 + n)


# Objects that always exist (recreated before each request, as a request may delete them).
POOL = {
    name: {
        "lead": fixed_uuid(10 + i),
        "room_uuid": fixed_uuid(20 + i),
        "room_label": f"{name}-room",
        "message": fixed_uuid(30 + i),
    }
    for i, name in enumerate(ACCOUNTS)
}
PATH_POOL = {
    "/api/v1/leads/": [str(p["lead"]) for p in POOL.values()],
    "/api/v1/messages/": [str(p["message"]) for p in POOL.values()],
    "/api/v1/rooms/": [p["room_label"] for p in POOL.values()],
}
ROOM_REFERENCES = [str(p["room_uuid"]) for p in POOL.values()]


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    """Half the time, a path names one of the pool's objects instead of a random one."""
    for prefix, values in PATH_POOL.items():
        names = [n for n in path_parameters or {} if n in {"uuid", "label"}]
        if names and context.operation.path.startswith(prefix):
            name = names[0]
            known = st.sampled_from(values).map(lambda v, n=name: {**path_parameters, n: v})
            return st.one_of(st.just(path_parameters), known)
    return st.just(path_parameters)


@schemathesis.hook
def flatmap_body(context, body):
    """A new message names one of the pool's rooms (the account's own or the other's) half the
    time, as an object or a bare uuid."""
    if (
        context.operation.method.upper() != "POST"
        or context.operation.path != "/api/v1/messages/"
        or not isinstance(body, dict)
        or "room" not in body
    ):
        return st.just(body)
    known = st.sampled_from(ROOM_REFERENCES).flatmap(
        lambda ref: st.sampled_from([{**body, "room": ref}, {**body, "room": {"uuid": ref}}])
    )
    return st.one_of(st.just(body), known)


def pool_ensure(users):
    for name, user in users.items():
        ids = POOL[name]
        Lead.objects.get_or_create(uuid=ids["lead"], defaults={"account": user, "nickname": name})
        room, _ = Room.objects.get_or_create(
            uuid=ids["room_uuid"], defaults={"account": user, "label": ids["room_label"]}
        )
        Message.objects.get_or_create(
            uuid=ids["message"], defaults={"account": user, "room": room, "body": "hello"}
        )


@pytest.fixture(scope="module", autouse=True)
def _in_process_requests():
    # As Django's test client does: requests run inside the test's transaction, so the
    # connection must survive the end of each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(params=ACCOUNTS)
def fuzz_account(request, db, settings, monkeypatch):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Rate limits are tested on their own; here they would only turn answers into 429s.
    settings.API_KEY_THROTTLE_RATE = settings.CLIENT_ADDRESS_THROTTLE_RATE = "off"
    # Streams and long-polls end at once here (over WSGI a stream's body is read to its end):
    # their live behaviour has its own tests (tests/test_streams.py).
    settings.STREAM_MAX_SECONDS = 0.05
    monkeypatch.setattr(ApiTokenThrottle, "THROTTLE_RATES", {"api_token": None})
    users = {}
    keys = {}
    for name in ACCOUNTS:
        users[name] = account_create(username=name, password=f"pw-{name}")
        keys[name] = api_key_issue(user=users[name])[1]
    pool_ensure(users)
    return {"name": request.param, "key": keys[request.param], "users": users}


# Loaded at collection, from the server itself (no database needed; the address rate limit,
# which counts in the database cache, is off for it).
with override_settings(CLIENT_ADDRESS_THROTTLE_RATE="off"):
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case, fuzz_account):
    pool_ensure(fuzz_account["users"])
    # Plain answers: schemathesis asks for gzip, and its WSGI client does not decompress
    # (compressed answers have their own tests: tests/test_compression.py).
    headers = {"Authorization": f"Token {fuzz_account['key']}", "Accept-Encoding": "identity"}
    response = case.call(headers=headers)
    SENT[(f"{case.operation.method.upper()} {case.operation.path}", response.status_code)] += 1
    case.validate_response(response, headers=headers, checks=CHECKS)


def test_budget_and_coverage(request):
    """Runs last: the whole run sent enough requests and reached every operation."""
    if request.config.option.keyword or request.config.option.markexpr:
        pytest.skip("a selection of the fuzzing tests ran")
    schema_operations = {
        f"{operation.method.upper()} {operation.path}"
        for operation in (result.ok() for result in schema.get_all_operations())
    }
    reached = {operation for operation, _ in SENT}
    assert reached == schema_operations
    assert sum(SENT.values()) >= MIN_REQUESTS
