"""Experiment (issue 15): does a second embedding model's cosine, WordLlama's static embeddings,
improve the leave-one-knowledge-base-out figures of bench/bot_eval.py?

    .venv/bin/pip install wordllama==0.4.0.post1          # into this checkout's venv only
    .venv/bin/python bench/wordllama_experiment.py                      # record (SQLite) + analyse
    .venv/bin/python bench/wordllama_experiment.py --record FILE        # ... keeping the scores
    .venv/bin/python bench/wordllama_experiment.py --from FILE          # analyse saved scores

Recording (a child process on a scratch SQLite file, like bot_eval.py): every base of bench/kb/
and the shop base is imported and its raw scores recorded exactly as bot_eval.py records them
(`kb_record`: MiniLM cosines, lexical confidences); next to them, WordLlama's cosine of the
question's text (`search.semantic_query`, with and without a follow-up's context) with every
entry's text as the server embeds it for MiniLM (`semantic._text`: question, tags, answer).

WordLlama is loaded from the files of its wheel only (`wordllama_model`): its own
`WordLlama.load()` looks for the tokenizer under `wordllama/tokenizer/` while the wheel ships it
under `wordllama/tokenizers/`, so it tries to download it from Hugging Face (and fails offline).

Analysis (numpy, bench/loko.py's folds and choice rule, unchanged): the grid gets new "vector"
values, chosen per fold on the training bases like every other parameter:
- "qa": MiniLM alone (today's grid: the baseline);
- "A<a>": the raw cosines mixed, cos = (1 - a) * MiniLM + a * WordLlama, then floor/ceiling as
  today (a in 0.1..0.5);
- "B<a>/<fw>/<cw>": WordLlama as a separate share with its own floor and ceiling: semantic part =
  share * ((1 - a) * clip_MiniLM + a * clip_WordLlama(fw, cw)).
Reported: held-out pooled top-1 / hand-off over the eight external bases, per base, and the
ranking's ceiling (the best entry right, no hand-off) with each fold's parameters and with
parameters chosen on the training bases for ranking alone.

Results (2026-12-02, SQLite, `unshare -rn .venv/bin/python bench/wordllama_experiment.py --record
/tmp/wl_rec.json`, no network; pooled over the eight external bases, held out):
- baseline (MiniLM only): top-1 61.0 % (490/803), hand-offs 85.8 % (103/120), best entry right
  with no hand-off 77.8 % (625/803): bot_eval.py's figures, reproduced;
- A, raw mix (folds chose a = 0.1-0.4): 63.1 % / 82.5 %, no hand-off 79.2 %;
- B, separate share (folds chose a = 0.2-0.4, WordLlama floor 0.2 = the grid's edge): 63.6 % /
  85.8 %, no hand-off 79.1 %; question by question +30 -9 answerable, +4 -4 unanswerable handed
  off; with --wl-floors 0.0,0.1,0.2: 63.8 % / 85.0 %;
- WordLlama instead of MiniLM: 53.5 % / 86.7 %;
- the ranking's ceiling with parameters chosen (per fold) for ranking alone: 77.8 % without,
  77.2-77.7 % with WordLlama: it does not rank better; it separates confidences a little better.
WordLlama: 0.075 ms per text (p95 0.12 ms), its table 32,000 x 256 float32 (31 MB; the process
grew 78 MB loading it with its imports).
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import loko  # noqa: E402

SHOP = "shop (own)"
MIX_A = (0.1, 0.2, 0.3, 0.4, 0.5)
# WordLlama's own floor and ceiling for option B (the first run's grid, set before any figure
# was seen, assumed its cosines would run higher than MiniLM's; they do not: --wl-floors to try
# others).
WL_FLOORS = (0.2, 0.3, 0.4, 0.5)
WL_CEILINGS = (0.8, 0.9, 1.0)
if "--wl-floors" in sys.argv:
    WL_FLOORS = tuple(float(x) for x in sys.argv[sys.argv.index("--wl-floors") + 1].split(","))


def wordllama_model():
    """WordLlama l2_supercat, 256 dimensions, from the wheel's own files; no network."""
    import wordllama
    from safetensors import safe_open
    from tokenizers import Tokenizer

    package = Path(wordllama.__file__).parent
    tokenizer = Tokenizer.from_file(
        str(package / "tokenizers" / "l2_supercat_tokenizer_config.json")
    )
    with safe_open(package / "weights" / "l2_supercat_256.safetensors", framework="np") as f:
        table = f.get_tensor("embedding.weight")
    return wordllama.WordLlamaInference(table, tokenizer)


