"""Sentence embeddings through ONNX Runtime: tokenize, run, mean-pool over the mask, normalise.

This is the sentence-transformers pipeline of all-MiniLM-L6-v2 (and models like it) without
PyTorch. A model directory holds `model.onnx` and `tokenizer.json` (or a BERT `vocab.txt`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer
from tokenizers.implementations.base_tokenizer import BaseTokenizer
from tokenizers.implementations.bert_wordpiece import BertWordPieceTokenizer

from tripoint.engine.errors import ModelLoadError
from tripoint.engine.onnx_files import MODEL_FILE
from tripoint.engine.spec import Embeddings, ModelSpec


class ONNXEmbedder:
    """One loaded instance; ONNX Runtime sessions are thread-safe, but one thread owns it."""

    def __init__(self, spec: ModelSpec) -> None:
        model = spec.path / MODEL_FILE
        if not model.is_file():
            raise ModelLoadError(f"{model} does not exist")
        self._tokenizer = load_tokenizer(spec.path, spec.context)
        options = ort.SessionOptions()
        options.intra_op_num_threads = spec.threads
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                str(model), options, providers=["CPUExecutionProvider"]
            )
        except (RuntimeError, ValueError) as exc:  # ORT raises its own RuntimeError subclasses
            raise ModelLoadError(f"cannot load {model}: {exc}") from None
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._batch = spec.batch

    def embed(self, texts: Sequence[str]) -> Embeddings:
        vectors: list[list[float]] = []
        tokens = 0
        for start in range(0, len(texts), self._batch):
            batch, used = self.embed_batch(texts[start : start + self._batch])
            vectors.extend(batch.tolist())
            tokens += used
        return Embeddings(vectors, tokens)

    def embed_batch(self, texts: Sequence[str]) -> tuple[np.ndarray, int]:
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(hidden.dtype)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.clip(norms, 1e-12, None), int(mask.sum())


def load_tokenizer(directory: Path, max_length: int) -> Tokenizer | BaseTokenizer:
    """The model's tokenizer, truncating at `max_length` and padding to the longest input."""
    tokenizer: Tokenizer | BaseTokenizer
    try:
        if (directory / "tokenizer.json").is_file():
            tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        elif (directory / "vocab.txt").is_file():
            tokenizer = BertWordPieceTokenizer(str(directory / "vocab.txt"), lowercase=True)
        else:
            raise ModelLoadError(f"{directory} has neither tokenizer.json nor vocab.txt")
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelLoadError(f"cannot load the tokenizer in {directory}: {exc}") from None
    tokenizer.enable_truncation(max_length)
    padding = tokenizer.padding or {}
    tokenizer.enable_padding(
        pad_id=int(padding.get("pad_id", 0)), pad_token=str(padding.get("pad_token", "[PAD]"))
    )
    return tokenizer
