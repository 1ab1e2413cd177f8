from django.apps import AppConfig


class KeywordsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "keywords"

    def ready(self):
        from messaging.reactions import message_reactions

        from .reactions import keyword_notify, keywords_mentioned

        message_reactions.register("keyword_notify", keyword_notify, prepare=keywords_mentioned)
