"""Where an answer comes from: `support_answer_sources` and `support_answer_confidence` on the
bot-answered message, in the API (messages, rooms), the webhook payloads and the schema."""

import pytest
from django.conf import settings

from knowledge.models import KnowledgeEntry
from messaging.models import Message

from .factories import RoomFactory
from .test_bot_llm import fake_model  # noqa: F401 (a fixture: the fake model endpoint)

URL = "/api/v1/messages/"
SHIPPING = "We ship to the US and Canada; delivery takes 3 to 5 business days."
REFUNDS = "You can return any item within 30 days for a full refund."


@pytest.fixture
def knowledge(alice):
    return [
        KnowledgeEntry.objects.create(
            account=alice.user,
            question="How long does shipping take?",
            answer=SHIPPING,
            tags="delivery, shipping time",
        ),
        KnowledgeEntry.objects.create(
            account=alice.user,
            question="What is your refund policy?",
            answer=REFUNDS,
            tags="return, money back",
        ),
    ]


def post(account, room, body, **extra):
    response = account.client.post(
        URL, {"body": body, "room": {"uuid": str(room.uuid)}} | extra, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def bot_room(user):
    return RoomFactory(account=user, is_bot_use=True)


def test_an_answer_names_its_entry_and_confidence(alice, knowledge):
    shipping = knowledge[0]
    sent = post(alice, bot_room(alice.user), "How long does delivery take?")
    assert sent["support_answer"] == SHIPPING
    assert sent["support_answer_sources"] == [
        {"uuid": str(shipping.uuid), "question": "How long does shipping take?"}
    ]
    confidence = sent["support_answer_confidence"]
    assert isinstance(confidence, float)
    assert settings.BOT_CONFIDENCE_THRESHOLD <= confidence <= 1
    # The same from a retrieve, and stored on the row.
    polled = alice.client.get(f"{URL}{sent['uuid']}/").json()
    assert polled == sent
    message = Message.objects.get(uuid=sent["uuid"])
    assert message.support_answer_sources == sent["support_answer_sources"]
    assert message.support_answer_confidence == confidence


def test_a_hand_off_has_no_sources_and_its_low_confidence(alice, knowledge):
    sent = post(alice, bot_room(alice.user), "Can I pay with Bitcoin on Saturdays?")
    assert sent["terminated"] is True
    assert sent["support_answer_sources"] == []
    assert 0 <= sent["support_answer_confidence"] < settings.BOT_CONFIDENCE_THRESHOLD


def test_without_a_bot_answer_no_sources_and_null(alice, knowledge):
    room = RoomFactory(account=alice.user, is_bot_use=False)
    sent = post(alice, room, "How long does delivery take?")
    agent = post(alice, room, "A person's reply", is_support_sender=True)
    for body in (sent, agent):
        assert (body["support_answer"], body["support_answer_sources"]) == (None, [])
        assert body["support_answer_confidence"] is None


def test_the_bots_own_message_carries_none(alice, knowledge):
    room = bot_room(alice.user)
    post(alice, room, "How long does delivery take?")
    reply = Message.objects.get(room=room, is_support_sender=True)
    body = alice.client.get(f"{URL}{reply.uuid}/").json()
    assert (body["body"], body["support_answer_sources"]) == (SHIPPING, [])
    assert body["support_answer_confidence"] is None


def test_sources_are_kept_as_they_were_when_answered(alice, knowledge):
    sent = post(alice, bot_room(alice.user), "How long does delivery take?")
    knowledge[0].question = "Shipping times"
    knowledge[0].save()
    knowledge[0].delete()
    body = alice.client.get(f"{URL}{sent['uuid']}/").json()
    assert body["support_answer_sources"][0]["question"] == "How long does shipping take?"


def test_rooms_lists_and_the_other_account(alice, bob, knowledge):
    room = bot_room(alice.user)
    sent = post(alice, room, "How long does delivery take?")
    listed = alice.client.get("/api/v1/rooms/").json()["results"]
    [nested] = [m for m in listed[0]["messages"] if m["uuid"] == sent["uuid"]]
    assert nested == sent
    retrieved = alice.client.get(f"/api/v1/rooms/{room.label}/").json()
    assert [m for m in retrieved["messages"] if m["uuid"] == sent["uuid"]] == [sent]
    [in_list] = [m for m in alice.client.get(URL).json()["results"] if m["uuid"] == sent["uuid"]]
    assert in_list == sent
    # Bob's bot knows nothing of alice's entries: his hand-off names none of them.
    bobs = post(bob, bot_room(bob.user), "How long does delivery take?")
    assert (bobs["terminated"], bobs["support_answer_sources"]) == (True, [])
    assert bob.client.get(URL).json()["count"] == 2  # his message and the bot's answer
    assert alice.client.get(f"{URL}{bobs['uuid']}/").status_code == 404


def test_webhook_payloads_carry_them(alice, knowledge):
    from webhooks.models import Event, Webhook

    for event in ("message.added", "chat.handed_off"):
        Webhook.objects.create(account=alice.user, event=event, target="https://h.example.com/")
    room = bot_room(alice.user)
    answered = post(alice, room, "How long does delivery take?")
    handed = post(alice, bot_room(alice.user), "Can I pay with Bitcoin on Saturdays?")
    added = {
        e.data["uuid"]: e.data for e in Event.objects.filter(type="message.added").order_by("id")
    }
    # The visitor's message is reported before the bot answers it.
    assert added[answered["uuid"]]["support_answer_sources"] == []
    assert added[answered["uuid"]]["support_answer_confidence"] is None
    handed_off = Event.objects.get(type="chat.handed_off").data["message"]
    assert handed_off == alice.client.get(f"{URL}{handed['uuid']}/").json()
    assert handed_off["support_answer_confidence"] == handed["support_answer_confidence"]


def test_schema_documents_them(alice):
    schema = alice.client.get("/api/v1/schema/?format=json").json()
    message = schema["components"]["schemas"]["Message"]
    sources = message["properties"]["support_answer_sources"]
    assert sources["readOnly"] is True
    assert sources["items"]["$ref"].endswith("/AnswerSource")
    source = schema["components"]["schemas"]["AnswerSource"]
    assert set(source["properties"]) == {"uuid", "question"}
    confidence = message["properties"]["support_answer_confidence"]
    assert (confidence["type"], confidence["nullable"], confidence["readOnly"]) == (
        "number",
        True,
        True,
    )


@pytest.mark.django_db(transaction=True)
def test_the_llm_answer_names_the_entries_it_was_given(fake_model, make_account, settings):  # noqa: F811
    settings.BOT_LLM_ENTRIES = 2
    alice = make_account("alice")
    entries = [
        KnowledgeEntry.objects.create(account=alice.user, question=q, answer=a)
        for q, a in [
            ("How long does shipping take?", SHIPPING),
            ("Do you ship to Canada?", "Yes."),
            ("What is your refund policy?", REFUNDS),
        ]
    ]
    sent = post(alice, bot_room(alice.user), "How long does shipping to Canada take?")
    assert sent["support_answer"] == "From the model: 3 to 5 days."
    prompt = fake_model.requests[0]["body"]["messages"][0]["content"]
    sources = sent["support_answer_sources"]
    assert len(sources) == 2
    given = {e.question: str(e.uuid) for e in entries}
    for number, source in enumerate(sources, start=1):
        assert source == {"uuid": given[source["question"]], "question": source["question"]}
        assert f"[{number}] Q: {source['question']}\n" in prompt  # in the order given
    assert 0 < sent["support_answer_confidence"] <= 1


@pytest.mark.django_db(transaction=True)
def test_an_llm_hand_off_has_no_sources(fake_model, make_account):  # noqa: F811
    fake_model.reply = "HANDOFF"
    alice = make_account("alice")
    KnowledgeEntry.objects.create(
        account=alice.user, question="How long does shipping take?", answer=SHIPPING
    )
    sent = post(alice, bot_room(alice.user), "How long does shipping take?")
    assert (sent["terminated"], sent["support_answer_sources"]) == (True, [])
    assert 0 < sent["support_answer_confidence"] <= 1
