"""The known clients' calls (spec section 3), replayed as they make them, checking what they
read."""

import json

import pytest
from rest_framework.test import APIClient

from knowledge.models import KnowledgeEntry
from leads.models import Lead

from .factories import LeadFactory, RoomFactory


def results(body):
    # The connector reads lists as a bare array or as {results}.
    return body if isinstance(body, list) else body["results"]


class TestAutomationConnector:
    def test_key_check_is_exactly_200(self, alice, anon):
        assert alice.client.get("/api/v1/rooms/").status_code == 200
        anon.credentials(HTTP_AUTHORIZATION="Token " + "f" * 40)
        assert anon.get("/api/v1/rooms/").status_code != 200

    def test_bearer_key_check(self, alice, anon):
        anon.credentials(HTTP_AUTHORIZATION=f"Bearer {alice.key}")
        assert anon.get("/api/v1/rooms/").status_code == 200

    def test_reads_rooms_and_leads(self, alice):
        room = RoomFactory(account=alice.user, name="Support")
        lead = LeadFactory(account=alice.user, nickname="Ann", email="ann@example.com")

        rooms = results(alice.client.get("/api/v1/rooms/").json())
        leads = results(alice.client.get("/api/v1/leads/").json())

        assert {k: rooms[0][k] for k in ("uuid", "name", "label")} == {
            "uuid": str(room.uuid),
            "name": "Support",
            "label": room.label,
        }
        assert {k: leads[0][k] for k in ("uuid", "nickname", "email")} == {
            "uuid": str(lead.uuid),
            "nickname": "Ann",
            "email": "ann@example.com",
        }

    @pytest.mark.parametrize(
        "payload", [{}, {"nickname": "Ann"}, {"email": "ann@example.com", "phone_number": "123"}]
    )
    def test_creates_leads_with_only_non_empty_fields(self, payload, alice):
        response = alice.client.post("/api/v1/leads/", payload, format="json")
        assert response.status_code == 201
        assert response.json()["uuid"]
        assert Lead.objects.filter(account=alice.user).count() == 1

    @pytest.mark.parametrize(
        "extra", [{}, {"nickname": "Mary"}, {"email": "m@example.com", "phone_number": "+1 555"}]
    )
    def test_creates_messages(self, extra, alice):
        room = RoomFactory(account=alice.user)
        payload = {"body": "Hello", "room": {"uuid": str(room.uuid)}} | extra
        response = alice.client.post("/api/v1/messages/", payload, format="json")
        assert response.status_code == 201
        assert {k: response.json()[k] for k in extra} == extra

    def test_lists_leads_by_date_with_limit(self, alice):
        LeadFactory.create_batch(3, account=alice.user)
        response = alice.client.get(
            "/api/v1/leads/", {"start_date": "2000-01-01", "end_date": "2999-12-31", "limit": 2}
        )
        assert response.status_code == 200
        assert len(results(response.json())) == 2
        assert response.json()["count"] == 3


class TestSampleChatFrontend:
    """Creates a room with no body, greets, posts messages, then polls each message."""

    def test_conversation(self, alice):
        client = APIClient(HTTP_USER_AGENT="AskHandleClient/1.0")
        client.credentials(HTTP_AUTHORIZATION=f"Token {alice.key}")

        shipping = "Yes: we ship to Canada and the US, in 3 to 5 business days."
        KnowledgeEntry.objects.create(
            account=alice.user, question="Which countries do you ship to?", answer=shipping
        )

        room = client.generic("POST", "/api/v1/rooms/")
        assert room.status_code == 201
        room_uuid = room.json()["uuid"]
        assert isinstance(room.json()["greeting_message"], str)

        for extra in [{}, {"email": "mary@example.com", "phone_number": "+1 555 0100"}]:
            sent = client.post(
                "/api/v1/messages/",
                {"body": "Do you ship to Canada?", "nickname": "Mary", "room": {"uuid": room_uuid}}
                | extra,
                format="json",
            )
            assert sent.status_code == 201
            polled = client.get(f"/api/v1/messages/{sent.json()['uuid']}/")
            assert polled.status_code == 200
            # The frontend calls .trim() on it: never anything but a string or null.
            assert polled.json()["support_answer"] == shipping

        listed = client.get(f"/api/v1/rooms/{room.json()['label']}/").json()
        assert [(m["body"], m["is_support_sender"]) for m in listed["messages"]] == [
            ("Do you ship to Canada?", False),
            (shipping, True),
        ] * 2


class TestCurlUser:
    def test_reference_walkthrough(self, alice, anon):
        token = anon.post(
            "/api/v1/auth/api-token",
            json.dumps({"username": "alice", "password": alice.password}),
            content_type="application/json",
        ).json()["token"]
        anon.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        for resource in ["leads", "rooms", "messages"]:
            response = anon.get(f"/api/v1/{resource}/")
            assert response.status_code == 200
            assert response.json()["results"] == []
