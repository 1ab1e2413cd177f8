from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from knowledge import embedding, semantic
from knowledge.models import KnowledgeEntry
from knowledge.tasks import knowledge_embeddings_request

# Entries read at a time by --verify.
VERIFY_CHUNK = 1000
# --now: batches until none is left (bounded all the same).
ALL = 10**9


class Command(BaseCommand):
    help = (
        "Ask for the background task that makes the missing vectors of every account's knowledge "
        "entries (or of one account). Run before the task worker starts (./dev serve and "
        "docker-compose do), so that a task lost with a worker is made up for."
    )

    def add_arguments(self, parser):
        parser.add_argument("--account", help="only this account (username)")
        parser.add_argument(
            "--verify",
            action="store_true",
            help="also compare each stored vector with its entry's text (a text changed around "
            "the server's services keeps a vector of its old words): stale ones are emptied "
            "and made again",
        )
        parser.add_argument(
            "--now",
            action="store_true",
            help="make the vectors in this process, in batches, instead of in the task worker",
        )

    def handle(self, *args, account, verify, now, **options):
        entries = KnowledgeEntry.objects.all()
        if account is not None:
            user = get_user_model().objects.filter(username=account).first()
            if user is None:
                raise CommandError(f'No account "{account}".')
            entries = entries.filter(account=user)
        emptied = self.empty_stale(entries) if verify else 0
        accounts = list(
            entries.filter(embedding__isnull=True)
            .order_by("account_id")
            .values_list("account_id", flat=True)
            .distinct()
        )
        made = 0
        for account_id in accounts:
            if now:
                try:
                    done, _ = semantic.embeddings_make(account_id=account_id, batches=ALL)
                except embedding.ModelUnavailable as error:
                    raise CommandError(f"No vectors made: {error}") from None
                made += done
            else:
                knowledge_embeddings_request(account_id=account_id)
        if options["verbosity"] == 0:
            return
        if emptied:
            self.stdout.write(f"{emptied} vectors were stale (their text changed) and emptied.")
        if now:
            self.stdout.write(f"{made} vectors made for {len(accounts)} accounts.")
        else:
            self.stdout.write(f"Vectors asked for: {len(accounts)} accounts have entries without.")

    def empty_stale(self, entries) -> int:
        emptied, last = 0, 0
        while True:
            chunk = list(
                entries.filter(pk__gt=last, embedding__isnull=False)
                .order_by("pk")
                .values_list("pk", "question", "answer", "tags", "embedding")[:VERIFY_CHUNK]
            )
            if not chunk:
                return emptied
            last = chunk[-1][0]
            stale = [
                pk
                for pk, question, answer, tags, stored in chunk
                if semantic.vector_of(stored, question, answer, tags) is None
            ]
            with transaction.atomic():
                emptied += KnowledgeEntry.objects.filter(pk__in=stale).update(embedding=None)
