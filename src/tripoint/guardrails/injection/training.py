"""Train the injection classifier and calibrate its thresholds; writes `model.json`.

    python -m tripoint.guardrails.injection.training

Reproducible: fixed corpora and splits (corpus.py), a deterministic Newton fit of an
L2-regularised logistic regression, thresholds from validation data only. Each threshold
keeps the false-positive rate at or under its target on all benign validation prompts and,
separately, on the attack-sounding benign ones, since flagging normal users is the failure
that matters most.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tripoint.guardrails.injection import corpus
from tripoint.guardrails.injection.classifier import MODEL_FILE
from tripoint.guardrails.injection.embedder import MiniLMEmbedder, Vectors

TARGET_FPRS = (0.01, 0.05)
L2 = 1e-3  # per-example weight decay: small, the embedding is already normalised
Floats = npt.NDArray[np.float64]


def embed_all(embedder: MiniLMEmbedder, texts: Sequence[str], batch: int = 32) -> Vectors:
    """Embeddings in input order; batched by length so little time goes on padding."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), 384), dtype=np.float32)
    for i in range(0, len(order), batch):
        rows = order[i : i + batch]
        out[rows] = embedder.embed([texts[r] for r in rows])
    return out


def fit(x: Vectors, y: Floats, l2: float = L2, steps: int = 30) -> tuple[Floats, float]:
    """Class-balanced logistic regression by Newton's method (385 parameters: exact, fast)."""
    n, d = x.shape
    design = np.hstack([x.astype(np.float64), np.ones((n, 1))])
    positives = max(float(y.sum()), 1.0)
    sample = np.where(y == 1, n / (2 * positives), n / (2 * max(n - positives, 1.0)))
    theta = np.zeros(d + 1)
    decay = np.full(d + 1, l2 * n)
    decay[-1] = 0.0  # the bias is not shrunk
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(design @ theta)))
        gradient = design.T @ (sample * (p - y)) + decay * theta
        hessian = (design * (sample * p * (1 - p))[:, None]).T @ design + np.diag(decay)
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.abs(step).max() < 1e-8:
            break
    return theta[:-1], float(theta[-1])


def threshold_for(scores: Floats, target_fpr: float) -> float:
    """The smallest threshold whose false-positive rate on `scores` (benign) is <= target."""
    ordered = np.sort(scores)[::-1]
    allowed = int(np.floor(target_fpr * len(ordered)))
    return float(np.nextafter(ordered[allowed], 1.0)) if allowed < len(ordered) else 0.0


def scores_of(weights: Floats, bias: float, x: Vectors) -> Floats:
    return 1.0 / (1.0 + np.exp(-(x.astype(np.float64) @ weights + bias)))


def embedded(
    embedder: MiniLMEmbedder, split: corpus.Split, cache: Path | None
) -> tuple[list[corpus.Example], Vectors]:
    """A split and its embeddings; with `cache`, embeddings are kept keyed by the texts."""
    examples = corpus.load(split)
    texts = [e.text for e in examples]
    digest = hashlib.sha256("\x00".join([embedder.model_id, *texts]).encode()).hexdigest()[:16]
    path = cache / f"{split}-{digest}.npy" if cache else None
    if path is not None and path.exists():
        return examples, np.load(path)
    vectors = embed_all(embedder, texts)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
    return examples, vectors


def main(argv: Sequence[str] = ()) -> int:
    """Options: `--cache DIR` keeps embeddings between runs; `--out FILE` writes elsewhere."""
    options = dict(zip(argv[::2], argv[1::2], strict=False))
    cache = Path(options["--cache"]) if "--cache" in options else None
    started = time.perf_counter()
    embedder = MiniLMEmbedder(threads=2)
    train, x_train = embedded(embedder, "train", cache)
    validation, x_val = embedded(embedder, "validation", cache)
    y_train = np.array([e.label for e in train], dtype=np.float64)
    weights, bias = fit(x_train, y_train)
    val = scores_of(weights, bias, x_val)
    benign = np.array([e.label == 0 for e in validation])
    hard = np.array([e.hard for e in validation])
    thresholds = {
        f"{fpr:g}": max(threshold_for(val[benign], fpr), threshold_for(val[hard], fpr))
        for fpr in TARGET_FPRS
    }
    attacks = val[~benign]
    model = {
        "embedding": embedder.model_id,
        "weights": [round(float(w), 6) for w in weights],
        "bias": round(bias, 6),
        "thresholds": thresholds,
        "trained_on": {"train": len(train), "validation": len(validation)},
        "validation_tpr": {k: float((attacks >= t).mean()) for k, t in thresholds.items()},
    }
    target = Path(options.get("--out", Path(__file__).with_name(MODEL_FILE)))
    target.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    elapsed = time.perf_counter() - started
    sys.stdout.write(
        f"wrote {target} ({len(train)} train, {len(validation)} validation, {elapsed:.0f}s)\n"
        f"thresholds {thresholds}; validation TPR {model['validation_tpr']}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
