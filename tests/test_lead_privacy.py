"""A lead's data on request: everything held about it (export) and its erasure (purge)."""

import uuid

import pytest

from idempotency.models import IdempotencyKey
from leads.models import Lead
from leads.selectors import lead_rooms
from messaging.models import Message
from rooms.models import Room

from .factories import LeadFactory, MessageFactory, RoomFactory

NOT_FOUND = {"detail": "Not found."}
NO_CREDENTIALS = {"detail": "Authentication credentials were not provided."}


@pytest.fixture
def held(alice, bob):
    """Alice's lead Ann, with rooms found by her email and by her phone, a room that is not
    hers, and bob's room with the same email (another account: never Ann's data at alice's)."""
    lead = LeadFactory(account=alice.user, email="Ann@Example.com", phone_number="+1 555 0100")
    by_email = RoomFactory(account=alice.user, label="by-email")
    MessageFactory(account=alice.user, room=by_email, body="hi", email="ann@example.com")
    MessageFactory(account=alice.user, room=by_email, body="answer", is_support_sender=True)
    by_phone = RoomFactory(account=alice.user, label="by-phone")
    MessageFactory(account=alice.user, room=by_phone, body="call me", phone_number="+1 555 0100")
    other = RoomFactory(account=alice.user, label="other")
    MessageFactory(account=alice.user, room=other, body="not ann", email="bea@example.com")
    bobs = RoomFactory(account=bob.user, label="bobs")
    MessageFactory(account=bob.user, room=bobs, body="same email", email="ann@example.com")
    return {"lead": lead, "by_email": by_email, "by_phone": by_phone, "other": other, "bobs": bobs}


def export_url(lead):
    return f"/api/v1/leads/{lead.uuid}/export/"


def test_export_holds_the_lead_its_rooms_and_their_messages(alice, held):
    response = alice.client.get(export_url(held["lead"]))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"lead", "rooms", "exported_at"}
    assert body["lead"] == alice.client.get(f"/api/v1/leads/{held['lead'].uuid}/").json()
    assert [room["label"] for room in body["rooms"]] == ["by-phone", "by-email"]  # newest first
    by_email = body["rooms"][1]
    assert by_email == alice.client.get("/api/v1/rooms/by-email/").json()
    assert [m["body"] for m in by_email["messages"]] == ["hi", "answer"]  # the whole room
    assert body["exported_at"].endswith("Z")


@pytest.mark.parametrize("url", ["/api/v1/leads/{}/export", "/api/v1/leads/{}/export/"])
def test_export_answers_with_and_without_the_slash(alice, held, url):
    assert alice.client.get(url.format(held["lead"].uuid)).status_code == 200


def test_a_lead_without_contact_details_has_no_rooms(alice, held):
    lead = LeadFactory(account=alice.user, email="", phone_number="")
    MessageFactory(account=alice.user, room=held["other"], email="", phone_number="")

    body = alice.client.get(export_url(lead)).json()

    assert body["rooms"] == []
    assert not lead_rooms(lead=lead).exists()


def test_a_lead_with_only_a_phone_number_finds_rooms_by_phone(alice, held):
    lead = LeadFactory(account=alice.user, email="", phone_number="+1 555 0100")
    labels = [room["label"] for room in alice.client.get(export_url(lead)).json()["rooms"]]
    assert labels == ["by-phone"]


def test_export_needs_a_key(anon, alice, held):
    response = anon.get(export_url(held["lead"]))
    assert (response.status_code, response.json()) == (401, NO_CREDENTIALS)


def test_export_of_another_accounts_lead_is_not_found(bob, held):
    response = bob.client.get(export_url(held["lead"]))
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_export_of_a_missing_lead_is_not_found(alice):
    response = alice.client.get(f"/api/v1/leads/{uuid.uuid4()}/export/")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_export_is_read_only(alice, held, method):
    response = getattr(alice.client, method)(export_url(held["lead"]), {}, format="json")
    assert response.status_code == 405
    assert Lead.objects.filter(pk=held["lead"].pk).exists()


def test_export_queries_do_not_grow_with_rooms(alice, held, settings, django_assert_num_queries):
    settings.API_KEY_THROTTLE_RATE = settings.CLIENT_ADDRESS_THROTTLE_RATE = "off"  # cache traffic
    alice.client.get("/api/v1/leads/")  # records the key's last use
    # Key + lead + rooms + their messages.
    with django_assert_num_queries(4):
        assert alice.client.get(export_url(held["lead"])).status_code == 200
    for n in range(5):
        room = RoomFactory(account=alice.user)
        MessageFactory(account=alice.user, room=room, email="ann@example.com", body=f"m{n}")
    with django_assert_num_queries(4):
        body = alice.client.get(export_url(held["lead"])).json()
    assert len(body["rooms"]) == 7


