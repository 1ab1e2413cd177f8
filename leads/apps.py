from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "leads"

    def ready(self):
        from askhandle.api import fast_lists
        from messaging.reactions import message_reactions

        from .models import Lead
        from .reactions import lead_capture

        fast_lists.register(Lead, time_field="created_at")
        message_reactions.register("lead_capture", lead_capture)
