import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.models import ApiKey, User, api_key_digest

from .factories import LeadFactory, MessageFactory, RoomFactory


def test_schema_describes_every_endpoint_field_and_filter(anon):
    response = anon.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()

    paths = schema["paths"]
    assert set(paths) == {
        "/api/v1/auth/api-token",
        "/api/v1/leads/",
        "/api/v1/leads/{uuid}/",
        "/api/v1/leads/{uuid}/export/",
        "/api/v1/rooms/",
        "/api/v1/rooms/{label}/",
        "/api/v1/rooms/{label}/hand_back/",
        "/api/v1/rooms/{label}/events/",
        "/api/v1/events/",
        "/api/v1/messages/",
        "/api/v1/messages/{uuid}/",
        "/api/v1/webhooks/",
        "/api/v1/webhooks/{uuid}/",
        "/api/v1/webhooks/{uuid}/rotate-secret/",
        "/api/v1/webhooks/{uuid}/deliveries/",
        "/api/v1/webhooks/{uuid}/deliveries/{delivery_id}/redeliver/",
        "/api/v1/keywords/",
        "/api/v1/keywords/{uuid}/",
        "/api/v1/keyword_notifications/",
        "/api/v1/keyword_notifications/{uuid}/",
        "/api/v1/knowledge/",
        "/api/v1/knowledge/{uuid}/",
        "/api/v1/knowledge_gaps/",
    }
    assert set(paths["/api/v1/messages/{uuid}/"]) == {"get"}
    assert set(paths["/api/v1/leads/{uuid}/"]) == {"get", "put", "patch", "delete"}
    params = {p["name"] for p in paths["/api/v1/messages/"]["get"]["parameters"]}
    assert params == {
        "room", "start_date", "end_date", "limit", "offset", "cursor", "after", "wait"
    }  # fmt: skip
    detail = {p["name"] for p in paths["/api/v1/messages/{uuid}/"]["get"]["parameters"]}
    assert detail == {"uuid", "wait"}
    for path in ["/api/v1/events/", "/api/v1/rooms/{label}/events/"]:
        operation = paths[path]["get"]
        assert set(operation["responses"]["200"]["content"]) == {"text/event-stream"}
        assert {p["name"] for p in operation["parameters"]} >= {"Last-Event-ID", "last_event_id"}
    for resource in ["leads", "rooms"]:
        params = {p["name"] for p in paths[f"/api/v1/{resource}/"]["get"]["parameters"]}
        assert params == {"start_date", "end_date", "limit", "offset", "cursor"}
    params = {p["name"] for p in paths["/api/v1/knowledge/"]["get"]["parameters"]}
    assert params == {"search", "start_date", "end_date", "limit", "offset", "cursor"}
    components = schema["components"]["schemas"]
    assert set(components["Lead"]["properties"]) == {
        "uuid", "nickname", "email", "phone_number", "device", "from_page_title", "referrer",
        "created_at",
    }  # fmt: skip
    assert set(components["Room"]["properties"]) >= {"label", "uuid", "rating", "messages"}
    assert set(components["Message"]["properties"]["room"]["properties"]) == {"uuid", "label"}
    assert components["Message"]["properties"]["support_answer"]["nullable"] is True
    assert schema["components"]["securitySchemes"]["tokenAuth"]["name"] == "Authorization"


def test_schema_validates_without_warnings():
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    assert "openapi: 3" in out.getvalue()


def test_docs_page(anon):
    response = anon.get("/api/v1/docs/")
    assert response.status_code == 200
    assert b"swagger-ui" in response.content
    # Served by this server, not a CDN: the page works on a closed network.
    assert b"cdn.jsdelivr.net" not in response.content
    assert b"/static/drf_spectacular_sidecar/swagger-ui-dist/" in response.content


