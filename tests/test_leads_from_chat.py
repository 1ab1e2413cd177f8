"""A visitor message with an email or phone number records one lead per visitor."""

import threading

import pytest
from django.db import connection, connections

from leads import services
from leads.models import Lead
from messaging.models import Message
from rooms.models import Room

from .factories import LeadFactory, RoomFactory

URL = "/api/v1/messages/"


def post(account, room, **fields):
    payload = {"body": "Hi", "room": {"uuid": str(room.uuid)}} | fields
    response = account.client.post(URL, payload, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_one_lead_per_email_updated_with_newer_details(alice):
    room = RoomFactory(account=alice.user, is_bot_use=False)
    post(alice, room, email="Mary@Example.com", nickname="Mary")
    post(alice, room, email="mary@example.com", phone_number="+1 555 0100", nickname="Mary S.")
    post(alice, RoomFactory(account=alice.user), email="MARY@example.com")
    lead = Lead.objects.get()
    assert (lead.account, lead.email, lead.phone_number, lead.nickname) == (
        alice.user, "Mary@Example.com", "+1 555 0100", "Mary S.",
    )  # fmt: skip
    room.refresh_from_db()
    assert room.lead == lead
    assert Room.objects.filter(lead=lead).count() == 2


def test_phone_without_email(alice):
    room = RoomFactory(account=alice.user, is_bot_use=False)
    post(alice, room, phone_number="+1 (555) 0100")
    post(alice, room, phone_number="+15550100", nickname="Bob")
    lead = Lead.objects.get()
    assert (lead.phone_number, lead.nickname) == ("+15550100", "Bob")
    # The same phone with an email later: still the same visitor.
    post(alice, room, phone_number="+15550100", email="bob@example.com")
    assert Lead.objects.get().email == "bob@example.com"


def test_an_api_lead_with_the_same_email_is_adopted(alice):
    made = LeadFactory(account=alice.user, email="mary@example.com", nickname="From the API")
    post(alice, RoomFactory(account=alice.user, is_bot_use=False), email="mary@example.com")
    assert list(Lead.objects.values_list("pk", flat=True)) == [made.pk]


def test_messages_without_contact_details_and_support_messages_record_none(alice, bob):
    room = RoomFactory(account=alice.user, is_bot_use=False)
    post(alice, room, nickname="Anonymous")
    post(alice, room, email="agent@example.com", is_support_sender=True)
    assert not Lead.objects.exists()
    # Leads belong to the account: the same email in bob's room is bob's lead.
    post(alice, room, email="mary@example.com")
    post(bob, RoomFactory(account=bob.user, is_bot_use=False), email="mary@example.com")
    assert sorted(Lead.objects.values_list("account__username", flat=True)) == ["alice", "bob"]


def test_a_lost_race_updates_the_winners_lead(alice, monkeypatch):
    """The other message created the lead between our look-up and our insert."""
    original = services._lead_for_key
    raced = []

    def lookup_then_race(account, key, details):
        found = original(account, key, details)
        if not raced:
            raced.append(True)
            Lead.objects.create(account=account, chat_key=key, email=details["email"])
            return None
        return found

    monkeypatch.setattr(services, "_lead_for_key", lookup_then_race)
    room = RoomFactory(account=alice.user, is_bot_use=False)
    post(alice, room, email="mary@example.com", nickname="Mary")
    lead = Lead.objects.get()
    assert lead.nickname == "Mary"
    assert Message.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite runs one writer at a time (IMMEDIATE transactions): no race to test",
)
def test_concurrent_messages_make_one_lead(make_account):
    alice = make_account("alice")
    room = RoomFactory(account=alice.user, is_bot_use=False)
    barrier = threading.Barrier(6)
    errors = []

    def send(number):
        try:
            barrier.wait()
            post(alice, room, email="mary@example.com", nickname=f"Mary {number}")
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Lead.objects.count() == 1
    assert Message.objects.count() == 6


def test_a_new_chat_lead_fires_lead_added_once(alice):
    from webhooks.models import Event, Webhook

    Webhook.objects.create(
        account=alice.user, event="lead.added", target="https://hooks.example.com/leads"
    )
    room = RoomFactory(account=alice.user)
    post(alice, room, email="mary@example.com")
    post(alice, room, email="mary@example.com", nickname="Mary", phone_number="+1 555 0100")
    [event] = Event.objects.filter(type="lead.added")
    assert event.data["uuid"] == str(Lead.objects.get().uuid)
