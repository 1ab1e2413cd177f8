"""Leave-one-knowledge-base-out: the ranking's choices made on the other bases only.

Pure numpy over the raw scores that bench/bot_eval.py records once per question (the cosine of
the question's vector with every entry's, the lexical confidence of every candidate, with and
without the synonym table), so that trying thousands of parameter sets costs seconds. The scoring
here is knowledge/search.py's `_with_similarities` written for arrays: the two must agree, and
bot_eval.py checks that they do by asking every held-out question again through the server's
own code with the fold's parameters.
"""

import itertools
from dataclasses import asdict, dataclass

import numpy as np

# Every choice the folds make, and the values tried (the grid).
SHARES = tuple(round(x, 2) for x in np.arange(0.0, 1.0001, 0.1))
FLOORS = (0.0, 0.1, 0.2, 0.3, 0.4)
CEILINGS = (0.6, 0.7, 0.8, 0.9, 1.0)
THRESHOLDS = tuple(round(x, 3) for x in np.arange(0.15, 0.9001, 0.01))
# Without knowledge/synonyms.py (as the server runs), or with it too (bot_eval.py --synonyms).
LEXICAL = ("plain",)
# How much the best entry's lead over the second adds to its confidence.
MARGINS = (0.0, 1.0, 2.0, 3.0)
# Which entry vector: of question and answer (what the server stores), of the question alone,
# or the larger of the two cosines.
VECTORS = ("qa",)
# Whether a short follow-up's vector is of the text with its context (the previous visitor
# message) or of the text alone.
CONTEXTS = ("with", "alone")
# The training bases' hand-offs of unanswerable questions must reach this (mean over bases).
HANDOFF_TARGET = 0.90


@dataclass(frozen=True)
class Params:
    lexical: str
    vector: str
    context: str
    share: float
    floor: float
    ceiling: float
    margin: float
    threshold: float

    def short(self) -> str:
        return (
            f"words={self.lexical} vector={self.vector} share={self.share:.1f} "
            f"cosine=[{self.floor:.1f},{self.ceiling:.1f}] margin={self.margin:.1f} "
            f"threshold={self.threshold:.2f}"
        )


def base_arrays(base: dict) -> dict:
    """A recorded base's raw scores as arrays: cosines (questions x entries) per vector kind,
    lexical confidences (questions x entries, 0 where not a candidate) per word list, the
    expected entry's column (-1: unanswerable)."""
    questions = base["questions"]
    n = len(base["entries"])
    arrays = {"expect": np.array([-1 if q["expect"] is None else q["expect"] for q in questions])}
    for lexical in ("plain", "synonyms"):
        for context in CONTEXTS:
            key = f"cos_{lexical}_{{}}_{context}"
            for kind in ("qa", "q"):
                suffix = "" if context == "with" else "_alone"
                arrays[key.format(kind)] = np.array(
                    [q["cos"][lexical][kind + suffix] for q in questions], dtype=np.float64
                )
            arrays[key.format("max")] = np.maximum(
                arrays[key.format("qa")], arrays[key.format("q")]
            )
        matrix = np.zeros((len(questions), n))
        for row, q in enumerate(questions):
            for column, confidence in q["lex"][lexical].items():
                matrix[row, int(column)] = confidence
        arrays[f"lex_{lexical}"] = matrix
    return arrays


def scores(arrays: dict, lexical, vector, context, share, floor, ceiling):
    """Every entry's score for every question, as knowledge/search.py computes it."""
    cosines = arrays[f"cos_{lexical}_{vector}_{context}"]
    semantic = share * np.clip((cosines - floor) / (ceiling - floor), 0.0, 1.0)
    return np.round(semantic + (1 - share) * arrays[f"lex_{lexical}"], 4)


