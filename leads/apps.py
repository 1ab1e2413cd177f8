from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "leads"

    def ready(self):
        from messaging.reactions import message_reactions

        from .reactions import lead_capture

        message_reactions.register("lead_capture", lead_capture)
