from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_migrate


def install_triggers(sender, using, **kwargs):
    """After every `migrate`: a migration may have dropped or rebuilt a listed table."""
    from django.db import connections

    from . import pages, triggers

    if triggers.install(connections[using]):
        pages.forget_checks()


class FastListsConfig(AppConfig):
    name = "askhandle.api.fast_lists"
    label = "fast_lists"
    verbose_name = "fast lists"

    def ready(self):
        from .checks import triggers_declared

        post_migrate.connect(install_triggers, sender=self)
        checks.register(triggers_declared, checks.Tags.database)
