from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import User
from accounts.services import account_create, api_key_issue


class Command(BaseCommand):
    help = (
        "Create an account and print a new API key for it (the key alone on stdout, for scripts: "
        "KEY=$(manage.py create_account NAME))."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password", help="Lets the account log in (api-token, admin).")
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--superuser", action="store_true", help="Also an admin of this server."
        )
        parser.add_argument(
            "--exists-ok",
            action="store_true",
            help="If the account exists, keep it (setting --password if given) and issue a key.",
        )
        parser.add_argument("--key-name", default="create_account")

    @transaction.atomic
    def handle(self, username, password, email, superuser, exists_ok, key_name, **options):
        user = User.objects.filter(username=username).first()
        if user is not None and not exists_ok:
            raise CommandError(f"Account {username!r} exists (use --exists-ok to reuse it).")
        if user is None:
            try:
                user = account_create(username=username, password=password, email=email)
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from exc
            self.stderr.write(f"Created account {username!r}.")
        elif password:
            user.set_password(password)
            user.save(update_fields=["password"])
        if superuser and not (user.is_staff and user.is_superuser):
            user.is_staff = user.is_superuser = True
            user.save(update_fields=["is_staff", "is_superuser"])
        _, key = api_key_issue(user=user, name=key_name)
        self.stdout.write(key)
