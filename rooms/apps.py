from django.apps import AppConfig


class RoomsConfig(AppConfig):
    name = "rooms"

    def ready(self):
        from askhandle.api import fast_lists

        from .models import Room

        fast_lists.register(Room, time_field="created_at")
