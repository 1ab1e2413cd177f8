"""The numpy sentence encoder (knowledge/embedding.py) and the bot's ranking with it
(knowledge/semantic.py, `knowledge_rank`)."""

import shutil

import numpy as np
import pytest
from django.core.management import call_command

from knowledge import embedding, search, semantic
from knowledge.models import KnowledgeEntry
from knowledge.search import knowledge_rank

from .test_bot import bot_room, post

COUPON = "Type the code in the 'Discount code' box at checkout, then press Apply."
DRYER = "Wash at 30 degrees and hang to dry; tumble drying shrinks cotton."


@pytest.fixture(autouse=True)
def _fresh_matrices():
    semantic.matrices.clear()
    yield
    semantic.matrices.clear()


@pytest.fixture
def shop(alice):
    entries = [
        ("How do I apply a discount code?", COUPON),
        ("How should I wash my clothes?", DRYER),
        ("How long does shipping take?", "Standard shipping takes 3 to 5 business days."),
        ("What is your refund policy?", "You can return any item within 30 days."),
    ]
    return {
        q: KnowledgeEntry.objects.create(account=alice.user, question=q, answer=a)
        for q, a in entries
    }


def test_the_encoder_gives_the_models_published_similarities():
    # sentence-transformers' documentation prints these for all-MiniLM-L6-v2 (its quickstart):
    # 0.6660, 0.1046 and 0.1411.
    vectors = embedding.encoder().encode(
        ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    )
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarities = vectors @ vectors.T
    assert similarities[0, 1] == pytest.approx(0.6660, abs=5e-4)
    assert similarities[0, 2] == pytest.approx(0.1046, abs=5e-4)
    assert similarities[1, 2] == pytest.approx(0.1411, abs=5e-4)


def test_a_batch_encodes_each_text_as_alone():
    texts = ["Hi", "How long does shipping take to Canada and the United States?"]
    together = embedding.encoder().encode(texts)  # padded to the longer one, masked
    for text, vector in zip(texts, together, strict=True):
        assert np.allclose(embedding.encoder().encode([text])[0], vector, atol=1e-5)


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
    tmp_path, settings, monkeypatch, alice, shop
):
    for name in ("model.safetensors", "vocab.txt"):
        shutil.copy(embedding.model_dir() / name, tmp_path / name)
    with (tmp_path / "vocab.txt").open("a") as vocab:
        vocab.write("changed\n")
    settings.BOT_EMBEDDING_MODEL_DIR = str(tmp_path)
    monkeypatch.setattr(embedding, "_encoder", None)
    monkeypatch.setattr(embedding, "_failed", None)
    assert semantic.enabled()  # the files are there; they are checked when first used

    sent = post(alice, bot_room(alice.user), "How long does delivery take?")
    assert sent["support_answer"] == "Standard shipping takes 3 to 5 business days."
    assert post(alice, bot_room(alice.user), "Where do I put my coupon?")["terminated"] is True
    assert not semantic.enabled()
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
    KnowledgeEntry.objects.create(
        account=bob.user, question="How do I apply a discount code?", answer=COUPON
    )
    KnowledgeEntry.objects.create(
        account=alice.user, question="How long does shipping take?", answer="3 to 5 days."
    )
    # Bob's entry is the one that means "coupon"; Alice's ranking never holds it.
    [bobs] = knowledge_rank(account_id=bob.user.pk, text="Where do I put my coupon?", limit=1)
    assert bobs.entry.account_id == bob.user.pk
    assert all(
        m.entry.account_id == alice.user.pk
        for m in knowledge_rank(account_id=alice.user.pk, text="Where do I put my coupon?")
    )
    sent = post(alice, bot_room(alice.user), "Where do I put my coupon?")
    assert sent["terminated"] is True


