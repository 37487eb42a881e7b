"""Train the injection classifier and calibrate its thresholds; writes `model.json`.

    python -m tripoint.guardrails.injection.training [--cache DIR] [--hidden N] [--out FILE]

Reproducible: fixed corpora and splits (corpus.py) plus generated attack-sounding benign
prompts (augment.py), weighted up with the corpora's own, a seeded fit of a small network (one
ReLU layer, full-batch Adam). The cheap gate (prefilter.py) is a logistic regression on token
features of the same training texts (scikit-learn's deterministic L-BFGS); its threshold keeps
PREFILTER_RECALL of the validation attacks. Thresholds come from validation data only, scored
as the detector scores (64-token windows behind the gate): each keeps the false-positive rate
on benign validation prompts at or under its target. The rate on
attack-sounding benign prompts is written beside it and reported by the benchmark (that
subset is small and partly mislabelled: some "benign" rows carry adversarial suffixes, so it
is measured, not calibrated on).
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

from tripoint.guardrails.injection import augment, corpus
from tripoint.guardrails.injection.classifier import MIN_WORDS, MODEL_FILE, window_spans
from tripoint.guardrails.injection.embedder import MiniLMEmbedder, Vectors
from tripoint.guardrails.injection.prefilter import BUCKETS, Prefilter, features

TARGET_FPRS = (0.01, 0.05)
PREFILTER_RECALL = 0.99  # of validation attacks the gate sends on to the encoder
PREFILTER_C = 1.0  # inverse L2 strength of the gate's logistic regression
L2 = 1e-3  # per-example weight decay: small, the embedding is already normalised
HIDDEN = 64  # hidden units; 0 trains a logistic regression instead
HARD_EMPHASIS = 3.0  # attack-sounding benign prompts weigh this much more in training
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


def fit_mlp(
    x: Vectors,
    y: Floats,
    hidden: int,
    *,
    emphasis: Floats | None = None,
    epochs: int = 200,
    decay: float = 1e-4,
    seed: int = 0,
) -> list[tuple[Floats, Floats]]:
    """One ReLU hidden layer, class-balanced cross-entropy, full-batch Adam; seeded.
    `emphasis` multiplies examples' weights (hard negatives count more)."""
    rng = np.random.default_rng(seed)
    n, d = x.shape
    data = x.astype(np.float64)
    positives = max(float(y.sum()), 1.0)
    sample = np.where(y == 1, n / (2 * positives), n / (2 * max(n - positives, 1.0))) / n
    if emphasis is not None:
        sample = sample * emphasis
    params = [
        rng.normal(0, np.sqrt(2 / d), (d, hidden)),
        np.zeros(hidden),
        rng.normal(0, np.sqrt(1 / hidden), (hidden, 1)),
        np.zeros(1),
    ]
    moments = [np.zeros_like(p) for p in params]
    velocities = [np.zeros_like(p) for p in params]
    for step in range(1, epochs + 1):
        w1, b1, w2, b2 = params
        pre = data @ w1 + b1
        act = np.maximum(pre, 0.0)
        p = 1.0 / (1.0 + np.exp(-np.clip((act @ w2 + b2)[:, 0], -60, 60)))
        delta = (sample * (p - y))[:, None]
        back = (delta @ w2.T) * (pre > 0)
        grads = [
            data.T @ back + decay * w1,
            back.sum(axis=0),
            act.T @ delta + decay * w2,
            delta.sum(axis=0),
        ]
        for i, grad in enumerate(grads):  # Adam, lr 1e-2
            moments[i] = 0.9 * moments[i] + 0.1 * grad
            velocities[i] = 0.999 * velocities[i] + 0.001 * grad**2
            m_hat = moments[i] / (1 - 0.9**step)
            v_hat = velocities[i] / (1 - 0.999**step)
            params[i] = params[i] - 1e-2 * m_hat / (np.sqrt(v_hat) + 1e-8)
    return [(params[0], params[1]), (params[2], params[3])]


def fit_prefilter(
    embedder: MiniLMEmbedder,
    texts: Sequence[str],
    labels: Sequence[int],
    validation: Sequence[corpus.Example],
) -> Prefilter:
    """The gate: class-balanced logistic regression on each text's token features; the
    threshold is set on validation windows with the weights as shipped (float16)."""
    from scipy import sparse  # noqa: PLC0415 -- training only (the guardrails-train extra)
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    rows = [features(embedder.token_ids(t)) for t in texts]
    matrix = sparse.csr_matrix(
        (
            np.ones(sum(len(r) for r in rows), dtype=np.float32),
            (np.repeat(np.arange(len(rows)), [len(r) for r in rows]), np.concatenate(rows)),
        ),
        shape=(len(rows), BUCKETS),
    )
    model = LogisticRegression(C=PREFILTER_C, max_iter=3000, class_weight="balanced")
    model.fit(matrix, np.asarray(labels))
    weights = model.coef_[0].astype(np.float16).astype(np.float32)
    gate = Prefilter(weights, float(model.intercept_[0]), threshold=0.0)
    attacks = [e.text for e in validation if e.label == 1]
    worst = np.sort([_worst_window(gate, embedder, t) for t in attacks])
    threshold = float(worst[int(np.floor((1 - PREFILTER_RECALL) * len(worst)))])
    return Prefilter(weights, gate.bias, threshold)


