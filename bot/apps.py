from django.apps import AppConfig


class BotConfig(AppConfig):
    name = "bot"
    verbose_name = "bot"

    def ready(self):
        from messaging.reactions import message_reactions
        from rooms.services import room_greetings

        from .reactions import bot_answer, bot_quiet, bot_ranked
        from .services import account_greeting

        message_reactions.register("bot_quiet", bot_quiet)
        message_reactions.register("bot_answer", bot_answer, prepare=bot_ranked)
        room_greetings.register(account_greeting)
