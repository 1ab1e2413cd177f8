"""Each entry's sentence embedding, kept in the database, and a visitor text's similarity to them.

An entry's vector is the embedding of its question, tags and answer (knowledge/embedding.py;
the tags were added on 2026-12-02: on the knowledge bases of bench/kb/ they raised the answers
right on bases nobody tuned on from 58 % to 61 %, docs/bot.md). It is
stored beside the entry (`KnowledgeEntry.embedding`) with a digest of the text it was made from,
so a vector is remade whenever the text has changed, whoever changed it (the API, the admin, an
import, a bulk load): the vectors are checked and the missing or stale ones made when the
account's entries have changed since this process last looked (their number, newest id or latest
`updated_at`), then kept in memory as one matrix per account. Imports make their entries' vectors
ahead (`entries_embed`), so no visitor waits for an imported knowledge base to be encoded (rows
bulk-loaded around the services are encoded at the next visitor message).
"""

import hashlib
import threading
from collections import OrderedDict

from django.db import connection

from . import embedding
from .models import KnowledgeEntry

DIGEST_BYTES = 8
# Accounts whose matrices a process keeps (about 1.5 MB per 1,000 entries each).
MAX_ACCOUNTS = 64
# What changes when any entry of the account is added, removed or edited (edits set
# updated_at); read from the index knowledge_account_updated.
SIGNATURE_SQL = (
    "SELECT count(*), max(id), max(updated_at) FROM knowledge_knowledgeentry WHERE account_id = %s"
)


def enabled() -> bool:
    return embedding.usable()


def _digest(question: str, answer: str, tags: str = "") -> bytes:
    # Without tags, the digest (and the text) of the vectors made before tags counted.
    text = (f"{question}\n{answer}\n{tags}" if tags else f"{question}\n{answer}").encode()
    return hashlib.blake2b(text, digest_size=DIGEST_BYTES).digest()


def _text(question: str, answer: str, tags: str = "") -> str:
    return f"{question} {tags} {answer}" if tags else f"{question} {answer}"


def entries_embed(entries: list[KnowledgeEntry], batch: int = 32) -> list[KnowledgeEntry]:
    """Set `embedding` on the entries whose vector is missing or stale; returns those (unsaved)."""
    import numpy as np

    stale = [
        e
        for e in entries
        if bytes(e.embedding or b"")[:DIGEST_BYTES] != _digest(e.question, e.answer, e.tags)
    ]
    model = embedding.encoder()
    for start in range(0, len(stale), batch):
        chunk = stale[start : start + batch]
        vectors = model.encode([_text(e.question, e.answer, e.tags) for e in chunk])
        for entry, vector in zip(chunk, vectors, strict=True):
            entry.embedding = (
                _digest(entry.question, entry.answer, entry.tags)
                + vector.astype(np.float32).tobytes()
            )
    return stale


class _Matrices:
    """Per process: account -> (signature of its entries, entry ids, their vectors as rows,
    the entries by id). Valid while the signature is: any change of an entry changes it."""

    def __init__(self):
        self._accounts: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, account_id: int):
        import numpy as np

        with connection.cursor() as cursor:  # by hand: the ORM takes longer to compile it
            cursor.execute(SIGNATURE_SQL, [account_id])
            signature = cursor.fetchone()
        if not signature[0]:
            return None
        with self._lock:
            cached = self._accounts.get(account_id)
            if cached is not None and cached[0] == signature:
                self._accounts.move_to_end(account_id)
                return cached[1:]
        entries = list(KnowledgeEntry.objects.filter(account_id=account_id).order_by("id"))
        remade = entries_embed(entries)
        if remade:
            KnowledgeEntry.objects.bulk_update(remade, ["embedding"], batch_size=500)
        ids = np.array([e.pk for e in entries])
        matrix = np.stack(
            [
                np.frombuffer(bytes(e.embedding), dtype=np.float32, offset=DIGEST_BYTES)
                for e in entries
            ]
        )
        for entry in entries:
            # Kept as if loaded with .defer("embedding"): the matrix has the vectors.
            del entry.__dict__["embedding"]
        by_id = {entry.pk: entry for entry in entries}
        with self._lock:
            self._accounts[account_id] = (signature, ids, matrix, by_id)
            self._accounts.move_to_end(account_id)
            while len(self._accounts) > MAX_ACCOUNTS:
                self._accounts.popitem(last=False)
        return ids, matrix, by_id

    def clear(self):
        with self._lock:
            self._accounts.clear()


matrices = _Matrices()


def encode(text: str):
    """The text's unit vector."""
    return embedding.encoder().encode([text])[0]
