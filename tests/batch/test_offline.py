"""`tripoint batch run`: a batch file through the configured pipeline, without a server."""

from __future__ import annotations

from pathlib import Path

import orjson
from click.testing import CliRunner, Result

from tests.fakes.openai_upstream import FakeOpenAI
from tripoint.cli import main


def files(tmp_path: Path, upstream: FakeOpenAI, count: int) -> tuple[Path, Path, Path]:
    config = tmp_path / "tripoint.yaml"
    config.write_text(
        f"""
server: {{data_dir: {tmp_path / "data"}}}
backends:
  fake: {{type: openai, base_url: "{upstream.base_url}", pattern: self_hosted}}
models:
  chat-default: {{targets: [{{backend: fake, model: upstream-chat}}]}}
"""
    )
    source = tmp_path / "in.jsonl"
    rows = [
        orjson.dumps(
            {
                "custom_id": f"c{i}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {"model": "ignored", "messages": [{"role": "user", "content": "Hi"}]},
            }
        )
        for i in range(count)
    ]
    source.write_bytes(b"\n".join([*rows, b"{torn"]) + b"\n")
    return config, source, tmp_path / "out.jsonl"


def run(config: Path, source: Path, output: Path, *extra: str) -> Result:
    arguments = ["batch", "run", str(source), "-o", str(output), "--model", "chat-default"]
    return CliRunner().invoke(main, [*arguments, "--config", str(config), *extra])


def ids(path: Path) -> list[str]:
    return [orjson.loads(row)["custom_id"] for row in path.read_bytes().splitlines()]


def test_writes_outputs_errors_and_progress(tmp_path: Path, upstream: FakeOpenAI) -> None:
    config, source, output = files(tmp_path, upstream, 5)

    result = run(config, source, output)

    assert sorted(ids(output)) == [f"c{i}" for i in range(5)]
    assert ids(tmp_path / "out.errors.jsonl") == ["line-6"]
    assert "6/6 lines" in result.output
    assert "errors 1" in result.output
    assert result.exit_code == 1  # some lines failed
    assert {call.body["model"] for call in upstream.calls} == {"upstream-chat"}


def test_refuses_to_overwrite_without_resume(tmp_path: Path, upstream: FakeOpenAI) -> None:
    config, source, output = files(tmp_path, upstream, 2)
    run(config, source, output)

    again = run(config, source, output)

    assert again.exit_code == 1
    assert "--resume" in again.output


def test_resume_cuts_a_torn_line_and_runs_only_what_is_missing(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    config, source, output = files(tmp_path, upstream, 6)
    run(config, source, output)
    kept = output.read_bytes().splitlines()[:3]
    output.write_bytes(b"\n".join(kept) + b'\n{"custom_id": "c9", "resp')  # killed mid-write
    upstream.reset()

    result = run(config, source, output, "--resume")

    assert sorted(ids(output)) == [f"c{i}" for i in range(6)]
    assert len(upstream.calls) == 3
    assert "7/7 lines" in result.output
