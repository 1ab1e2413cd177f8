"""How each event's `data` is rendered: exactly as the API renders the object."""

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


def event_render(event: str, instance) -> dict:
    serializer = import_string(SERIALIZERS[event])(instance)
    # Through the API's renderer, so uuids, dates and decimals read exactly as in responses.
    return json.loads(JSONRenderer().render(serializer.data))
