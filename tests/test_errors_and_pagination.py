"""Bad input of every kind gets a JSON 4xx naming the problem; pagination at its edges."""

import datetime as dt
import re

import pytest
from django.db import OperationalError
from django.test import Client

from leads.models import Lead
from messaging.models import Message
from rooms.models import Room

from .factories import LeadFactory, RoomFactory

LIST_URLS = ["/api/v1/leads/", "/api/v1/rooms/", "/api/v1/messages/"]


def test_malformed_json_answers_400_and_writes_nothing(alice):
    for url in LIST_URLS:
        response = alice.client.post(url, '{"body": ', content_type="application/json")
        assert response.status_code == 400
        assert response.json()["detail"].startswith("JSON parse error")
    assert Lead.objects.count() == Room.objects.count() == Message.objects.count() == 0


def test_unsupported_media_type_answers_415(alice):
    response = alice.client.post("/api/v1/leads/", "nickname: x", content_type="text/yaml")
    assert (response.status_code, response.json()) == (
        415,
        {"detail": 'Unsupported media type "text/yaml" in request.'},
    )


def test_too_large_body_answers_413_before_parsing(alice, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = alice.client.post("/api/v1/leads/", {"nickname": "x" * 2000}, format="json")
    assert (response.status_code, response.json()) == (
        413,
        {"detail": "Request body too large (limit 1000 bytes)."},
    )
    assert Lead.objects.count() == 0


def test_default_body_limit_is_one_mebibyte(alice):
    response = alice.client.post("/api/v1/leads/", {"nickname": "x" * (1024 * 1024)}, format="json")
    assert response.status_code == 413


@pytest.mark.parametrize(
    "path", ["/api/v1/nothing/", "/api/v1/", "/api/v2/leads/", "/api/v1/leads/x/y/z/"]
)
def test_unknown_api_paths_are_json_404s(path, alice):
    response = alice.client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_unknown_paths_answer_json_404_to_every_method(method, alice):
    # Not the CSRF failure page: unknown API paths are exempt like the API itself.
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Token {alice.key}")
    for path in ["/api/v1/nothing/", "/api/v1/leads/not-a-uuid/", "/api/v2/x"]:
        response = getattr(client, method)(path, "{}", content_type="application/json")
        assert response.status_code == 404, path
        assert response.json() == {"detail": "Not found."}


def test_chunked_bodies_are_refused_not_dropped(alice):
    response = alice.client.post(
        "/api/v1/leads/", {"nickname": "x"}, format="json", HTTP_TRANSFER_ENCODING="chunked"
    )
    assert (response.status_code, response.json()) == (
        411,
        {"detail": "A request body needs a Content-Length header (no chunked encoding)."},
    )
    assert Lead.objects.count() == 0


def test_unknown_site_paths_are_json_404s_too(alice):
    response = Client().get("/no/such/page")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_server_errors_are_json_without_details(alice, monkeypatch):
    def explode(self):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("leads.views.LeadViewSet.get_queryset", explode)
    alice.client.raise_request_exception = False

    response = alice.client.get("/api/v1/leads/")

    assert (response.status_code, response.json()) == (
        500,
        {"detail": "A server error occurred."},
    )
    assert b"secret internals" not in response.content


def test_unknown_host_is_a_json_400(alice):
    response = alice.client.get("/api/v1/leads/", HTTP_HOST="evil.example.com")
    assert (response.status_code, response.json()) == (400, {"detail": "Bad request."})


def test_method_not_allowed_is_json(alice):
    response = alice.client.delete("/api/v1/leads/")
    assert (response.status_code, response.json()) == (
        405,
        {"detail": 'Method "DELETE" not allowed.'},
    )


def test_nothing_redirects(alice):
    room = RoomFactory(account=alice.user)
    for path in ["/api/v1/rooms", f"/api/v1/rooms/{room.label}", "/api/v1/auth/api-token"]:
        response = alice.client.post(path, {}, format="json")
        assert response.status_code not in {301, 302, 307, 308}, path


def test_timestamps_are_utc_with_microseconds_and_z(alice):
    LeadFactory(account=alice.user, created_at=dt.datetime(2021, 9, 15, 12, 8, 50, tzinfo=dt.UTC))
    created = alice.client.post("/api/v1/leads/", {}, format="json").json()["created_at"]

    listed = alice.client.get("/api/v1/leads/").json()["results"]

    assert listed[1]["created_at"] == "2021-09-15T12:08:50.000000Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", created)


# --- pagination -------------------------------------------------------------------------------


@pytest.fixture
def leads(alice):
    return LeadFactory.create_batch(25, account=alice.user)


def test_default_page_is_20_with_links(alice, leads):
    body = alice.client.get("/api/v1/leads/").json()

    assert list(body) == ["count", "next", "previous", "results"]
    assert (body["count"], len(body["results"]), body["previous"]) == (25, 20, None)
    assert body["next"] == "http://testserver/api/v1/leads/?limit=20&offset=20"

    last = alice.client.get(body["next"]).json()
    assert (len(last["results"]), last["next"]) == (5, None)
    assert last["previous"] == "http://testserver/api/v1/leads/?limit=20"
    seen = [r["uuid"] for r in body["results"] + last["results"]]
    assert sorted(seen) == sorted(str(lead.uuid) for lead in leads)


@pytest.mark.parametrize(
    ("query", "size"),
    [("limit=1", 1), ("limit=25", 25), ("limit=5000", 25), ("offset=24", 1), ("offset=25", 0)],
)
def test_limits_and_offsets(query, size, alice, leads):
    body = alice.client.get(f"/api/v1/leads/?{query}").json()
    assert (body["count"], len(body["results"])) == (25, size)


def test_limit_is_clamped_to_1000(alice):
    Lead.objects.bulk_create([Lead(account=alice.user) for _ in range(1001)])
    body = alice.client.get("/api/v1/leads/?limit=100000").json()
    assert (body["count"], len(body["results"])) == (1001, 1000)


def test_huge_offset_is_an_empty_page(alice, leads):
    body = alice.client.get(f"/api/v1/leads/?offset={10**30}").json()
    assert (body["count"], body["results"], body["next"]) == (25, [], None)


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ("limit=abc", {"limit": ["A valid integer is required."]}),
        ("limit=1.5", {"limit": ["A valid integer is required."]}),
        ("limit=", {"limit": ["A valid integer is required."]}),
        ("limit=0", {"limit": ["Ensure this value is greater than or equal to 1."]}),
        ("limit=-1", {"limit": ["Ensure this value is greater than or equal to 1."]}),
        ("offset=x", {"offset": ["A valid integer is required."]}),
        ("offset=-5", {"offset": ["Ensure this value is greater than or equal to 0."]}),
        (f"offset={'9' * 5000}", {"offset": ["A valid integer is required."]}),
    ],
)
@pytest.mark.parametrize("url", LIST_URLS)
def test_bad_limit_or_offset_answers_400(url, query, errors, alice):
    response = alice.client.get(f"{url}?{query}")
    assert (response.status_code, response.json()) == (400, errors)


def test_health_check(anon, monkeypatch):
    response = anon.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert anon.post("/healthz").status_code == 405

    def unreachable(*args, **kwargs):
        raise OperationalError("connection refused")

    with monkeypatch.context() as patch:
        patch.setattr("askhandle.api.views.connection.cursor", unreachable)
        response = anon.get("/healthz")
    assert (response.status_code, response.json()) == (
        503,
        {"status": "unavailable", "database": "unreachable"},
    )