# ---------------------------------------------------------------------------------------------
# Recording (child process, Django on a scratch SQLite file)


def record_here() -> dict:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "askhandle.settings")
    django.setup()
    from bot_eval import _WordLists, kb_bases, kb_load, kb_record
    from django.core.management import call_command

    from accounts.models import User
    from knowledge import search, semantic
    from knowledge.models import KnowledgeEntry

    call_command("migrate", verbosity=0)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    wl = wordllama_model()
    load_s = time.perf_counter() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    bases = kb_bases()
    words_ = _WordLists()
    recorded, queries = {}, []
    accounts = []
    try:
        for slug, base in bases.items():
            account = User.objects.create(username=f"bench-wl-{os.getpid()}-{time.time_ns()}"[:150])
            accounts.append(account)
            columns = kb_load(account, base)
            record = kb_record(account, base, columns, words_)
            entries = sorted(
                KnowledgeEntry.objects.filter(account=account), key=lambda e: columns[e.pk]
            )
            texts = [semantic._text(e.question, e.answer, e.tags) for e in entries]
            matrix = wl.embed(texts, norm=True)
            encoded = {}
            for q, r in zip(base["questions"], record["questions"], strict=True):
                context = q.get("after") or ""
                for lexical in ("synonyms", "plain"):
                    words_.set(lexical)
                    for suffix, with_context in (("", True), ("_alone", False)):
                        query = search.semantic_query(q["text"], context, with_context=with_context)
                        if query not in encoded:
                            encoded[query] = wl.embed([query], norm=True)[0]
                            queries.append(query)
                        r["cos"][lexical]["wl" + suffix] = [
                            round(float(x), 5) for x in matrix @ encoded[query]
                        ]
                words_.set(None)
            recorded[slug] = record
    finally:
        for account in accounts:
            account.delete()
    # Time per question: one text at a time, as a visitor's message is (after a warm-up pass).
    for query in queries:
        wl.embed([query], norm=True)
    times = []
    for query in queries:
        t = time.perf_counter()
        wl.embed([query], norm=True)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {
        "recorded": recorded,
        "wordllama": {
            "queries": len(times),
            "embed_ms_mean": statistics.mean(times),
            "embed_ms_p50": statistics.median(times),
            "embed_ms_p95": times[int(0.95 * (len(times) - 1))],
            "load_s": load_s,
            "table_shape": list(wl.embedding.shape),
            "table_mb": wl.embedding.nbytes / 2**20,
            "rss_growth_mb": (rss_after - rss_before) / 1024,
        },
    }


# ---------------------------------------------------------------------------------------------
# Analysis (numpy over the recorded scores)

_base_arrays, _scores = loko.base_arrays, loko.scores


def base_arrays(base: dict) -> dict:
    arrays = _base_arrays(base)
    questions = base["questions"]
    for lexical in ("plain", "synonyms"):
        for context in loko.CONTEXTS:
            suffix = "" if context == "with" else "_alone"
            arrays[f"wl_{lexical}_{context}"] = np.array(
                [q["cos"][lexical]["wl" + suffix] for q in questions], dtype=np.float64
            )
    return arrays


def scores(arrays: dict, lexical, vector, context, share, floor, ceiling):
    if vector in ("qa", "q", "max"):
        return _scores(arrays, lexical, vector, context, share, floor, ceiling)
    minilm = arrays[f"cos_{lexical}_qa_{context}"]
    wl = arrays[f"wl_{lexical}_{context}"]
    if vector.startswith("A"):
        a = float(vector[1:])
        cosines = (1 - a) * minilm + a * wl
        semantic = share * np.clip((cosines - floor) / (ceiling - floor), 0.0, 1.0)
    elif vector.startswith("B"):
        a, wf, wc = (float(x) for x in vector[1:].split("/"))
        semantic = share * (
            (1 - a) * np.clip((minilm - floor) / (ceiling - floor), 0.0, 1.0)
            + a * np.clip((wl - wf) / (wc - wf), 0.0, 1.0)
        )
    elif vector == "wl":  # WordLlama instead of MiniLM (for comparison)
        semantic = share * np.clip((wl - floor) / (ceiling - floor), 0.0, 1.0)
    else:
        raise ValueError(vector)
    return np.round(semantic + (1 - share) * arrays[f"lex_{lexical}"], 4)


