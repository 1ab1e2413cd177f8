from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.services import person_create


class Command(BaseCommand):
    help = (
        "Let one of an account's people into the admin: a staff login that sees and changes only "
        "that account's rows, with the permissions of the given groups (docs/admin.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--account", required=True, help="The account's username.")
        parser.add_argument("--password", help="Without it the login cannot log in yet.")
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--group",
            action="append",
            default=[],
            help="An existing group (repeat for several); its permissions are the login's.",
        )

    def handle(self, username, account, password, email, group, **options):
        owner = User.objects.filter(username=account, account__isnull=True).first()
        if owner is None:
            raise CommandError(f"No account {account!r}.")
        groups = list(Group.objects.filter(name__in=group))
        missing = sorted(set(group) - {g.name for g in groups})
        if missing:
            raise CommandError(
                f"No group {', '.join(map(repr, missing))} (a superuser makes groups in the admin)."
            )
        try:
            person_create(
                account=owner, username=username, password=password, email=email, groups=groups
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stderr.write(f"Created {username!r}, a staff login of account {account!r}.")
