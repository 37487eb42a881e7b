"""The model directory: list, add and remove local models (GGUF files, ONNX directories).

A GGUF model is one `NAME.gguf` file; an ONNX embedding model is a directory `NAME/` with
`model.onnx` and `tokenizer.json` (or `vocab.txt`). Names never address anything outside.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from tripoint.engine.errors import EngineError
from tripoint.engine.onnx_files import MODEL_FILE, TOKENIZER_FILES
from tripoint.engine.spec import Kind

GGUF_MAGIC = b"GGUF"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class CatalogError(EngineError):
    """A model cannot be added or removed (bad name, wrong format, missing, exists)."""


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    kind: Kind
    path: Path
    size: int  # bytes


def list_models(model_dir: Path) -> list[Entry]:
    if not model_dir.is_dir():
        return []
    entries = [
        _entry(path) for path in sorted(model_dir.iterdir()) if not path.name.startswith(".")
    ]
    return [e for e in entries if e is not None]


def add_model(model_dir: Path, source: Path, name: str | None = None) -> Entry:
    """Copy a `.gguf` file, an ONNX model directory, or a `.onnx` file with its tokenizer
    beside it into the model directory."""
    if source.is_file() and source.suffix == ".gguf":
        with source.open("rb") as f:
            if f.read(4) != GGUF_MAGIC:
                raise CatalogError(f"{source} is not a GGUF file")
        target = model_dir / f"{_checked(source.stem if name is None else name)}.gguf"
        _refuse_existing(target)
        model_dir.mkdir(parents=True, exist_ok=True)
        _copy_file(source, target)
    else:
        folder = source.parent if source.is_file() and source.suffix == ".onnx" else source
        if not (folder / MODEL_FILE).is_file():
            raise CatalogError(f"{source}: expected a .gguf file or a folder with {MODEL_FILE}")
        tokenizers = [folder / t for t in TOKENIZER_FILES if (folder / t).is_file()]
        if not tokenizers:
            raise CatalogError(f"{folder} has no {' or '.join(TOKENIZER_FILES)}")
        target = model_dir / _checked(folder.name if name is None else name)
        _refuse_existing(target)
        staging = model_dir / f".{target.name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for path in [folder / MODEL_FILE, *tokenizers]:
            shutil.copyfile(path, staging / path.name)
        staging.rename(target)
    entry = _entry(target)
    if entry is None:
        raise CatalogError(f"{target} was not added")
    return entry


def remove_model(model_dir: Path, name: str) -> Entry:
    for entry in list_models(model_dir):
        if name in (entry.name, entry.path.name):
            if entry.path.is_dir():
                shutil.rmtree(entry.path)
            else:
                entry.path.unlink()
            return entry
    raise CatalogError(f"no model named {name!r} in {model_dir}")


def _entry(path: Path) -> Entry | None:
    if path.is_file() and path.suffix == ".gguf":
        return Entry(path.stem, Kind.GENERATE, path, path.stat().st_size)
    if path.is_dir() and (path / MODEL_FILE).is_file():
        size = sum(p.stat().st_size for p in path.iterdir() if p.is_file())
        return Entry(path.name, Kind.EMBED, path, size)
    return None


def _checked(name: str) -> str:
    if not _NAME.match(name) or ".." in name:
        raise CatalogError(
            f"{name!r} is not a model name (letters, digits, '.', '_', '-'; no paths)"
        )
    return name


def _refuse_existing(target: Path) -> None:
    if target.exists():
        raise CatalogError(f"{target.name} already exists; remove it first")


def _copy_file(source: Path, target: Path) -> None:
    partial = target.with_name(f".{target.name}.partial")
    shutil.copyfile(source, partial)
    partial.rename(target)  # atomic: a half-copied model is never listed or loaded
