"""The injection classifier: a small network (or logistic regression) on MiniLM embeddings.

Its weights and calibrated thresholds ship in `model.json` beside this module, written by
`python -m tripoint.guardrails.injection.training`. A long text is scored in windows of 64
tokens and judged by its worst window: instructions that fill most of a window are caught
anywhere in a document, while one short sentence inside a long paragraph is diluted (the
measured accuracy is on prompt-length inputs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

import numpy as np
import numpy.typing as npt

from tripoint.errors import ConfigError
from tripoint.guardrails.finding import Finding
from tripoint.guardrails.injection.embedder import Embedder, Vectors
from tripoint.guardrails.injection.rules import InjectionRules

MODEL_FILE = "model.json"


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
        )

    def threshold(self, target_fpr: float) -> float:
        key = f"{target_fpr:g}"
        if key not in self.thresholds:
            raise ConfigError([f"guardrails: no threshold calibrated for FPR {key}"])
        return self.thresholds[key]


class InjectionDetector:
    """Rules first (cheap, certain), then the classifier on every window of the text."""

    name = "injection"

    def __init__(
        self,
        embedder: Embedder | None,
        model: ScoreModel | None,
        threshold: float,
        batch: int = 16,
        min_words: int = 4,
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

    def score(self, text: str) -> float:
        """The classifier's score of the text's most suspicious window (0 without one)."""
        if self._embedder is None or self._model is None:
            return 0.0
        if len(text.split()) < self._min_words:
            return 0.0
        windows = self._embedder.windows(text)
        return max(
            float(self._model.scores(self._embedder.embed(windows[i : i + self._batch])).max())
            for i in range(0, len(windows), self._batch)
        )

    def find(self, text: str) -> list[Finding]:
        ruled = self._rules.find(text)
        if ruled:
            return ruled
        score = self.score(text)
        if score >= self._threshold:
            return [Finding("injection:classifier", 0, len(text), score)]
        return []