def test_admin_pages_render(admin_client, alice):
    room = RoomFactory(account=alice.user)
    message = MessageFactory(account=alice.user, room=room, body="Where is my order?")
    lead = LeadFactory(account=alice.user, email="ann@example.com")
    key = ApiKey.objects.get(user=alice.user)
    pages = [
        "/admin/",
        "/admin/accounts/user/",
        f"/admin/accounts/user/{alice.user.pk}/change/",
        "/admin/accounts/apikey/",
        f"/admin/accounts/apikey/{key.pk}/change/",
        "/admin/leads/lead/?q=ann@example.com",
        f"/admin/leads/lead/{lead.pk}/change/",
        "/admin/rooms/room/?q=" + room.label,
        f"/admin/messaging/message/{message.pk}/change/",
        "/admin/messaging/message/?q=order",
        "/admin/bot/knowledgegap/",
        f"/admin/bot/knowledgegap/?account={alice.user.pk}",
    ]
    for page in pages:
        assert admin_client.get(page).status_code == 200, page
    room_page = admin_client.get(f"/admin/rooms/room/{room.pk}/change/")
    assert b"Where is my order?" in room_page.content
    assert str(room.uuid).encode() in room_page.content
    assert b"Where is my order?" in admin_client.get("/admin/messaging/message/?q=order").content


def test_admin_issues_a_key_shown_once_and_revokes(admin_client, alice):
    response = admin_client.post(
        "/admin/accounts/apikey/add/", {"user": alice.user.pk, "name": "zapier"}, follow=True
    )
    assert response.status_code == 200
    shown = next(str(m) for m in response.context["messages"] if "New API key" in str(m))
    key = shown.split(": ")[1].split(" ")[0]
    stored = ApiKey.objects.get(name="zapier")
    assert stored.digest == api_key_digest(key)

    admin_client.post(
        "/admin/accounts/apikey/",
        {"action": "revoke", "_selected_action": [stored.pk]},
    )
    stored.refresh_from_db()
    assert stored.revoked_at is not None
    api = Client(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/leads/").status_code == 401


def test_create_account_command_prints_a_working_key(db):
    out = io.StringIO()
    call_command("create_account", "carol", "--password", "pw-carol-long", stdout=out)
    key = out.getvalue().strip()
    assert len(key) == 40
    assert Client(HTTP_AUTHORIZATION=f"Token {key}").get("/api/v1/rooms/").status_code == 200

    again = io.StringIO()
    call_command("create_account", "carol", "--exists-ok", "--superuser", stdout=again)
    assert again.getvalue().strip() != key
    assert User.objects.get(username="carol").is_superuser
    assert ApiKey.objects.filter(user__username="carol").count() == 2

    with pytest.raises(CommandError, match="exists"):
        call_command("create_account", "carol", stdout=io.StringIO())


def test_admin_message_takes_its_rooms_account(admin_client, alice, bob):
    room = RoomFactory(account=bob.user)
    response = admin_client.post(
        "/admin/messaging/message/add/",
        {"room": room.pk, "body": "Added by an admin", "nickname": "", "email": ""}
        | {"phone_number": "", "support_answer": ""},
        follow=True,
    )
    assert response.status_code == 200
    message = room.messages.get()
    assert message.account == bob.user
    assert message.support_answer is None  # an empty admin field is "no answer", not ""


def test_admin_inline_messages_take_the_rooms_account(admin_client, bob):
    room = RoomFactory(account=bob.user)
    data = {
        "label": room.label, "name": room.name, "greeting_message": "", "is_bot_use": "on",
        "messages-TOTAL_FORMS": "1", "messages-INITIAL_FORMS": "0",
        "messages-MIN_NUM_FORMS": "0", "messages-MAX_NUM_FORMS": "1000",
        "messages-0-body": "Inline reply", "messages-0-is_support_sender": "on",
        "messages-0-nickname": "", "messages-0-support_answer": "",
    }  # fmt: skip
    response = admin_client.post(f"/admin/rooms/room/{room.pk}/change/", data)
    assert response.status_code == 302, response.content[:2000]
    message = room.messages.get()
    assert (message.account, message.body, message.is_support_sender) == (
        bob.user,
        "Inline reply",
        True,
    )
    assert message.support_answer is None