def _worst_window(gate: Prefilter, embedder: MiniLMEmbedder, text: str) -> float:
    ids = embedder.token_ids(text)
    return float(gate.scores([ids[a:b] for a, b in window_spans(len(ids))]).max())


def runtime_scores(
    embedder: MiniLMEmbedder,
    layers: list[tuple[Floats, Floats]],
    gate: Prefilter,
    texts: Sequence[str],
) -> Floats:
    """Each text's score as the detector computes it, so thresholds are calibrated on what
    runs: 0 under MIN_WORDS words (rules only), else the worst window the gate sends on."""
    out = np.zeros(len(texts))
    for i, text in enumerate(texts):
        if len(text.split()) < MIN_WORDS:
            continue
        ids = embedder.token_ids(text)
        pieces = [ids[a:b] for a, b in window_spans(len(ids))]
        pieces = [pieces[j] for j in gate.suspicious(pieces)]
        if pieces:
            out[i] = float(mlp_scores(layers, embedder.embed_ids(pieces)).max())
    return out


def mlp_scores(layers: list[tuple[Floats, Floats]], x: Vectors) -> Floats:
    hidden = x.astype(np.float64)
    for i, (weights, bias) in enumerate(layers):
        hidden = hidden @ weights + bias
        if i < len(layers) - 1:
            hidden = np.maximum(hidden, 0.0)
    scores: Floats = 1.0 / (1.0 + np.exp(-np.clip(hidden[:, 0], -60, 60)))
    return scores


def threshold_for(scores: Floats, target_fpr: float) -> float:
    """The smallest threshold whose false-positive rate on `scores` (benign) is <= target."""
    ordered = np.sort(scores)[::-1]
    allowed = int(np.floor(target_fpr * len(ordered)))
    return float(np.nextafter(ordered[allowed], 1.0)) if allowed < len(ordered) else 0.0


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
    """Options: `--cache DIR` keeps embeddings between runs; `--out FILE` writes elsewhere;
    `--hidden N` sets the hidden layer's width (0: logistic regression)."""
    options = dict(zip(argv[::2], argv[1::2], strict=False))
    cache = Path(options["--cache"]) if "--cache" in options else None
    started = time.perf_counter()
    embedder = MiniLMEmbedder(threads=2)
    train, x_train = embedded(embedder, "train", cache)
    validation = corpus.load("validation")  # scored window by window below, as at run time
    extra = augment.benign_attack_sounding()
    x_train = np.concatenate([x_train, embed_all(embedder, extra)])
    y_train = np.array([e.label for e in train] + [0] * len(extra), dtype=np.float64)
    hard_train = np.array([e.hard for e in train] + [True] * len(extra))
    hidden = int(options.get("--hidden", HIDDEN))
    if hidden:
        emphasis = np.where(hard_train, HARD_EMPHASIS, 1.0)
        layers = fit_mlp(x_train, y_train, hidden, emphasis=emphasis)
    else:
        weights, bias = fit(x_train, y_train)
        layers = [(weights[:, None], np.array([bias]))]
    gate = fit_prefilter(
        embedder,
        [e.text for e in train] + extra,
        [e.label for e in train] + [0] * len(extra),
        validation,
    )
    shipped = [(np.round(w, 5), np.round(b, 5)) for w, b in layers]
    val = runtime_scores(embedder, shipped, gate, [e.text for e in validation])
    benign = np.array([e.label == 0 for e in validation])
    hard = np.array([e.hard for e in validation])
    thresholds = {f"{fpr:g}": threshold_for(val[benign], fpr) for fpr in TARGET_FPRS}
    attacks = val[~benign]
    model = {
        "embedding": embedder.model_id,
        "thresholds": thresholds,
        "trained_on": {
            "train": len(train),
            "augmented_benign": len(extra),
            "validation": len(validation),
        },
        "validation_tpr": {k: float((attacks >= t).mean()) for k, t in thresholds.items()},
        "validation_fpr_attack_sounding": {
            k: float((val[hard] >= t).mean()) for k, t in thresholds.items()
        },
        "layers": [{"weights": w.tolist(), "bias": b.tolist()} for w, b in shipped],
        "prefilter": gate.to_json(),
    }
    target = Path(options.get("--out", Path(__file__).with_name(MODEL_FILE)))
    target.write_text(json.dumps(model, separators=(",", ":")) + "\n", encoding="utf-8")
    elapsed = time.perf_counter() - started
    sys.stdout.write(
        f"wrote {target} ({len(train)} train, {len(validation)} validation, {elapsed:.0f}s)\n"
        f"thresholds {thresholds}; validation TPR {model['validation_tpr']}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
