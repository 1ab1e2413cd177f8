"""Each entry's sentence embedding, kept in the database, and a visitor text's similarity to them.

An entry's vector is the embedding of its question, tags and answer (knowledge/embedding.py;
the tags were added on 2026-12-02: on the knowledge bases of bench/kb/ they raised the answers
right on bases nobody tuned on from 58 % to 61 %, docs/bot.md). It is stored beside the entry
(`KnowledgeEntry.embedding`) after a digest of the text it was made from. It is made in the
background, never while a visitor waits: the services that write entries (knowledge/services.py:
the API, the admin, imports) leave a new or re-worded entry's vector empty (NULL) and ask for a
task (knowledge/tasks.py) that fills the account's empty vectors in batches of `BATCH`, each
written in its own short transaction (`embeddings_make`). Until an entry has its vector, the bot
ranks it by words alone (knowledge/search.py). A process keeps each account's vectors in memory
as one matrix, read again whenever the account's entries have changed (their number, newest id,
latest `updated_at`, or how many still wait for a vector: checked at every message, on
PostgreSQL by the statement of knowledge/search.py that finds the candidates).
"""

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from django.db import connection, transaction

from . import embedding
from .models import KnowledgeEntry

DIGEST_BYTES = 8
# Accounts whose matrices a process keeps (about 1.5 MB per 1,000 entries each).
MAX_ACCOUNTS = 64
# Entries encoded together and written in one transaction (about 0.35 s of encoding for short
# entries, measured: 11 ms an entry on this project's 2-core machine, up to 0.3-0.8 s for an entry
# of the model's 256 tokens; the transaction itself takes milliseconds).
BATCH = 32
# What changes when any entry of the account is added, removed or edited (edits set
# updated_at), and when vectors are made (the count of entries still waiting for theirs): read
# from the indexes knowledge_account_updated and knowledge_embedding_missing.
SIGNATURE_SQL = (
    "SELECT count(*), max(id), max(updated_at), (SELECT count(*) FROM knowledge_knowledgeentry"
    " WHERE account_id = %s AND embedding IS NULL)"
    " FROM knowledge_knowledgeentry WHERE account_id = %s"
)
# While some of an account's entries wait for their vectors, a process that answers its visitors
# asks again for the task that makes them at most this often (in case the one asked for when
# they were written was lost: see knowledge/tasks.py).
REQUEST_INTERVAL_SECONDS = 60


def enabled() -> bool:
    return embedding.usable()


def _digest(question: str, answer: str, tags: str = "") -> bytes:
    # Without tags, the digest (and the text) of the vectors made before tags counted.
    text = (f"{question}\n{answer}\n{tags}" if tags else f"{question}\n{answer}").encode()
    return hashlib.blake2b(text, digest_size=DIGEST_BYTES).digest()


def _text(question: str, answer: str, tags: str = "") -> str:
    return f"{question} {tags} {answer}" if tags else f"{question} {answer}"


def vector_of(entry_embedding, question: str, answer: str, tags: str = ""):
    """The stored vector (a numpy row) if it was made from this text, else None."""
    import numpy as np

    stored = bytes(entry_embedding or b"")
    if len(stored) != DIGEST_BYTES + 4 * embedding.DIMENSIONS:
        return None
    if stored[:DIGEST_BYTES] != _digest(question, answer, tags):
        return None
    return np.frombuffer(stored, dtype=np.float32, offset=DIGEST_BYTES)


def embeddings_make(
    *, account_id: int, batches: int, seconds: float | None = None
) -> tuple[int, bool]:
    """Make the vectors of the account's entries that have none, at most `batches` batches of
    `BATCH` (and no batch begun after `seconds`): read, encode outside any transaction, then
    write the batch in a short transaction of its own. An entry edited meanwhile keeps its NULL
    (the write is conditional on the text it was made from), and is encoded again with its new
    text. Returns (vectors written, whether entries without a vector remain to be done by a
    follow-up). Raises embedding.ModelUnavailable without the model."""
    import numpy as np

    model = embedding.encoder()
    waiting = KnowledgeEntry.objects.filter(account_id=account_id, embedding__isnull=True)
    made = 0
    started = time.monotonic()
    for _ in range(batches):
        if seconds is not None and made and time.monotonic() - started > seconds:
            break
        rows = list(waiting.order_by("id").values_list("id", "question", "answer", "tags")[:BATCH])
        if not rows:
            return made, False
        vectors = model.encode_many([_text(q, a, t) for _, q, a, t in rows])
        written = 0
        with transaction.atomic():
            for (pk, question, answer, tags), vector in zip(rows, vectors, strict=True):
                written += KnowledgeEntry.objects.filter(
                    pk=pk, embedding__isnull=True, question=question, answer=answer, tags=tags
                ).update(
                    embedding=_digest(question, answer, tags) + vector.astype(np.float32).tobytes()
                )
        made += written
    # No follow-up from a task that wrote nothing at all (rows that cannot be written must not
    # keep a chain of tasks going; the bot's next request tries again).
    return made, bool(made) and waiting.exists()


