"""Ranking the account's knowledge entries against a visitor's text.

Two steps. The database's full-text index (see `search_index`) finds the candidates: entries that
share at least one stemmed word with the text, best first by its own rank (`ts_rank` on
PostgreSQL, `bm25()` on SQLite), and tells how many entries contain each word. Then the candidates
are scored here, the same way on every database, into a confidence between 0 and 1:

- coverage: how much of the text the entry explains, each word weighted by its rarity in the
  account's knowledge (BM25's idf) and by where it matched (question > tags > answer). A word that
  no entry contains is as rare as a word can be, and counts half as much again
  (`UNKNOWN_WEIGHT`), so a question about something the knowledge does not cover scores low,
  whatever else it shares with an entry;
- precision: how much of the entry's question the text asked about, so that of two entries that
  explain the text equally the more specific one wins.

With `USE_SYNONYMS`, each word also matches its synonyms (knowledge/synonyms.py) at a lower
weight, and a few multi-word expressions are read as the word they mean ("send it back":
"return"); it is off, because on knowledge bases written by others (bench/kb/, docs/bot.md) the
table did not help: it was written for the project's own evaluation base. Context (the
room's previous visitor messages) helps a short follow-up: the earlier words count towards which
entry's question is meant and add a small bonus, but an entry must still match the new message
itself, so a follow-up that changes the subject is not dragged back to the old one.
"""

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer
from django.db import connection

from . import embedding, semantic
from . import synonyms as word_lists
from .models import KnowledgeEntry
from .search_index import search_index_available
from .tasks import knowledge_embeddings_request

CANDIDATES = 30
# A text with at most this many meaningful words is a follow-up that may need its context.
SHORT_TEXT_WORDS = 3
# How much matching the earlier messages adds to a follow-up's score.
CONTEXT_BONUS = 0.15
# Whether words match their synonyms and expressions of knowledge/synonyms.py (see above).
USE_SYNONYMS = False
# A word matched through a synonym counts this much of a word matched as written.
SYNONYM_WEIGHT = 0.85
# Words sent to the database (the text's words first, then their synonyms).
MAX_QUERY_WORDS = 48
FIELD_WEIGHTS = {"question": 1.0, "tags": 1.0, "answer": 0.6}
COVERAGE_SHARE = 0.8
# A word that no entry contains (nor its synonyms) weighs this much more than its idf says.
UNKNOWN_WEIGHT = 1.5
# With sentence embeddings (knowledge/semantic.py): their share of an entry's score, the
# cosine similarities that count as nothing and as everything, and how much the best entry's
# lead over the second adds to its confidence (a clear winner is surer than one of several
# close ones). Chosen on the knowledge bases of bench/kb/ by bench/bot_eval.py, whose
# leave-one-base-out figures say what to expect of them on a base nobody tuned on (docs/bot.md).
SEMANTIC_SHARE = 0.5
COSINE_FLOOR = 0.2
COSINE_CEILING = 0.6
MARGIN_WEIGHT = 3.0
# Whether a short follow-up's sentence embedding is made of it together with its context (off:
# of the follow-up alone; its context still counts through the words, `_lexical_matches`).
CONTEXT_IN_QUERY = False
# Past this many words, a text is cut (the rest adds noise, not meaning).
MAX_WORDS = 40
# Without a full-text index (SQLite built without FTS5) every entry is a candidate, up to this.
FALLBACK_SCAN_LIMIT = 5000

# English function words and chat filler: they say nothing about which entry is meant.
STOPWORD_TEXT = """
    a about above after again against all am an and any are aren as at be because been before
    being below between both but by can cannot could couldn did didn do does doesn doing don
    down during each few for from further had hadn has hasn have haven having he her here hers
    herself him himself his how i if in into is isn it its itself just let me more most mustn my
    myself no nor not of off on once only or other ought our ours ourselves out over own same
    shan she should shouldn so some such than that the their theirs them themselves then there
    these they this those through to too under until up very was wasn we were weren what when
    where which while who whom why will with won would wouldn you your yours yourself yourselves
    s t d ll m o re ve y also anyone anything get got hi hello hey thanks thank please pls ok
    okay yes yeah know tell want wanted need like would could possible question something else
    way much many now
"""
STOPWORDS = frozenset(STOPWORD_TEXT.split())

