"""`Idempotency-Key` on creates: a retry replays the first answer instead of creating twice."""

import datetime as dt
import io
import threading
import time
import uuid
from dataclasses import dataclass

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models.signals import post_save
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from askhandle.api.mentions import Person
from idempotency.decorators import idempotent
from idempotency.models import IdempotencyKey
from idempotency.services import idempotency_keys_forget
from leads.models import Lead
from leads.views import LeadViewSet
from messaging.models import Message
from rooms.models import Room

from .factories import RoomFactory

REUSED = {
    "detail": "This Idempotency-Key was already used for a different request (another body or "
    "endpoint). Use a new key for a new request."
}


@dataclass
class Create:
    name: str
    model: type
    payload: object  # callable(account) -> dict
    other_payload: object

    @property
    def url(self):
        return f"/api/v1/{self.name}/"


def message_payload(body):
    return lambda account: {
        "body": body,
        "room": {"uuid": str(RoomFactory(account=account.user).uuid)},
    }


CREATES = [
    Create("leads", Lead, lambda a: {"nickname": "Ann"}, lambda a: {"nickname": "Bea"}),
    Create("rooms", Room, lambda a: {"name": "Support"}, lambda a: {"name": "Sales"}),
    Create("messages", Message, message_payload("Hello"), message_payload("Bye")),
]
creates = pytest.mark.parametrize("create", CREATES, ids=lambda c: c.name)


def post(account, url, payload, key, **extra):
    return account.client.post(url, payload, format="json", HTTP_IDEMPOTENCY_KEY=key, **extra)


@creates
def test_a_retry_with_the_same_key_replays_the_first_answer(create, alice):
    payload = create.payload(alice)
    first = post(alice, create.url, payload, "retry-1")
    assert first.status_code == 201, first.json()
    assert "Idempotent-Replayed" not in first

    for _ in range(3):  # the sample frontend retries three times
        again = post(alice, create.url, payload, "retry-1")
        assert again.status_code == 201
        assert again.json() == first.json()
        assert again["Idempotent-Replayed"] == "true"

    assert create.model.objects.filter(account=alice.user).count() == 1
    assert IdempotencyKey.objects.get().response_body == first.json()


@creates
def test_without_a_key_every_post_creates(create, alice):
    payload = create.payload(alice)
    for _ in range(2):
        assert alice.client.post(create.url, payload, format="json").status_code == 201
    assert create.model.objects.count() == 2
    assert not IdempotencyKey.objects.exists()


@creates
def test_the_same_key_with_another_body_answers_422(create, alice):
    assert post(alice, create.url, create.payload(alice), "k").status_code == 201

    response = post(alice, create.url, create.other_payload(alice), "k")

    assert (response.status_code, response.json()) == (422, REUSED)
    assert create.model.objects.count() == 1


def test_the_same_key_on_another_endpoint_answers_422(alice):
    assert post(alice, "/api/v1/leads/", {"nickname": "Ann"}, "k").status_code == 201

    response = post(alice, "/api/v1/rooms/", {"nickname": "Ann"}, "k")

    assert (response.status_code, response.json()) == (422, REUSED)
    assert Room.objects.count() == 0


def test_keys_are_per_account(alice, bob):
    mine = post(alice, "/api/v1/leads/", {"nickname": "Ann"}, "shared-key")
    theirs = post(bob, "/api/v1/leads/", {"nickname": "Ann"}, "shared-key")

    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs
    assert mine.json()["uuid"] != theirs.json()["uuid"]
    assert Lead.objects.get(uuid=theirs.json()["uuid"]).account == bob.user
    # And bob's key with another body is not a reuse of alice's.
    assert post(bob, "/api/v1/leads/", {"nickname": "X"}, "other").status_code == 201


