"""Config to runtime guardrails; heavy models (Presidio, MiniLM) are loaded once and shared."""

from __future__ import annotations

from tripoint.config.guardrails import (
    CanaryCheck,
    Check,
    GuardrailSettings,
    InjectionCheck,
    PiiCheck,
    SecretsCheck,
)
from tripoint.guardrails.canary import CanaryDetector
from tripoint.guardrails.finding import Detector
from tripoint.guardrails.guardrail import Guardrail
from tripoint.guardrails.injection.classifier import InjectionDetector, ScoreModel
from tripoint.guardrails.injection.embedder import Embedder, MiniLMEmbedder
from tripoint.guardrails.pii import PiiDetector, load_analyzer
from tripoint.guardrails.secrets import (
    PROVIDER_PATTERNS,
    SecretDetector,
    detect_secrets_patterns,
)


class _Models:
    """What several checks can share: one analyzer per entity set, one embedder."""

    def __init__(self, settings: GuardrailSettings) -> None:
        self._settings = settings
        self._analyzers: dict[frozenset[str], object] = {}
        self._embedder: Embedder | None = None
        self._model: ScoreModel | None = None

    def analyzer(self, entities: tuple[str, ...]) -> object:
        key = frozenset(entities)
        if key not in self._analyzers:
            self._analyzers[key] = load_analyzer(entities)
        return self._analyzers[key]

    def classifier(self) -> tuple[Embedder, ScoreModel]:
        if self._embedder is None or self._model is None:
            threads = self._settings.classifier_threads
            self._embedder, self._model = MiniLMEmbedder(threads=threads), ScoreModel.load()
        return self._embedder, self._model


def build_guardrails(settings: GuardrailSettings) -> dict[str, Guardrail]:
    """Every configured check, ready to run (slow: loads models; call off the event loop)."""
    models = _Models(settings)
    return {
        name: _guardrail(name, check, settings, models) for name, check in settings.checks.items()
    }


def _guardrail(name: str, check: Check, settings: GuardrailSettings, models: _Models) -> Guardrail:
    detector = _detector(check, settings, models)
    whole_text = isinstance(check, InjectionCheck | CanaryCheck)
    return Guardrail(
        name=name,
        detector=detector,
        action=check.action,
        redaction="" if whole_text else check.redaction,  # type: ignore[union-attr]
        directions=frozenset(check.on),
        roles=frozenset(check.roles) if isinstance(check, InjectionCheck) else None,
        fail_closed=check.on_error == "block",
        timeout=check.timeout,
        redacts=not whole_text,
    )


def _detector(check: Check, settings: GuardrailSettings, models: _Models) -> Detector:
    hold = settings.window_chars
    match check:
        case PiiCheck():
            analyzer = models.analyzer(check.entities)
            return PiiDetector(analyzer, check.entities, check.score_threshold, hold)  # type: ignore[arg-type]
        case SecretsCheck():
            patterns = PROVIDER_PATTERNS + detect_secrets_patterns()
            return SecretDetector(patterns, check.allowlist, hold)
        case InjectionCheck():
            if not check.classifier:
                return InjectionDetector(None, None, 1.0)
            embedder, model = models.classifier()
            threshold = check.threshold or model.threshold(check.target_fpr)
            return InjectionDetector(embedder, model, threshold)
        case CanaryCheck():
            return CanaryDetector("")  # replaced per call by one carrying that call's token
