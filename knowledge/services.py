from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from askhandle.api.quotas import quota_check

from .models import KnowledgeEntry, tags_join
from .tasks import knowledge_embeddings_request

# The fields an entry's vector is made from (knowledge/semantic.py).
EMBEDDED_FIELDS = ("question", "answer", "tags")


def knowledge_quota_check(*, account: User, adding: int = 1) -> None:
    """Refuse entries beyond KNOWLEDGE_ENTRIES_PER_ACCOUNT (askhandle.api.quotas.QuotaExceeded)."""
    quota_check(
        account=account,
        queryset=KnowledgeEntry.objects.filter(account=account),
        adding=adding,
        noun="knowledge entries",
        setting="KNOWLEDGE_ENTRIES_PER_ACCOUNT",
    )


@transaction.atomic
def knowledge_entry_create(*, account: User, question: str, answer: str, tags=()) -> KnowledgeEntry:
    """A new entry; beyond the account's quota a 400 (QuotaExceeded) and nothing written. Its
    vector is made in the background (knowledge/tasks.py); until then the bot ranks it by its
    words."""
    knowledge_quota_check(account=account)
    entry = _entry_insert(account=account, question=question, answer=answer, tags=tags)
    knowledge_embeddings_request(account_id=account.pk)
    return entry


def _entry_insert(*, account: User, question: str, answer: str, tags) -> KnowledgeEntry:
    entry = KnowledgeEntry(account=account, question=question, answer=answer, tags=tags_join(tags))
    entry.full_clean()
    entry.save(force_insert=True)
    return entry


@transaction.atomic
def knowledge_entry_update(*, entry: KnowledgeEntry, **fields) -> KnowledgeEntry:
    """Changed fields of an entry; new wording of its question or answer empties its vector
    (made again in the background, as for a new entry)."""
    if "tags" in fields:
        fields["tags"] = tags_join(fields["tags"])
    reworded = any(
        name in fields and fields[name] != getattr(entry, name) for name in EMBEDDED_FIELDS
    )
    for name, value in fields.items():
        setattr(entry, name, value)
    entry.updated_at = timezone.now()
    entry.full_clean()
    update_fields = [*fields, "updated_at"]
    if reworded:
        entry.embedding = None
        update_fields.append("embedding")
    entry.save(update_fields=update_fields)
    if reworded:
        knowledge_embeddings_request(account_id=entry.account_id)
    return entry


def question_key(question: str) -> str:
    """Entries are matched on import by question, ignoring case and spacing."""
    return " ".join(question.split()).casefold()


@dataclass(frozen=True)
class EntryData:
    question: str
    answer: str
    tags: tuple[str, ...]
    line: int


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    skipped: int = 0


@transaction.atomic
def knowledge_import(*, account: User, entries: Iterable[EntryData], progress=None) -> ImportReport:
    """Create or update the account's entries, matched by question; unchanged ones are skipped.

    All or nothing: one transaction, so a failure leaves the knowledge as it was. An import that
    would take the account beyond its quota of entries is refused whole (QuotaExceeded).
    """
    entries = list(entries)
    existing: dict[str, KnowledgeEntry] = {}
    for entry in KnowledgeEntry.objects.filter(account=account).order_by("id"):
        existing.setdefault(question_key(entry.question), entry)
    new = {question_key(data.question) for data in entries} - set(existing)
    knowledge_quota_check(account=account, adding=len(new))
    report = ImportReport()
    for number, data in enumerate(entries, start=1):
        entry = existing.get(question_key(data.question))
        tags = tags_join(data.tags)
        if entry is None:
            entry = _entry_insert(  # the quota is checked above, for all of them at once
                account=account, question=data.question, answer=data.answer, tags=data.tags
            )
            existing[question_key(data.question)] = entry
            report.created += 1
        elif (entry.question, entry.answer, entry.tags) == (data.question, data.answer, tags):
            report.skipped += 1
        else:
            knowledge_entry_update(
                entry=entry, question=data.question, answer=data.answer, tags=data.tags
            )
            report.updated += 1
        if progress is not None:
            progress(number, len(entries))
    if report.created:
        # Their vectors: in the background, by one task (an update above asked for it already).
        knowledge_embeddings_request(account_id=account.pk)
    return report
