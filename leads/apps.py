from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "leads"

    def ready(self):
        from askhandle.api import fast_lists

        from .models import Lead

        fast_lists.register(Lead, time_field="created_at")