_stemmer = snowballstemmer.stemmer("english")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def synonyms(word: str) -> frozenset[str]:
    """The word and, with USE_SYNONYMS, the other words of its group."""
    return word_lists.synonyms(word) if USE_SYNONYMS else frozenset((word,))


def phrases(text: str) -> str:
    """The text lowercased and, with USE_SYNONYMS, its expressions read as their words."""
    return word_lists.phrases(text) if USE_SYNONYMS else text.casefold().replace("\u2019", "'")


@lru_cache(maxsize=100_000)
def stem(word: str) -> str:
    return _stemmer.stemWord(word)


def words(text: str) -> list[str]:
    """The meaningful words of a text, lowercased, in order, without repeats."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(phrases(text)):
        if word not in STOPWORDS and (len(word) > 1 or word.isdigit()):
            seen.setdefault(word, None)
    return list(seen)[:MAX_WORDS]


def terms(text: str) -> set[str]:
    return {stem(word) for word in words(text)}


@dataclass(frozen=True)
class EntryTerms:
    question: frozenset[str]
    tags: frozenset[str]
    answer: frozenset[str]


@lru_cache(maxsize=20_000)
def _entry_terms(entry_id: int, version: str, question: str, tags: str, answer: str):
    # Keyed by id and last update, so a process keeps each entry's terms while it is unchanged.
    return EntryTerms(frozenset(terms(question)), frozenset(terms(tags)), frozenset(terms(answer)))


def entry_terms(entry: KnowledgeEntry) -> EntryTerms:
    return _entry_terms(
        entry.pk, entry.updated_at.isoformat(), entry.question, entry.tags, entry.answer
    )


@dataclass(frozen=True)
class Match:
    entry: KnowledgeEntry
    confidence: float


@dataclass(frozen=True)
class Term:
    """A word of the visitor's: its stem, the stems of its synonyms, its weight."""

    stem: str
    alternatives: frozenset[str]
    idf: float

    def match(self, stems: frozenset[str]) -> float:
        if self.stem in stems:
            return 1.0
        return SYNONYM_WEIGHT if self.alternatives & stems else 0.0


def context_counts(text: str) -> bool:
    """Whether the ranking of `text` reads its context: only a short follow-up's does (a longer
    text is ranked by itself, `_lexical_matches` and `semantic_query`), so a caller may skip
    reading the context of any other."""
    return len(words(text)) <= SHORT_TEXT_WORDS


def knowledge_search(
    *, account_id: int, text: str, context: str = "", limit: int = 10
) -> list[Match]:
    """The account's entries that share words with `text`, best first, each with its
    confidence: full-text search (the API's `?search=`)."""
    return _lexical_matches(account_id, text, context)[:limit]


def knowledge_rank(
    *, account_id: int, text: str, context: str = "", limit: int = 10
) -> list[Match]:
    """The account's entries that answer `text`, best first, each with its confidence: what
    the bot answers from. With sentence embeddings (knowledge/semantic.py) every entry that has
    its vector is scored, also one that shares no word with the text; an entry still waiting for
    its vector (made in the background, knowledge/tasks.py) is scored by its words alone, as is
    every entry without the model. Only the visitor's text is encoded here, never an entry."""
    if semantic.enabled():
        try:
            # The database's work first: after the encoder (BLAS's threads spin on the cores
            # a moment, we think) PostgreSQL answered slower: p95 15-17 against 14-14.5 ms,
            # docs/bot.md. On PostgreSQL the same statement reads the signature of the
            # account's vectors (semantic.SIGNATURE_SQL's figures): one round trip, not two.
            lexical, signature = _lexical_signed(account_id, text, context, signed=True)
            vectors = semantic.matrices.get(account_id, signature=signature)
            if vectors is None:
                return []  # no entries
            if vectors.missing and semantic.matrices.request_due(account_id):
                # Asked for when they were written; again in case that task was lost.
                knowledge_embeddings_request(account_id=account_id)
            if not len(vectors.ids):
                # Not one vector yet: words alone, and no need for the model.
                return _words_alone(account_id, text, context, limit, lexical)
            query = semantic.encode(semantic_query(text, context))
        except embedding.ModelUnavailable:
            pass  # logged once by the loader
        else:
            return _with_similarities(vectors, vectors.matrix @ query, lexical, limit)
    return _words_alone(account_id, text, context, limit)


