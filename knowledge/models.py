import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class KnowledgeEntry(models.Model):
    """One thing the account's bot knows: a question (or title), its answer, optional tags.

    The full-text index is kept by the database itself (see the migration
    `0002_search_index`): a generated tsvector column with a GIN index on PostgreSQL, an FTS5
    table kept in step by triggers on SQLite. The ORM never reads or writes either.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="knowledge_entries"
    )
    question = models.CharField(max_length=500, help_text="The question it answers, or a title.")
    answer = models.TextField(max_length=10000)
    # Comma-separated; the API shows a list. Tags are searched too: a place for other words
    # visitors use for the same thing ("price, cost, plans").
    tags = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    # The sentence embedding of question, tags and answer, after a digest of that text (see
    # knowledge/semantic.py); made in the background (knowledge/tasks.py), emptied by the
    # services when that text changes and made again.
    embedding = models.BinaryField(null=True, editable=False)

    class Meta:
        verbose_name = "knowledge entry"
        verbose_name_plural = "knowledge entries"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["account", "-created_at", "-id"], name="knowledge_account_created"
            ),
            # Covers the entries' signature (knowledge/semantic.py): count, newest id, last update.
            models.Index(fields=["account", "updated_at", "id"], name="knowledge_account_updated"),
            # The entries still waiting for their vector: counted in that signature, and found
            # by the task that makes them.
            models.Index(
                fields=["account"],
                condition=models.Q(embedding__isnull=True),
                name="knowledge_embedding_missing",
            ),
        ]

    def __str__(self):
        return self.question[:80]

    @property
    def tag_list(self) -> list[str]:
        return tags_split(self.tags)


def tags_split(text: str) -> list[str]:
    return [tag.strip() for tag in text.split(",") if tag.strip()]


def tags_join(tags) -> str:
    seen: dict[str, None] = {}
    for tag in tags:
        tag = " ".join(str(tag).split())
        if tag and tag.lower() not in (t.lower() for t in seen):
            seen[tag] = None
    return ", ".join(seen)