def test_the_same_json_in_another_key_order_is_the_same_request(alice):
    first = alice.client.post(
        "/api/v1/leads/",
        '{"nickname": "Ann", "email": "ann@example.com"}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    again = alice.client.post(
        "/api/v1/leads",  # the other slash form is the same endpoint
        '{"email":"ann@example.com","nickname":"Ann"}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Lead.objects.count() == 1


def test_a_room_created_with_no_body_is_created_once(alice):
    """The sample frontend: `POST /rooms/` with no body at all, retried."""
    first = alice.client.post("/api/v1/rooms/", HTTP_IDEMPOTENCY_KEY="room-1")
    again = alice.client.post("/api/v1/rooms/", HTTP_IDEMPOTENCY_KEY="room-1")

    assert first.status_code == again.status_code == 201
    assert again.json()["label"] == first.json()["label"]
    assert Room.objects.count() == 1


def test_a_refused_create_does_not_use_up_the_key(alice):
    response = post(alice, "/api/v1/leads/", {"email": "not-an-email"}, "k")
    assert response.status_code == 400
    assert not IdempotencyKey.objects.exists()

    response = post(alice, "/api/v1/leads/", {"email": "ann@example.com"}, "k")
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Lead.objects.count() == 1


def test_a_failure_after_the_key_was_claimed_leaves_nothing(alice, monkeypatch):
    def explode(self, serializer):
        serializer.save(account=self.request.user)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(LeadViewSet, "perform_create", explode)
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {alice.key}")

    response = client.post("/api/v1/leads/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 500
    assert not Lead.objects.exists()
    assert not IdempotencyKey.objects.exists()


def test_a_key_expires_after_24_hours(alice, settings):
    assert settings.IDEMPOTENCY_KEY_TTL_SECONDS == 24 * 60 * 60
    first = post(alice, "/api/v1/leads/", {"nickname": "Ann"}, "k")
    IdempotencyKey.objects.update(created_at=timezone.now() - dt.timedelta(hours=23, minutes=59))
    assert post(alice, "/api/v1/leads/", {"nickname": "Ann"}, "k").json() == first.json()

    IdempotencyKey.objects.update(created_at=timezone.now() - dt.timedelta(hours=24, seconds=1))
    later = post(alice, "/api/v1/leads/", {"nickname": "Other"}, "k")

    assert later.status_code == 201
    assert "Idempotent-Replayed" not in later
    assert Lead.objects.count() == 2
    assert IdempotencyKey.objects.get().response_body == later.json()


@pytest.mark.parametrize("key", ["", " ", "with space", "x" * 256, "caf\u00e9"])
def test_a_malformed_key_answers_400(alice, key):
    response = alice.client.post(
        "/api/v1/leads/", {}, format="json", headers={"Idempotency-Key": key}
    )
    assert response.status_code == 400
    assert response.json() == {
        "Idempotency-Key": ["Must be 1 to 255 printable ASCII characters without spaces."]
    }
    assert not Lead.objects.exists()


def test_the_longest_key_is_accepted(alice):
    key = "k" * 255
    assert post(alice, "/api/v1/leads/", {}, key).status_code == 201
    assert post(alice, "/api/v1/leads/", {}, key)["Idempotent-Replayed"] == "true"


def test_a_key_needs_authentication(anon, alice):
    response = anon.post("/api/v1/leads/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 401
    assert not IdempotencyKey.objects.exists()


def test_a_replay_does_not_see_later_changes(alice):
    """It answers what the first request answered, as the retried client expects."""
    first = post(alice, "/api/v1/leads/", {"nickname": "Ann"}, "k")
    alice.client.patch(f"/api/v1/leads/{first.json()['uuid']}/", {"nickname": "Changed"})

    assert post(alice, "/api/v1/leads/", {"nickname": "Ann"}, "k").json() == first.json()


def test_purge_command_deletes_only_expired_keys(alice):
    post(alice, "/api/v1/leads/", {}, "old")
    post(alice, "/api/v1/leads/", {}, "new")
    IdempotencyKey.objects.filter(key="old").update(
        created_at=timezone.now() - dt.timedelta(days=2)
    )
    out = io.StringIO()

    call_command("idempotency_keys_purge", stdout=out)

    assert out.getvalue().strip() == "Deleted 1 expired idempotency key(s)."
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


def test_schema_documents_the_header_on_every_create(anon):
    schema = anon.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            names = {p["name"] for p in operation.get("parameters", [])}
            # Creates are the POSTs on collections (not actions such as rotate-secret).
            is_create = method == "post" and "auth" not in path and "{" not in path
            assert ("Idempotency-Key" in names) == is_create, (method, path)
            assert ("422" in operation["responses"]) == is_create, (method, path)


@pytest.mark.django_db(transaction=True)
@creates
def test_concurrent_requests_with_one_key_create_once(create, make_account, monkeypatch):
    """Two requests with the same key at the same time: the second waits for the first (on the
    key's unique constraint) and replays its answer; never two rows."""
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith("file:"):
        pytest.skip("SQLite in-memory test database: one connection; run on PostgreSQL")
    alice = make_account("alice")
    payload = create.payload(alice)
    in_create = threading.Event()

    def slow_down(sender, **kwargs):
        if sender is create.model:
            in_create.set()
            time.sleep(0.5)  # the first request holds its transaction open

    post_save.connect(slow_down, weak=False)
    results = {}

    def request(name):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {alice.key}")
        try:
            results[name] = client.post(
                create.url, payload, format="json", HTTP_IDEMPOTENCY_KEY="same"
            )
        finally:
            connection.close()

    try:
        first = threading.Thread(target=request, args=("first",))
        first.start()
        assert in_create.wait(10)
        second = threading.Thread(target=request, args=("second",))
        second.start()
        first.join(30)
        second.join(30)
    finally:
        post_save.disconnect(slow_down)

    assert results["first"].status_code == results["second"].status_code == 201
    assert results["second"].json() == results["first"].json()
    assert results["second"]["Idempotent-Replayed"] == "true"
    assert create.model.objects.count() == 1
    assert uuid.UUID(results["first"].json()["uuid"])


class LeadCreateView(APIView):
    """A plain APIView opting in with the decorator (as a non-viewset create would)."""

    @idempotent
    def post(self, request):
        lead = Lead.objects.create(account=request.user, nickname=request.data.get("nickname", ""))
        return Response({"uuid": str(lead.uuid)}, status=201)


def test_the_decorator_makes_any_post_idempotent(alice):
    view = LeadCreateView.as_view()
    factory = APIRequestFactory()

    def call(body):
        request = factory.post("/x/", body, format="json", HTTP_IDEMPOTENCY_KEY="d")
        force_authenticate(request, user=alice.user)
        return view(request)

    first, again, other = call({"nickname": "A"}), call({"nickname": "A"}), call({"nickname": "B"})

    assert first.status_code == again.status_code == 201
    assert again.data == first.data
    assert again["Idempotent-Replayed"] == "true"
    assert other.status_code == 422
    assert Lead.objects.count() == 1
    assert LeadCreateView.post.idempotent is True  # what the schema generator reads


def test_forget_finds_non_ascii_values_by_exact_field_values(alice):
    post(alice, "/api/v1/leads/", {"email": "zoe@exämple.com", "phone_number": "+33 1"}, "a")
    post(alice, "/api/v1/leads/", {"email": "zoe@example.com", "nickname": "zoe@exämple.com"}, "b")

    forgotten = idempotency_keys_forget(
        account=alice.user, person=Person(uuids=(), email="ZOE@exämple.com")
    )

    assert forgotten == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["b"]
    assert idempotency_keys_forget(account=alice.user, person=Person(uuids=())) == 0
