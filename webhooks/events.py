"""How each event's `data` is rendered: exactly as the API renders the object."""

import functools
import json

from django.utils.module_loading import import_string
from rest_framework.renderers import JSONRenderer

from .models import EventType

SERIALIZERS = {
    EventType.MESSAGE_ADDED: "messaging.serializers.MessageSerializer",
    EventType.LEAD_ADDED: "leads.serializers.LeadSerializer",
    EventType.CHAT_ADDED: "rooms.serializers.RoomSerializer",
    EventType.KEYWORD_NOTIFICATION_ADDED: "keywords.serializers.KeywordNotificationSerializer",
    EventType.CHAT_HANDED_OFF: "bot.serializers.HandOffSerializer",
}


@functools.cache
def event_serializer(event: str):
    """The event type's serializer, made once per process and reused for every event.

    Making a serializer builds its fields (about 0.2 ms for a message, most of an event's
    rendering; docs/performance.md). Rendering reads only the instance: no request, no context
    (those serve input), so one serializer renders every instance exactly as a new one would
    (tests/test_webhooks.py holds the two equal). Its fields are built on first use; two threads
    racing there each build the same fields.
    """
    return import_string(SERIALIZERS[event])()


def event_render(event: str, instance) -> dict:
    data = event_serializer(event).to_representation(instance)
    # Through the API's renderer, so uuids, dates and decimals read exactly as in responses.
    return json.loads(JSONRenderer().render(data))