def _words_alone(
    account_id: int, text: str, context: str, limit: int, lexical: list[Match] | None = None
) -> list[Match]:
    """Words alone (no model, or no vector yet): the same lead over the second best counts.
    `lexical`: `_lexical_matches` of the text, if the caller has them already."""
    if lexical is None:
        lexical = _lexical_matches(account_id, text, context)
    matches = lexical[: max(limit, 2)]
    if matches:
        second = matches[1].confidence if len(matches) > 1 else 0.0
        matches[0] = _with_lead(matches[0], matches[0].confidence, second)
    return matches[:limit]


def semantic_query(text: str, context: str = "", with_context: bool | None = None) -> str:
    """The text whose sentence embedding is compared with the entries': with CONTEXT_IN_QUERY,
    a short follow-up's together with its context (what was asked before)."""
    if with_context is None:
        with_context = CONTEXT_IN_QUERY
    short = context and context_counts(text)
    return f"{context} {text}" if with_context and short else text


def _with_similarities(vectors, cosines, lexical: list[Match], limit: int) -> list[Match]:
    """Every entry with a vector scored by its lexical confidence and its embedding's similarity
    to the text (`cosines`, one per entry of `vectors.ids`, in id order): the similarity finds
    the entries that say the same thing in other words, the words keep what the visitor named (a
    product, a country) from being outweighed by the general sense. An entry matched by words
    but without a vector (not made yet, or added since the vectors were read) keeps its lexical
    confidence: ranked by words alone."""
    import numpy as np

    ids = vectors.ids
    scores = SEMANTIC_SHARE * np.clip(
        (cosines - COSINE_FLOOR) / (COSINE_CEILING - COSINE_FLOOR), 0.0, 1.0
    )
    words_alone = []
    if lexical:
        pks = np.array([m.entry.pk for m in lexical])
        rows = np.minimum(np.searchsorted(ids, pks), len(ids) - 1)  # ids are sorted
        known = ids[rows] == pks
        confidences = np.array([m.confidence for m in lexical])
        scores[rows[known]] += (1 - SEMANTIC_SHARE) * confidences[known]
        words_alone = [m for m, has_vector in zip(lexical, known, strict=True) if not has_vector]
    # Ties: the lower id first. The second best is needed for the best one's lead.
    best = np.argsort(-scores, kind="stable")[: max(limit, 2)]
    ranked = [
        (float(scores[row]), 0, n, vectors.entries[int(ids[row])])
        for n, row in enumerate(best)
        if scores[row] > 0
    ]
    if words_alone:
        # Merged by score; the order of the others is kept (at an equal score, first).
        ranked += [(m.confidence, 1, m.entry.pk, m.entry) for m in words_alone]
        ranked = sorted(ranked, key=lambda r: (-r[0], r[1], r[2]))[: max(limit, 2)]
    matches = [Match(entry=entry, confidence=round(score, 4)) for score, _, _, entry in ranked]
    if matches:
        second = ranked[1][0] if len(ranked) > 1 else 0.0
        matches[0] = _with_lead(matches[0], ranked[0][0], second)
    return matches[:limit]


def _with_lead(match: Match, score: float, second: float) -> Match:
    """The best entry's confidence: its score and MARGIN_WEIGHT times its lead over the
    second best (at most 1)."""
    confidence = min(score + MARGIN_WEIGHT * (score - second), 1.0)
    return Match(entry=match.entry, confidence=round(confidence, 4))


def _lexical_matches(account_id: int, text: str, context: str) -> list[Match]:
    """The full-text candidates, scored here (module docstring), best first."""
    return _lexical_signed(account_id, text, context)[0]


