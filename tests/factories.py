import factory

from knowledge.models import KnowledgeEntry
from leads.models import Lead
from messaging.models import Message
from rooms.models import Room


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    nickname = factory.Sequence(lambda n: f"Visitor {n}")
    email = factory.Sequence(lambda n: f"visitor{n}@example.com")


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room

    label = factory.Sequence(lambda n: f"room-{n}")
    name = factory.Sequence(lambda n: f"Room {n}")
    # Off unless a test is about the bot: its answers are messages (and events) of their own.
    is_bot_use = False


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    room = factory.SubFactory(RoomFactory, account=factory.SelfAttribute("..account"))
    body = factory.Sequence(lambda n: f"Message {n}")
    nickname = "Mary"


class KnowledgeEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KnowledgeEntry

    question = factory.Sequence(lambda n: f"Question number {n}?")
    answer = factory.Sequence(lambda n: f"Answer number {n}.")