@dataclass(frozen=True)
class Vectors:
    """An account's entries that have their vector: ids (sorted), the vectors as rows of one
    matrix in that order, the entries by id; and how many entries have none yet (`missing`)."""

    ids: object
    matrix: object
    entries: dict
    missing: int


class _Matrices:
    """Per process: account -> (signature of its entries, their Vectors, when read). Valid while
    the signature is: any change of an entry through the services, and any vector made, changes
    it."""

    def __init__(self):
        self._accounts: OrderedDict = OrderedDict()
        self._requested: dict[int, float] = {}
        self._lock = threading.Lock()

    def get(self, account_id: int, signature: tuple | None = None) -> Vectors | None:
        """The account's vectors (None if it has no entries). Reads, never encodes.
        `signature`: the figures of SIGNATURE_SQL if the caller read them just now, in the
        same transaction (knowledge/search.py reads them with its candidates)."""
        import numpy as np

        if signature is None:
            with connection.cursor() as cursor:  # by hand: the ORM takes longer to compile it
                cursor.execute(SIGNATURE_SQL, [account_id, account_id])
                signature = cursor.fetchone()
        if not signature[0]:
            return None
        now = time.monotonic()
        with self._lock:
            cached = self._accounts.get(account_id)
            if cached is not None and cached[0] == signature:
                # Vectors of an old text (an entry changed around the services) leave the
                # signature as it is when they are made again (`embed_knowledge --verify`):
                # while there are some, the matrix is read again now and then.
                _, vectors, loaded = cached
                if vectors.missing == signature[3] or now - loaded < REQUEST_INTERVAL_SECONDS:
                    self._accounts.move_to_end(account_id)
                    return vectors
        entries, rows = [], []
        stored = KnowledgeEntry.objects.filter(account_id=account_id, embedding__isnull=False)
        for entry in stored.order_by("id"):
            vector = vector_of(entry.embedding, entry.question, entry.answer, entry.tags)
            # Kept as if loaded with .defer("embedding"): the matrix has the vectors.
            del entry.__dict__["embedding"]
            if vector is not None:  # else its text changed around the services: words alone
                entries.append(entry)
                rows.append(vector)
        vectors = Vectors(
            ids=np.array([e.pk for e in entries], dtype=np.int64),
            matrix=np.stack(rows) if rows else np.zeros((0, embedding.DIMENSIONS), np.float32),
            entries={entry.pk: entry for entry in entries},
            missing=signature[0] - len(entries),
        )
        with self._lock:
            self._accounts[account_id] = (signature, vectors, now)
            self._accounts.move_to_end(account_id)
            while len(self._accounts) > MAX_ACCOUNTS:
                self._accounts.popitem(last=False)
        return vectors

    def request_due(self, account_id: int) -> bool:
        """Whether this process should ask (again) for the account's missing vectors: at most
        once every REQUEST_INTERVAL_SECONDS."""
        now = time.monotonic()
        with self._lock:
            last = self._requested.get(account_id)
            if last is not None and now - last < REQUEST_INTERVAL_SECONDS:
                return False
            self._requested[account_id] = now
            if len(self._requested) > 10 * MAX_ACCOUNTS:
                self._requested.pop(next(iter(self._requested)))
            return True

    def clear(self):
        with self._lock:
            self._accounts.clear()
            self._requested.clear()


matrices = _Matrices()


def encode(text: str):
    """The text's unit vector."""
    return embedding.encoder().encode([text])[0]