def _lexical_signed(account_id: int, text: str, context: str, signed: bool = False):
    """(`_lexical_matches`, and with `signed` on PostgreSQL the signature of the account's
    entries read by the same statement, else None: `semantic.matrices.get` reads it then)."""
    current = words(text)
    extra = []
    if context and len(current) <= SHORT_TEXT_WORDS:
        extra = [w for w in words(context) if w not in current]
    if not current:
        # Nothing but "and?" or "how so?": the follow-up is about what was asked before.
        current, extra = extra, []
    if not current:
        return [], None
    query_words = list(dict.fromkeys(current + extra))
    for word in current + extra:
        query_words += [w for w in sorted(synonyms(word)) if w not in query_words]
    query_words = query_words[:MAX_QUERY_WORDS]
    candidates, total, frequencies, signature = _candidates(account_id, query_words)
    signature = signature if signed else None
    if not candidates:
        return [], signature

    def term(word: str) -> Term:
        # A word's rarity is its group's: "earbuds" is as common as the "headphones" it means.
        df = max((frequencies.get(w, 0) for w in synonyms(word)), default=0)
        own = stem(word)
        alternatives = frozenset(stem(w) for w in synonyms(word)) - {own}
        idf = math.log(1 + (total - df + 0.5) / (df + 0.5))
        return Term(own, alternatives, idf * (UNKNOWN_WEIGHT if df == 0 else 1.0))

    current_terms = [term(w) for w in current]
    context_terms = [term(w) for w in extra]
    scored = [
        Match(entry=entry, confidence=_score(current_terms, context_terms, entry_terms(entry)))
        for entry in candidates
    ]
    scored.sort(key=lambda m: (-m.confidence, m.entry.pk))
    return [m for m in scored if m.confidence > 0], signature


def _matched(term: Term, fields: EntryTerms) -> float:
    return max(
        FIELD_WEIGHTS["question"] * term.match(fields.question),
        FIELD_WEIGHTS["tags"] * term.match(fields.tags),
        FIELD_WEIGHTS["answer"] * term.match(fields.answer),
    )


def _score(current: list[Term], context: list[Term], fields: EntryTerms) -> float:
    wanted = sum(t.idf for t in current)
    matched = sum(t.idf * _matched(t, fields) for t in current)
    if not wanted or not matched:
        # An entry that shares nothing with the new message does not answer it, however well
        # it answered the message before.
        return 0.0
    coverage = matched / wanted
    question_hits = {
        s for t in current + context for s in fields.question if s == t.stem or s in t.alternatives
    }
    precision = len(question_hits) / len(fields.question) if fields.question else 0.0
    score = COVERAGE_SHARE * coverage + (1 - COVERAGE_SHARE) * precision
    if context:
        context_wanted = sum(t.idf for t in context)
        context_matched = sum(t.idf * _matched(t, fields) for t in context)
        score += CONTEXT_BONUS * context_matched / context_wanted
    return round(min(score, 1.0), 4)


def _candidates(account_id: int, words_: list[str]):
    """(candidate entries, the account's number of entries, {word: entries containing it}, the
    signature of the account's entries where the same statement reads it, else None)."""
    if connection.vendor == "postgresql":
        return _candidates_postgres(account_id, words_)
    if connection.vendor == "sqlite" and _sqlite_fts(connection):
        return _candidates_sqlite(account_id, words_)
    return _candidates_scan(account_id, words_)


ENTRY_COLUMNS = (
    "e.id, e.uuid, e.account_id, e.question, e.answer, e.tags, e.created_at, e.updated_at"
)


ENTRY_FIELDS = (
    "id",
    "uuid",
    "account_id",
    "question",
    "answer",
    "tags",
    "created_at",
    "updated_at",
)


