"""The model directory: what `tripoint models list|add|remove` do."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.engine.models import stories
from tripoint.cli import main
from tripoint.engine import Kind
from tripoint.engine.catalog import CatalogError, add_model, list_models, remove_model


def onnx_folder(tmp_path: Path, *, tokenizer: bool = True) -> Path:
    folder = tmp_path / "src" / "mini"
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(b"onnx")
    if tokenizer:
        (folder / "vocab.txt").write_text("[PAD]\n")
    return folder


def test_adds_lists_and_removes_a_gguf_file(tmp_path: Path) -> None:
    models = tmp_path / "models"

    added = add_model(models, stories(), name="tiny")
    listed = list_models(models)
    removed = remove_model(models, "tiny")

    assert (added.name, added.kind, added.path) == ("tiny", Kind.GENERATE, models / "tiny.gguf")
    assert listed == [added]
    assert removed == added
    assert list_models(models) == []


def test_adds_an_onnx_folder_with_its_tokenizer(tmp_path: Path) -> None:
    entry = add_model(tmp_path / "models", onnx_folder(tmp_path) / "model.onnx")

    assert entry.kind is Kind.EMBED
    assert sorted(p.name for p in entry.path.iterdir()) == ["model.onnx", "vocab.txt"]


def test_refuses_an_onnx_model_without_a_tokenizer(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="tokenizer"):
        add_model(tmp_path / "models", onnx_folder(tmp_path, tokenizer=False))


def test_refuses_a_file_that_is_not_gguf(tmp_path: Path) -> None:
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"not a model")

    with pytest.raises(CatalogError, match="not a GGUF"):
        add_model(tmp_path / "models", fake)


@pytest.mark.parametrize("name", ["../escape", "a/b", ".hidden", "..", ""])
def test_names_cannot_address_paths(tmp_path: Path, name: str) -> None:
    with pytest.raises(CatalogError, match="not a model name"):
        add_model(tmp_path / "models", stories(), name=name)

    assert not (tmp_path / "escape.gguf").exists()


def test_remove_refuses_names_outside_the_directory(tmp_path: Path) -> None:
    models = tmp_path / "models"
    add_model(models, stories(), name="tiny")
    shutil.copyfile(stories(), tmp_path / "outside.gguf")

    with pytest.raises(CatalogError, match="no model named"):
        remove_model(models, "../outside")

    assert (tmp_path / "outside.gguf").exists()


def test_refuses_to_overwrite_an_existing_model(tmp_path: Path) -> None:
    add_model(tmp_path / "models", stories(), name="tiny")

    with pytest.raises(CatalogError, match="already exists"):
        add_model(tmp_path / "models", stories(), name="tiny")


def test_cli_manages_the_model_directory(tmp_path: Path) -> None:
    runner = CliRunner()
    folder = str(tmp_path / "models")

    added = runner.invoke(main, ["models", "add", str(stories()), "--model-dir", folder])
    listed = runner.invoke(main, ["models", "list", "--model-dir", folder])
    removed = runner.invoke(main, ["models", "remove", "stories260K", "--model-dir", folder])
    missing = runner.invoke(main, ["models", "remove", "stories260K", "--model-dir", folder])

    assert added.exit_code == 0, added.output
    assert "stories260K\tgenerate" in listed.output
    assert removed.exit_code == 0
    assert missing.exit_code == 1
    assert "no model named" in missing.output