loko.base_arrays, loko.scores = base_arrays, scores

BASELINE = "baseline (MiniLM only, today's grid)"
VARIANTS = {
    BASELINE: ("qa",),
    "A: raw mix, a in 0..0.5": ("qa", *(f"A{a}" for a in MIX_A)),
    "B: separate share, own floor/ceiling": (
        "qa",
        *(f"B{a}/{f}/{c}" for a in MIX_A for f in WL_FLOORS for c in WL_CEILINGS),
    ),
    "WordLlama instead of MiniLM": ("wl",),
}


def held_out(recorded: dict, vectors: tuple) -> dict:
    """loko.folds with the given vector choices: each base's figures under its fold's
    parameters, and its ranking ceiling (best entry right, no hand-off)."""
    loko.VECTORS = vectors
    started = time.perf_counter()
    chosen = loko.folds(recorded)
    rows = {}
    for slug in recorded:
        params = chosen[slug]["params"]
        arrays = base_arrays(recorded[slug])
        p = dict(params)
        threshold, margin = p.pop("threshold"), p.pop("margin")
        confidence, correct = loko.best(arrays, scores(arrays, **p), margin)
        answerable = arrays["expect"] >= 0
        answered = confidence >= threshold
        rows[slug] = {
            "top1": [int((answered & correct & answerable).sum()), int(answerable.sum())],
            "handoff": [int((~answered & ~answerable).sum()), int((~answerable).sum())],
            "ceiling": [int((correct & answerable).sum()), int(answerable.sum())],
            "params": params,
            "training": chosen[slug]["training"],
            "right": (answered & correct & answerable).tolist(),
            "handed_off": (~answered).tolist(),
            "answerable": answerable.tolist(),
        }
    return {"rows": rows, "all": chosen["all bases"], "seconds": time.perf_counter() - started}


def ranking_ceiling(recorded: dict, vectors: tuple) -> dict:
    """Leave-one-base-out for ranking alone: per fold, the point with the best mean share of
    answerable questions whose best entry is right (training bases), applied to the held-out
    base."""
    loko.VECTORS = vectors
    bases = {slug: base_arrays(b) for slug, b in recorded.items()}
    points = [p for p in loko.grid() if p[5] > p[4] and p[6] == 0.0]  # the lead: no effect
    right = {}
    for slug, arrays in bases.items():
        answerable = arrays["expect"] >= 0
        values = []
        for *key, _margin in points:
            _, correct = loko.best(arrays, scores(arrays, *key))
            values.append((correct & answerable).sum() / answerable.sum())
        right[slug] = np.array(values)
    out = {}
    for slug in bases:
        training = [s for s in bases if s != slug]
        point = int(np.argmax(np.mean([right[s] for s in training], axis=0)))
        answerable = int((bases[slug]["expect"] >= 0).sum())
        out[slug] = {"right": [round(float(right[slug][point]) * answerable), answerable],
                     "point": points[point]}  # fmt: skip
    return out


def paired(before: dict, after: dict) -> str:
    """Answerable questions newly right / no longer right; unanswerable ones newly handed off /
    no longer handed off (external bases)."""
    gained = lost = handed = unhanded = 0
    for slug, a in after.items():
        if slug == SHOP:
            continue
        b = before[slug]
        for ok_b, ok_a, off_b, off_a, answerable in zip(
            b["right"], a["right"], b["handed_off"], a["handed_off"], a["answerable"], strict=True
        ):
            if answerable:
                gained += ok_a and not ok_b
                lost += ok_b and not ok_a
            else:
                handed += off_a and not off_b
                unhanded += off_b and not off_a
    return (f"answerable +{gained} -{lost} (net {gained - lost:+d}); unanswerable handed off "
            f"+{handed} -{unhanded}")  # fmt: skip


def pooled(rows: dict, key: str) -> tuple[int, int]:
    got = sum(r[key][0] for s, r in rows.items() if s != SHOP)
    total = sum(r[key][1] for s, r in rows.items() if s != SHOP)
    return got, total


