from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and API keys"

    def ready(self):
        from .admin_scope import superuser_only_register

        superuser_only_register()