def rows():
    return {
        "leads": set(Lead.objects.values_list("pk", flat=True)),
        "rooms": set(Room.objects.values_list("label", flat=True)),
        "messages": Message.objects.count(),
    }


def test_delete_without_purge_keeps_the_rooms(alice, held):
    response = alice.client.delete(f"/api/v1/leads/{held['lead'].uuid}/")

    assert response.status_code == 204
    assert not Lead.objects.filter(pk=held["lead"].pk).exists()
    assert rows()["rooms"] == {"by-email", "by-phone", "other", "bobs"}
    assert rows()["messages"] == 5


@pytest.mark.parametrize("flag", ["true", "True", "1"])
def test_purge_deletes_the_lead_its_rooms_and_their_messages(alice, held, flag):
    response = alice.client.delete(f"/api/v1/leads/{held['lead'].uuid}?purge={flag}")

    assert response.status_code == 204
    assert not Lead.objects.filter(pk=held["lead"].pk).exists()
    assert rows()["rooms"] == {"other", "bobs"}
    assert set(Message.objects.values_list("body", flat=True)) == {"not ann", "same email"}
    assert alice.client.get("/api/v1/rooms/by-email/").status_code == 404


@pytest.mark.parametrize("flag", ["false", "0"])
def test_purge_false_is_a_plain_delete(alice, held, flag):
    response = alice.client.delete(f"/api/v1/leads/{held['lead'].uuid}/?purge={flag}")
    assert response.status_code == 204
    assert rows()["rooms"] == {"by-email", "by-phone", "other", "bobs"}


@pytest.mark.parametrize("flag", ["maybe", "", "2"])
def test_a_malformed_purge_answers_400_and_deletes_nothing(alice, held, flag):
    before = rows()
    response = alice.client.delete(f"/api/v1/leads/{held['lead'].uuid}/?purge={flag}")

    assert response.status_code == 400
    assert response.json() == {"purge": ["Must be a valid boolean."]}
    assert rows() == before


def test_purge_of_another_accounts_lead_is_not_found(bob, held):
    before = rows()
    response = bob.client.delete(f"/api/v1/leads/{held['lead'].uuid}/?purge=true")

    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert rows() == before


def test_purge_needs_a_key(anon, held):
    before = rows()
    response = anon.delete(f"/api/v1/leads/{held['lead'].uuid}/?purge=true")
    assert (response.status_code, response.json()) == (401, NO_CREDENTIALS)
    assert rows() == before


def test_schema_documents_export_and_purge(anon):
    schema = anon.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    export = schema["paths"]["/api/v1/leads/{uuid}/export/"]
    assert set(export) == {"get"}
    assert set(export["get"]["responses"]) == {"200", "401", "404", "429", "503"}
    assert set(schema["components"]["schemas"]["LeadExport"]["properties"]) == {
        "lead",
        "rooms",
        "exported_at",
    }
    delete = schema["paths"]["/api/v1/leads/{uuid}/"]["delete"]
    assert "purge" in {p["name"] for p in delete["parameters"]}
    assert set(delete["responses"]) == {"204", "400", "401", "404", "429", "503"}


def test_purge_also_forgets_stored_create_answers_about_the_lead(alice, bob, held):
    """Idempotency-Key replays keep copies of create answers for 24 h: erasure removes those."""

    def create(account, url, payload, key):
        response = account.client.post(url, payload, format="json", HTTP_IDEMPOTENCY_KEY=key)
        assert response.status_code == 201, response.json()

    create(alice, "/api/v1/leads/", {"email": "ANN@example.com"}, "lead-copy")
    create(alice, "/api/v1/rooms/", {"name": "Sales"}, "unrelated-room")
    room = str(held["by_email"].uuid)
    create(alice, "/api/v1/messages/", {"body": "more", "room": room}, "message-in-anns-room")
    by_phone = {"body": "x", "phone_number": "+1 555 0100", "room": str(held["other"].uuid)}
    create(alice, "/api/v1/messages/", by_phone, "by-phone")
    create(bob, "/api/v1/leads/", {"email": "ann@example.com"}, "bobs-copy")

    response = alice.client.delete(f"/api/v1/leads/{held['lead'].uuid}/?purge=true")

    assert response.status_code == 204
    assert set(IdempotencyKey.objects.values_list("key", flat=True)) == {
        "unrelated-room",
        "bobs-copy",  # another account's data is not alice's to erase
    }