def best(arrays: dict, matrix, margin: float = 0.0) -> tuple:
    """(the best entry's confidence per question, whether it is the expected one). The
    confidence is its score plus `margin` times its lead over the second best."""
    top = np.argmax(matrix, axis=1)  # ties: the first column, the lower id (entries in id order)
    score = matrix[np.arange(len(top)), top]
    second = np.sort(matrix, axis=1)[:, -2] if matrix.shape[1] > 1 else np.zeros(len(top))
    confidence = np.round(np.minimum(score + margin * (score - second), 1.0), 4)
    return confidence, (top == arrays["expect"]) & (score > 0)


def sweep(confidence, correct, expect) -> tuple:
    """For every threshold of THRESHOLDS: (top-1 on answerable, unanswerable handed off)."""
    thresholds = np.array(THRESHOLDS)[:, None]
    answered = confidence[None, :] >= thresholds
    answerable = expect >= 0
    top1 = (answered & correct[None, :] & answerable[None, :]).sum(1) / answerable.sum()
    handoff = (~answered & ~answerable[None, :]).sum(1) / (~answerable).sum()
    return top1, handoff


def grid() -> list[tuple]:
    return list(itertools.product(LEXICAL, VECTORS, CONTEXTS, SHARES, FLOORS, CEILINGS, MARGINS))


def tables(bases: dict[str, dict]) -> tuple[list[tuple], dict]:
    """Per base and grid point: top-1 and hand-off rate at every threshold."""
    points = [p for p in grid() if p[5] > p[4]]  # ceiling above floor
    out = {}
    for slug, arrays in bases.items():
        top1s, handoffs = [], []
        matrices = {}
        for *key, margin in points:
            key = tuple(key)
            if key not in matrices:
                matrices = {key: scores(arrays, *key)}
            confidence, correct = best(arrays, matrices[key], margin)
            t, h = sweep(confidence, correct, arrays["expect"])
            top1s.append(t)
            handoffs.append(h)
        out[slug] = (np.array(top1s), np.array(handoffs))  # (points x thresholds) each
    return points, out


def choose(points, per_base: dict, training: list[str]) -> tuple[Params, dict]:
    """The parameters with the best mean top-1 over the training bases among those whose mean
    hand-off rate reaches HANDOFF_TARGET (none: the best mean of the two), ties to the higher
    hand-off rate, then the earlier grid point and lower threshold."""
    top1 = np.mean([per_base[s][0] for s in training], axis=0)
    handoff = np.mean([per_base[s][1] for s in training], axis=0)
    feasible = handoff >= HANDOFF_TARGET - 1e-9
    if feasible.any():
        key = np.where(feasible, top1 * 1000 + handoff, -np.inf)
    else:
        key = (top1 + handoff) * 1000 + handoff
    point, threshold = np.unravel_index(np.argmax(key), key.shape)
    params = Params(*points[point], THRESHOLDS[threshold])
    return params, {
        "top1": float(top1[point, threshold]),
        "handoff": float(handoff[point, threshold]),
    }


def folds(recorded: dict[str, dict]) -> dict:
    """For every base: the parameters chosen on all the others, and the training figures; and
    under "all bases", those chosen on every base (what the server ships)."""
    bases = {slug: base_arrays(base) for slug, base in recorded.items()}
    points, per_base = tables(bases)
    chosen = {}
    for slug in [*bases, None]:
        training = [s for s in bases if s != slug]
        params, fit = choose(points, per_base, training)
        chosen[slug or "all bases"] = {"params": asdict(params), "training": fit}
    return chosen


def figures(base: dict, params: dict) -> dict:
    """A base's figures under the given parameters, from the recorded scores (for checking the
    live run against)."""
    arrays = base_arrays(base)
    p = dict(params)
    threshold, margin = p.pop("threshold"), p.pop("margin")
    confidence, correct = best(arrays, scores(arrays, **p), margin)
    answerable = arrays["expect"] >= 0
    answered = confidence >= threshold
    return {
        "top1": float((answered & correct & answerable).sum() / answerable.sum()),
        "handoff": float((~answered & ~answerable).sum() / (~answerable).sum()),
    }