def _candidates_postgres(account_id, words_):
    """`_candidates`, and the signature of the account's entries (`semantic.SIGNATURE_SQL`'s
    figures, read from the rows counted anyway): one statement, whose first row carries the
    counts and each row a candidate (none: one row of NULLs)."""
    # One tsquery per word (stemmed by PostgreSQL; stop words become empty queries, matching
    # nothing), OR-ed for the candidates. The tsqueries are made once, in a materialized CTE:
    # a prepared statement's generic plan (psycopg prepares a query run 5 times) cannot fold
    # `plainto_tsquery('english', $1)` into a constant and would parse it again for every row.
    columns = ", ".join(f"plainto_tsquery('english', %s) AS w{i}" for i in range(len(words_)))
    any_word = " || ".join(f"w{i}" for i in range(len(words_)))
    counts = ", ".join(
        f"count(*) FILTER (WHERE search_vector @@ q.w{i})" for i in range(len(words_))
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH q AS MATERIALIZED (SELECT w.*, {any_word} AS query FROM (SELECT {columns}) w),"
            " s AS (SELECT count(*), max(id), max(updated_at),"
            f" count(*) FILTER (WHERE embedding IS NULL), {counts}"
            " FROM knowledge_knowledgeentry, q WHERE account_id = %s)"
            f" SELECT s.*, c.* FROM s LEFT JOIN LATERAL (SELECT {ENTRY_COLUMNS}"
            " FROM knowledge_knowledgeentry e, q"
            " WHERE e.account_id = %s AND e.search_vector @@ q.query"
            " ORDER BY ts_rank(e.search_vector, q.query) DESC, e.id LIMIT %s) c ON true",
            [*words_, account_id, account_id, CANDIDATES],
        )
        rows = cursor.fetchall()
    stats = 4 + len(words_)
    signature = tuple(rows[0][:4])
    total, dfs = rows[0][0], rows[0][4:stats]
    entries = [
        KnowledgeEntry.from_db(connection.alias, ENTRY_FIELDS, row[stats:])
        for row in rows
        if row[stats] is not None
    ]
    return entries, total, dict(zip(words_, dfs, strict=True)), signature


def _sqlite_fts(conn) -> bool:
    # Asked once per connection: the index exists or not for the life of the database.
    flag = getattr(conn, "_knowledge_fts", None)
    if flag is None:
        flag = conn._knowledge_fts = search_index_available(conn)
    return flag


def _fts_phrase(word: str) -> str:
    # Words are letters and digits only (see `words`); quoting keeps FTS5 from reading one as an
    # operator.
    return f'"{word}"'


def _candidates_sqlite(account_id, words_):
    account = f"account_key : a{int(account_id)}"
    counts = ", ".join(
        "(SELECT count(*) FROM knowledge_fts WHERE knowledge_fts MATCH %s)" for _ in words_
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM knowledge_knowledgeentry WHERE account_id = %s),"
            f" {counts}",
            [account_id, *(f"{account} AND {_fts_phrase(w)}" for w in words_)],
        )
        total, *dfs = cursor.fetchone()
    match = f"{account} AND ({' OR '.join(_fts_phrase(w) for w in words_)})"
    entries = list(
        KnowledgeEntry.objects.raw(
            f"SELECT {ENTRY_COLUMNS} FROM knowledge_fts JOIN knowledge_knowledgeentry e"
            " ON e.id = knowledge_fts.rowid WHERE knowledge_fts MATCH %s"
            " ORDER BY bm25(knowledge_fts, 4.0, 2.0, 1.0, 0.0), e.id LIMIT %s",
            [match, CANDIDATES],
        )
    )
    return entries, total, dict(zip(words_, dfs, strict=True)), None


def _candidates_scan(account_id, words_):
    """No full-text index: score every entry of the account here (correct, slower)."""
    entries = list(
        KnowledgeEntry.objects.filter(account_id=account_id).order_by("id")[:FALLBACK_SCAN_LIMIT]
    )
    stems = {w: stem(w) for w in words_}
    frequencies = dict.fromkeys(words_, 0)
    candidates = []
    for entry in entries:
        fields = entry_terms(entry)
        present = fields.question | fields.tags | fields.answer
        hit = False
        for word, word_stem in stems.items():
            if word_stem in present:
                frequencies[word] += 1
                hit = True
        if hit:
            candidates.append(entry)
    return candidates, len(entries), frequencies, None
