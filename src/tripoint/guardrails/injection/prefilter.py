"""The classifier's cheap gate: a linear model on the MiniLM token ids of a window.

Its features are the window's token ids and hashed pairs of neighbouring ids (a bag of
words and bigrams that costs microseconds, where the encoder costs milliseconds per token).
Its threshold keeps 99% of the validation attacks, so it sends on most of what the encoder
would flag and lets the encoder skip most benign windows; a window is flagged only when both
agree, which also removes some of the encoder's false positives. Trained by training.py.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Ids = npt.NDArray[np.int64]
VOCABULARY = 30_522  # MiniLM's WordPiece vocabulary: unigram features are the ids themselves
BUCKETS = 1 << 16  # unigrams plus hashed bigrams
_PAIR = 1_000_003  # a prime: pairs (a, b) and (b, a) land in different buckets


def features(ids: Ids) -> Ids:
    """The distinct feature indices of one window (binary features: presence, not count)."""
    pairs = VOCABULARY + (ids[:-1] * _PAIR + ids[1:]) % (BUCKETS - VOCABULARY)
    found: Ids = np.unique(np.concatenate([ids, pairs]))
    return found


@dataclass(frozen=True, slots=True)
class Prefilter:
    weights: npt.NDArray[np.float32]  # one per bucket
    bias: float
    threshold: float  # windows scoring below it are benign without running the encoder

    def scores(self, pieces: Sequence[Ids]) -> npt.NDArray[np.float64]:
        return np.array(
            [float(self.weights[features(piece)].sum()) + self.bias for piece in pieces],
            dtype=np.float64,
        )

    def suspicious(self, pieces: Sequence[Ids]) -> list[int]:
        """Indices of the pieces the encoder must look at."""
        return [i for i, s in enumerate(self.scores(pieces)) if s >= self.threshold]

    def to_json(self) -> dict[str, object]:
        packed = base64.b64encode(self.weights.astype("<f2").tobytes()).decode("ascii")
        return {"weights_f16": packed, "bias": self.bias, "threshold": self.threshold}

    @classmethod
    def from_json(cls, raw: Mapping[str, object]) -> Prefilter:
        weights = np.frombuffer(base64.b64decode(str(raw["weights_f16"])), dtype="<f2")
        return cls(
            weights=weights.astype(np.float32),
            bias=float(str(raw["bias"])),
            threshold=float(str(raw["threshold"])),
        )
