from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from askhandle.api.quotas import quota_check

from . import embedding, semantic
from .models import KnowledgeEntry, tags_join


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
    """A new entry; beyond the account's quota a 400 (QuotaExceeded) and nothing written."""
    knowledge_quota_check(account=account)
    return _entry_insert(account=account, question=question, answer=answer, tags=tags)


def _entry_insert(*, account: User, question: str, answer: str, tags) -> KnowledgeEntry:
    entry = KnowledgeEntry(account=account, question=question, answer=answer, tags=tags_join(tags))
    entry.full_clean()
    entry.save(force_insert=True)
    return entry


def knowledge_entry_update(*, entry: KnowledgeEntry, **fields) -> KnowledgeEntry:
    if "tags" in fields:
        fields["tags"] = tags_join(fields["tags"])
    for name, value in fields.items():
        setattr(entry, name, value)
    entry.updated_at = timezone.now()
    entry.full_clean()
    entry.save(update_fields=[*fields, "updated_at"])
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
    if semantic.enabled():
        # Now, in batches, rather than at a visitor's first question.
        try:
            remade = semantic.entries_embed(list(existing.values()))
        except embedding.ModelUnavailable:
            remade = []  # logged by the loader; the bot ranks by full-text search alone
        KnowledgeEntry.objects.bulk_update(remade, ["embedding"], batch_size=500)
    return report
