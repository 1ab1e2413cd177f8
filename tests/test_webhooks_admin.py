from keywords.models import Keyword
from tests.factories import RoomFactory
from webhooks import worker
from webhooks.models import Delivery, DeliveryStatus, Event, Webhook


def test_admin_adds_a_subscription_and_shows_its_secret_once(admin_client, alice, receiver):
    response = admin_client.post(
        "/admin/webhooks/webhook/add/",
        {"account": alice.user.pk, "event": "lead.added", "target": receiver.url,
         "is_active": "on", "disabled_reason": ""},
        follow=True,
    )  # fmt: skip
    assert response.status_code == 200
    webhook = Webhook.objects.get()
    shown = [str(m) for m in response.context["messages"]]
    assert any(webhook.secret in m for m in shown)
    assert webhook.secret.startswith("whsec_")


def test_admin_refuses_unsafe_targets(admin_client, alice, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    response = admin_client.post(
        "/admin/webhooks/webhook/add/",
        {"account": alice.user.pk, "event": "lead.added", "target": "http://127.0.0.1/x",
         "is_active": "on", "disabled_reason": ""},
    )  # fmt: skip
    assert response.status_code == 200
    assert b"The target must be a public address." in response.content
    assert not Webhook.objects.exists()


def test_admin_delivery_log_and_redeliver(admin_client, alice, receiver):
    receiver.answers = [500]
    Webhook.objects.create(account=alice.user, event="message.added", target=receiver.url,
                           secret="whsec_" + "A" * 32)  # fmt: skip
    room = RoomFactory(account=alice.user)
    alice.client.post("/api/v1/messages/", {"body": "hi", "room": str(room.uuid)}, format="json")
    worker.run(once=True, concurrency=1)
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING  # 500: a retry is scheduled
    listing = admin_client.get("/admin/webhooks/delivery/?status=pending")
    assert listing.status_code == 200
    assert str(delivery.uuid).encode() in listing.content
    page = admin_client.get(f"/admin/webhooks/delivery/{delivery.pk}/change/")
    assert page.status_code == 200
    assert b"HTTP 500 Internal Server Error" in page.content
    assert admin_client.get("/admin/webhooks/webhook/").status_code == 200

    Delivery.objects.update(status=DeliveryStatus.FAILED, next_attempt_at="2030-01-01T00:00Z")
    response = admin_client.post(
        "/admin/webhooks/delivery/",
        {"action": "redeliver", "_selected_action": [delivery.pk]},
        follow=True,
    )
    assert any("1 delivery queued again." in str(m) for m in response.context["messages"])
    worker.run(once=True, concurrency=1)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert list(delivery.attempts.values_list("status_code", flat=True)) == [500, 200]


def test_admin_created_objects_fire_events_too(admin_client, alice, receiver):
    for event in ["lead.added", "chat.added", "message.added"]:
        Webhook.objects.create(account=alice.user, event=event, target=receiver.url,
                               secret="whsec_" + "A" * 32)  # fmt: skip
    admin_client.post("/admin/leads/lead/add/", {"account": alice.user.pk, "nickname": "Ann"})
    admin_client.post(
        "/admin/rooms/room/add/",
        {"account": alice.user.pk, "label": "from-admin", "name": "", "greeting_message": "",
         "messages-TOTAL_FORMS": "1", "messages-INITIAL_FORMS": "0",
         "messages-MIN_NUM_FORMS": "0", "messages-MAX_NUM_FORMS": "1000",
         "messages-0-body": "Inline hello", "messages-0-nickname": "",
         "messages-0-support_answer": ""},
    )  # fmt: skip
    room = RoomFactory(account=alice.user)
    admin_client.post(
        "/admin/messaging/message/add/",
        {"room": room.pk, "body": "Added by an admin", "nickname": "", "email": "",
         "phone_number": "", "support_answer": ""},
    )  # fmt: skip
    types = sorted(Event.objects.values_list("type", flat=True))
    assert types == ["chat.added", "lead.added", "message.added", "message.added"]
    bodies = {e.data.get("body") for e in Event.objects.filter(type="message.added")}
    assert bodies == {"Inline hello", "Added by an admin"}


def test_admin_keywords_refuse_duplicates(admin_client, alice):
    data = {"account": alice.user.pk, "keyword": "Refund"}
    admin_client.post("/admin/keywords/keyword/add/", data)
    response = admin_client.post("/admin/keywords/keyword/add/", data | {"keyword": "REFUND"})
    assert response.status_code == 200
    assert b"This account already has this keyword." in response.content
    assert Keyword.objects.get().normalized == "refund"
    assert admin_client.get("/admin/keywords/keywordnotification/").status_code == 200