def pct(pair) -> str:
    return f"{pair[0] / pair[1]:6.1%} ({pair[0]:>3}/{pair[1]:>3})"


def analyse(recorded: dict, meta: dict | None):
    if meta:
        print(
            f"WordLlama l2_supercat 256: table {meta['table_shape']} float32 "
            f"{meta['table_mb']:.1f} MB, max RSS growth at load {meta['rss_growth_mb']:.1f} MB, "
            f"load {meta['load_s']:.2f} s; embed one text: mean {meta['embed_ms_mean']:.3f} ms, "
            f"p50 {meta['embed_ms_p50']:.3f} ms, p95 {meta['embed_ms_p95']:.3f} ms "
            f"({meta['queries']} distinct query texts)"
        )
    all_cos = {"MiniLM": [], "WordLlama": []}
    for base in recorded.values():
        for q in base["questions"]:
            all_cos["MiniLM"] += q["cos"]["plain"]["qa"]
            all_cos["WordLlama"] += q["cos"]["plain"]["wl"]
    for name, values in all_cos.items():
        v = np.array(values)
        print(f"{name} cosines (all question x entry pairs): " + ", ".join(
            f"p{p} {np.percentile(v, p):.2f}" for p in (1, 10, 50, 90, 99, 100)))  # fmt: skip
    results = {}
    for name, vectors in VARIANTS.items():
        result = held_out(recorded, vectors)
        result["ranking"] = ranking_ceiling(recorded, vectors)
        results[name] = result
        rows = result["rows"]
        print(f"\n{name}: {len(vectors)} vector choice(s), folds in {result['seconds']:.0f} s")
        print(f"  {'held-out base':<18} {'top-1':>16} {'handed off':>16} {'ceiling (fold)':>17}"
              f" {'ceiling (ranking LOKO)':>22}  vector chosen")  # fmt: skip
        for slug, r in rows.items():
            print(
                f"  {slug:<18} {pct(r['top1'])} {pct(r['handoff'])} {pct(r['ceiling'])} "
                f"{pct(result['ranking'][slug]['right']):>22}  {r['params']['vector']} "
                f"share={r['params']['share']} thr={r['params']['threshold']}"
            )
        ranking = {s: {"right": v["right"]} for s, v in result["ranking"].items()}
        print(
            f"  {'pooled (external)':<18} {pct(pooled(rows, 'top1'))} "
            f"{pct(pooled(rows, 'handoff'))} {pct(pooled(rows, 'ceiling'))} "
            f"{pct(pooled(ranking, 'right')):>22}"
        )
        if name != BASELINE:
            print(
                "  against the baseline, question by question (external bases): "
                + paired(results[BASELINE]["rows"], rows)
            )
        p = result["all"]["params"]
        print(f"  chosen on all nine: vector={p['vector']} share={p['share']} "
              f"cosine=[{p['floor']}, {p['ceiling']}] margin={p['margin']} "
              f"threshold={p['threshold']} (in-sample {result['all']['training']})")  # fmt: skip
    return results


def main() -> int:
    if os.environ.get("WL_EXPERIMENT_CHILD"):
        sys.path.insert(0, str(ROOT))
        Path(os.environ["WL_EXPERIMENT_OUT"]).write_text(json.dumps(record_here()))
        return 0
    if "--from" in sys.argv:
        data = json.loads(Path(sys.argv[sys.argv.index("--from") + 1]).read_text())
    else:
        scratch = Path(tempfile.mkdtemp())
        out = (
            Path(sys.argv[sys.argv.index("--record") + 1])
            if "--record" in sys.argv
            else scratch / "recorded.json"
        )
        env = os.environ | {
            "WL_EXPERIMENT_CHILD": "1",
            "WL_EXPERIMENT_OUT": str(out),
            "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret"),
            "SQLITE_PATH": str(scratch / "bench.sqlite3"),
            "LOG_LEVEL": "WARNING",
        }
        env.pop("DATABASE_URL", None)
        env.pop("BOT_LLM_URL", None)
        run = subprocess.run([sys.executable, __file__], env=env, cwd=ROOT)
        if run.returncode != 0:
            return 1
        data = json.loads(out.read_text())
    analyse(data["recorded"], data.get("wordllama"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
