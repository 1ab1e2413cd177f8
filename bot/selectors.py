"""Knowledge gaps: the questions the bot handed off, grouped when they ask the same thing.

A hand-off (bot.models.HandOff) is a visitor's question that no knowledge entry answered. Listed
one by one they repeat themselves ("Can I pay with Bitcoin?", "Do you accept bitcoin
payments?"), so they are grouped by meaning, with the project's sentence embedding
(knowledge/embedding.py), into gaps, newest first: what the account's knowledge should answer
next.

Grouping, newest hand-off first: a question joins the group whose centroid (the normalised mean
of its questions' vectors) is nearest, when the cosine similarity reaches `SIMILARITY`, else it
starts a group of its own. A question is compared with groups, not with single questions, so a
chain of near neighbours does not pull unrelated questions together. The threshold was chosen on
shop questions (docs/bot.md, "Knowledge gaps"): paraphrases scored 0.71-0.85 with this model,
and different questions on a shared topic up to 0.71 ("Can I pay with Bitcoin?" and "... with
PayPal?") and 0.70 ("gift wrapping" and "gift cards"); at 0.75 a gap may be split in two, which
an admin sees at a glance, rather than two different questions merged into one.

Without the model (BOT_EMBEDDINGS=0, or not installed) questions are grouped when they have the
same meaningful words (stemmed, stop words left out: knowledge.search.terms), so repeats of the
same words still make one gap.

Each question's vector is made once and kept on its hand-off (`HandOff.embedding`, after a digest
of the text, so an edited message is encoded again); the first listing of many new hand-offs
pays their encoding (about 3 ms each, in batches).
"""

import hashlib
from dataclasses import dataclass, field

from django.db.models import QuerySet

from knowledge import embedding
from knowledge.search import terms

from .models import HandOff

SIMILARITY = 0.75
# The newest hand-offs grouped per listing (a date filter reaches older ones): the bound of the
# work and memory one listing takes, whatever an account's history.
MAX_HAND_OFFS = 1000
# The questions shown per gap, newest first (`count` has them all).
MAX_QUESTIONS = 20
DIGEST_BYTES = 8
ENCODE_BATCH = 32


@dataclass
class Question:
    """One handed-off visitor message."""

    hand_off_id: int
    body: str
    message: object  # messaging.Message (its uuid)
    room: object  # rooms.Room (its uuid and label)
    created_at: object


@dataclass
class Gap:
    """A group of handed-off questions that ask the same thing, newest first."""

    questions: list[Question] = field(default_factory=list)  # at most MAX_QUESTIONS
    count: int = 0
    first_at: object = None

    @property
    def latest(self) -> Question:
        return self.questions[0]

    @property
    def question(self) -> str:
        # The newest wording stands for the group.
        return self.latest.body

    @property
    def room(self):
        return self.latest.room

    @property
    def message(self):
        return self.latest.message

    @property
    def latest_at(self):
        return self.latest.created_at

    def add(self, question: Question) -> None:
        self.count += 1
        self.first_at = question.created_at  # added newest first: the last is the oldest
        if len(self.questions) < MAX_QUESTIONS:
            self.questions.append(question)


def knowledge_gaps(*, hand_offs: QuerySet) -> list[Gap]:
    """The gaps of these hand-offs (an account's, maybe filtered by date), newest first: at most
    the newest MAX_HAND_OFFS of them are grouped."""
    rows = list(
        hand_offs.select_related("message", "room")
        .only(
            "id",
            "created_at",
            "embedding",
            "message__uuid",
            "message__body",
            "room__uuid",
            "room__label",
        )
        .order_by("-created_at", "-id")[:MAX_HAND_OFFS]
    )
    questions = [Question(h.pk, h.message.body, h.message, h.room, h.created_at) for h in rows]
    if not questions:
        return []
    vectors = None
    if embedding.usable():
        try:
            vectors = _vectors(rows)
        except embedding.ModelUnavailable:
            vectors = None  # logged once by the loader; grouped by words instead
    if vectors is None:
        return _group_by_words(questions)
    return _group_by_meaning(questions, vectors)


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=DIGEST_BYTES).digest()


def _vectors(rows: list[HandOff]):
    """The hand-offs' question vectors, one row each, made (and kept) for those without one."""
    import numpy as np

    stale = [h for h in rows if bytes(h.embedding or b"")[:DIGEST_BYTES] != _digest(h.message.body)]
    encoder = embedding.encoder()
    for start in range(0, len(stale), ENCODE_BATCH):
        chunk = stale[start : start + ENCODE_BATCH]
        for hand_off, vector in zip(
            chunk, encoder.encode([h.message.body for h in chunk]), strict=True
        ):
            hand_off.embedding = (
                _digest(hand_off.message.body) + vector.astype(np.float32).tobytes()
            )
    if stale:
        HandOff.objects.bulk_update(stale, ["embedding"], batch_size=200)
    return np.stack(
        [np.frombuffer(bytes(h.embedding), dtype=np.float32, offset=DIGEST_BYTES) for h in rows]
    )


def _group_by_meaning(questions: list[Question], vectors) -> list[Gap]:
    import numpy as np

    gaps: list[Gap] = []
    sums = np.zeros((len(questions), vectors.shape[1]), dtype=np.float32)  # per gap
    for question, vector in zip(questions, vectors, strict=True):
        best = None
        if gaps:
            centroids = sums[: len(gaps)]
            norms = np.linalg.norm(centroids, axis=1)
            similarities = (centroids @ vector) / norms
            index = int(np.argmax(similarities))
            if similarities[index] >= SIMILARITY:
                best = index
        if best is None:
            best = len(gaps)
            gaps.append(Gap())
        gaps[best].add(question)
        sums[best] += vector
    return gaps  # in the order of their newest question: newest first


def _group_by_words(questions: list[Question]) -> list[Gap]:
    gaps: dict = {}
    for question in questions:
        key = frozenset(terms(question.body)) or question.body.strip().casefold()
        gaps.setdefault(key, Gap()).add(question)
    return list(gaps.values())