def test_vectors_are_made_once_and_remade_when_the_text_changes(alice, shop, monkeypatch):
    encoded = []
    real = embedding.Encoder.encode
    monkeypatch.setattr(
        embedding.Encoder,
        "encode",
        lambda self, texts: encoded.append(len(texts)) or real(self, texts),
    )

    def ask(text):
        return knowledge_rank(account_id=alice.user.pk, text=text, limit=1)[0].entry.question

    assert ask("Where do I put my coupon?") == "How do I apply a discount code?"
    assert encoded == [4, 1]  # the four entries (no vectors yet), then the question
    stored = KnowledgeEntry.objects.get(question="How do I apply a discount code?").embedding
    assert len(stored) == semantic.DIGEST_BYTES + 384 * 4

    encoded.clear()
    assert ask("Can I put the hoodie in the dryer?") == "How should I wash my clothes?"
    assert encoded == [1]  # the vectors come from memory

    # An edit through the API: the entry's vector is remade from the new text.
    entry = shop["How should I wash my clothes?"]
    response = alice.client.patch(
        f"/api/v1/knowledge/{entry.uuid}/",
        {"question": "Gift wrapping", "answer": "Tick 'gift wrap' at checkout."},
        format="json",
    )
    assert response.status_code == 200
    encoded.clear()
    assert ask("Can you wrap a present for my mum?") == "Gift wrapping"
    assert encoded == [1, 1]  # the edited entry, the question
    assert KnowledgeEntry.objects.get(pk=entry.pk).embedding != stored

    # The tags are part of the vector's text: new tags, a new vector.
    gift = KnowledgeEntry.objects.get(pk=entry.pk)
    before = bytes(gift.embedding)
    response = alice.client.patch(
        f"/api/v1/knowledge/{entry.uuid}/", {"tags": ["present", "wrap"]}, format="json"
    )
    assert response.status_code == 200
    encoded.clear()
    assert ask("Can you wrap a present for my mum?") == "Gift wrapping"
    assert encoded == [1, 1]  # the re-tagged entry, the question
    after = bytes(KnowledgeEntry.objects.get(pk=entry.pk).embedding)
    assert after[: semantic.DIGEST_BYTES] != before[: semantic.DIGEST_BYTES]
    assert after[semantic.DIGEST_BYTES :] != before[semantic.DIGEST_BYTES :]

    # Rows written without the ORM's help (a bulk load) get theirs at the next question.
    KnowledgeEntry.objects.bulk_create(
        [KnowledgeEntry(account=alice.user, question="Do you sell gift cards?", answer="Yes.")]
    )
    encoded.clear()
    assert ask("Do you have gift cards?") == "Do you sell gift cards?"
    assert encoded == [1, 1]
    assert not KnowledgeEntry.objects.filter(embedding__isnull=True).exists()


def test_a_deleted_entry_leaves_the_ranking(alice, shop):
    assert knowledge_rank(account_id=alice.user.pk, text="coupon", limit=1)[0].entry.question == (
        "How do I apply a discount code?"
    )
    shop["How do I apply a discount code?"].delete()
    questions = [m.entry.question for m in knowledge_rank(account_id=alice.user.pk, text="coupon")]
    assert "How do I apply a discount code?" not in questions


def test_an_account_without_knowledge_is_not_encoded(alice, monkeypatch):
    monkeypatch.setattr(embedding.Encoder, "encode", lambda *a: pytest.fail("encoded"))
    assert knowledge_rank(account_id=alice.user.pk, text="Where do I put my coupon?") == []
    assert post(alice, bot_room(alice.user), "Hello?")["terminated"] is True


def test_import_makes_the_vectors_ahead(tmp_path, alice):
    path = tmp_path / "faq.json"
    path.write_text(
        '[{"question": "How do I apply a discount code?", "answer": "At checkout."},'
        ' {"question": "Do you sell gift cards?", "answer": "Yes."}]'
    )
    call_command("import_knowledge", str(path), account="alice", stdout=None)
    vectors = KnowledgeEntry.objects.filter(account=alice.user).values_list("embedding", flat=True)
    assert len(vectors) == 2 and all(len(v) == semantic.DIGEST_BYTES + 384 * 4 for v in vectors)


def test_a_lexical_match_missing_from_the_vectors_boosts_no_other_entry():
    """An entry committed between reading the vectors and the full-text query is left out of
    that answer; its score must not land on the entry beside it in id order."""
    from knowledge.search import Match, _with_similarities

    entries = {pk: KnowledgeEntry(pk=pk, question=f"q{pk}") for pk in (2, 5, 9)}
    floor, ceiling = search.COSINE_FLOOR, search.COSINE_CEILING
    # Cosines a quarter, half and three eighths of the way from the floor to the ceiling.
    cosines = np.array(
        [floor + (ceiling - floor) * f for f in (0.25, 0.5, 0.375)], dtype=np.float32
    )
    newcomer = KnowledgeEntry(pk=7, question="new")
    found = _with_similarities(
        np.array([2, 5, 9]),
        cosines,
        entries,
        [Match(entry=newcomer, confidence=1.0), Match(entry=entries[9], confidence=0.5)],
        limit=3,
    )
    assert [m.entry.pk for m in found] == [9, 5, 2]
    share = search.SEMANTIC_SHARE
    first, second = (1 - share) * 0.5 + share * 0.375, share * 0.5
    # The best entry's confidence adds its lead over the second (knowledge/search.py).
    lead = min(first + search.MARGIN_WEIGHT * (first - second), 1.0)
    assert found[0].confidence == pytest.approx(lead, abs=1e-4)
    assert found[1].confidence == pytest.approx(second, abs=1e-4)
    assert found[2].confidence == pytest.approx(share * 0.25, abs=1e-4)


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
