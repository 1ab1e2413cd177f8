from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"

    def ready(self):
        from askhandle.api import fast_lists

        from .models import Message

        # `?room=<uuid>` has counters of its own; a room's representation nests its messages.
        fast_lists.register(Message, time_field="sent_at", scopes={"room": "uuid"}, group_by="room")
