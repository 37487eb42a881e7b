"""The injection classifier: a small network (or logistic regression) on MiniLM embeddings.

Its weights, its cheap gate (prefilter.py) and calibrated thresholds ship in `model.json`
beside this module, written by `python -m tripoint.guardrails.injection.training`. A text is
tokenized once and cut into windows of 64 tokens; the gate scores every window from its token
ids, and only the windows it finds suspicious go through the encoder, in one batch. The text
is judged by its worst window: instructions that fill most of a window are caught anywhere in
a document, while one short sentence inside a long paragraph is diluted (the measured
accuracy is on prompt-length inputs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

import numpy as np
import numpy.typing as npt

from tripoint.errors import ConfigError
from tripoint.guardrails.finding import Finding
from tripoint.guardrails.injection.embedder import Embedder, Ids, Vectors
from tripoint.guardrails.injection.prefilter import Prefilter
from tripoint.guardrails.injection.rules import InjectionRules
from tripoint.guardrails.verdict_cache import VerdictCache

MODEL_FILE = "model.json"
WINDOW = 64  # tokens per window: an attack is not diluted by a long text around it
MIN_WORDS = 4  # shorter texts get the rules only
CACHE_SIZE = 4096  # texts whose verdicts are kept (a conversation's history, many callers)


@dataclass(frozen=True, slots=True)
class Layer:
    weights: npt.NDArray[np.float64]  # (inputs, outputs)
    bias: npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ScoreModel:
    """Dense layers with ReLU between them and a sigmoid at the end; one layer is a logistic
    regression."""

    layers: tuple[Layer, ...]
    thresholds: dict[str, float]  # target false-positive rate -> score threshold
    embedding: str
    prefilter: Prefilter | None = None  # None: the encoder sees every window

    def scores(self, vectors: Vectors) -> npt.NDArray[np.float64]:
        hidden = vectors.astype(np.float64)
        for i, layer in enumerate(self.layers):
            hidden = hidden @ layer.weights + layer.bias
            if i < len(self.layers) - 1:
                hidden = np.maximum(hidden, 0.0)
        logits = np.clip(hidden[:, 0], -60, 60)
        scores: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-logits))
        return scores

    @classmethod
    def load(cls) -> ScoreModel:
        text = resources.files(__package__).joinpath(MODEL_FILE).read_text(encoding="utf-8")
        raw = json.loads(text)
        layers = tuple(
            Layer(
                np.asarray(layer["weights"], dtype=np.float64),
                np.asarray(layer["bias"], dtype=np.float64),
            )
            for layer in raw["layers"]
        )
        return cls(
            layers=layers,
            thresholds={str(k): float(v) for k, v in raw["thresholds"].items()},
            embedding=str(raw["embedding"]),
            prefilter=Prefilter.from_json(raw["prefilter"]) if "prefilter" in raw else None,
        )

    def threshold(self, target_fpr: float) -> float:
        key = f"{target_fpr:g}"
        if key not in self.thresholds:
            raise ConfigError([f"guardrails: no threshold calibrated for FPR {key}"])
        return self.thresholds[key]


def window_spans(tokens: int, size: int = WINDOW) -> list[tuple[int, int]]:
    """Token ranges covering `tokens` tokens, each at most `size` long; neighbours overlap by
    a quarter, so a phrase cut by one window's end is whole in the next."""
    if tokens <= size:
        return [(0, tokens)]
    overlap = size // 4
    return [(i, min(i + size, tokens)) for i in range(0, tokens - overlap, size - overlap)]


def batches(pieces: list[Ids], size: int) -> list[list[Ids]]:
    """Runs of at most `size` pieces of one length, in order: a batch is padded to its
    longest piece and the encoder's cost is per padded token, so a short tail window rides
    alone rather than padded to a full one (batching saves little on a CPU)."""
    out: list[list[Ids]] = []
    for piece in pieces:
        if out and len(out[-1]) < size and len(out[-1][0]) == len(piece):
            out[-1].append(piece)
        else:
            out.append([piece])
    return out


class InjectionDetector:
    """Rules first (cheap, certain), then the classifier on the windows the gate lets by.

    Verdicts are memoised per text (bounded LRU, owned by this detector): the history a chat
    resends each turn is judged once.
    """

    name = "injection"

    def __init__(
        self,
        embedder: Embedder | None,
        model: ScoreModel | None,
        threshold: float,
        batch: int = 4,
        min_words: int = MIN_WORDS,
        *,
        gate: bool = True,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        if embedder is not None and model is not None and model.embedding != embedder.model_id:
            raise ConfigError(
                [f"guardrails: classifier trained on {model.embedding}, not {embedder.model_id}"]
            )
        self._rules = InjectionRules()
        self._embedder = embedder
        self._model = model
        self._threshold = threshold
        self._batch = batch
        # A turn of a few words ("ok", "continue") carries no smuggled instruction the rules
        # miss, and is where an embedding classifier is least reliable: rules only.
        self._min_words = min_words
        self._prefilter = model.prefilter if model is not None and gate else None
        self._cache = VerdictCache(cache_size)

    def score(self, text: str, stop_at: float | None = None) -> float:
        """The classifier's score of the text's most suspicious window (0 without one, or
        when the gate finds no window suspicious). With `stop_at`, the windows the gate
        likes least wait, and scoring stops at the first batch that reaches it: a verdict
        needs one window over the threshold, not the worst."""
        embedder, model = self._embedder, self._model
        if embedder is None or model is None or len(text.split()) < self._min_words:
            return 0.0
        ids = embedder.token_ids(text)
        pieces: list[Ids] = [ids[start:end] for start, end in window_spans(len(ids))]
        if self._prefilter is not None:
            gate = self._prefilter.scores(pieces)
            order = np.argsort(-gate, kind="stable")
            pieces = [pieces[i] for i in order if gate[i] >= self._prefilter.threshold]
        worst = 0.0
        for batch in batches(pieces, self._batch):
            worst = max(worst, float(model.scores(embedder.embed_ids(batch)).max()))
            if stop_at is not None and worst >= stop_at:
                break
        return worst

    def find(self, text: str) -> list[Finding]:
        return self._cache.get(text, self._judge)

    def _judge(self, text: str) -> list[Finding]:
        ruled = self._rules.find(text)
        if ruled:
            return ruled
        score = self.score(text, stop_at=self._threshold)
        if score >= self._threshold:
            return [Finding("injection:classifier", 0, len(text), score)]
        return []
