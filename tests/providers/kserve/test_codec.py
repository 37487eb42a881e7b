"""The OIP v2 codec, tested from recorded wire fixtures with no server."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tripoint.errors import UpstreamError
from tripoint.providers.kserve import codec
from tripoint.schema.chunks import Tensor
from tripoint.schema.oip import InferRequest, TensorSpec, response_json

FIXTURES = Path(__file__).parent.parent / "fixtures" / "kserve"


def load(name: str) -> object:
    return orjson.loads((FIXTURES / name).read_bytes())


def test_response_tensors_are_read_and_flattened() -> None:
    result = codec.result_from_wire(load("triton_response.json"))  # type: ignore[arg-type]

    assert result.model_version == "1"
    assert result.id == "42"
    assert result.outputs == (
        Tensor("label", "BYTES", (2, 1), ("positive", "negative")),
        Tensor("probabilities", "FP32", (2, 2), (0.92, 0.08, 0.13, 0.87)),
    )


def test_result_renders_under_the_public_model_name() -> None:
    result = codec.result_from_wire(load("infer_response.json"))  # type: ignore[arg-type]

    assert response_json(result, "iris-public") == {
        "model_name": "iris-public",
        "model_version": None,
        "id": "req-1",
        "parameters": None,
        "outputs": [{"name": "output-0", "shape": [2], "datatype": "INT64", "data": [1, 0]}],
    }


def test_request_goes_out_as_sent_without_the_model() -> None:
    request = InferRequest.model_validate_json(
        b'{"id": "a", "inputs": [{"name": "x", "shape": [1], "datatype": "BOOL", "data": [true]}],'
        b' "outputs": [{"name": "y"}], "custom": 1}'
    ).model_copy(update={"model": "public"})

    assert codec.to_wire(request) == {
        "id": "a",
        "inputs": [{"name": "x", "shape": [1], "datatype": "BOOL", "data": [True]}],
        "outputs": [{"name": "y"}],
        "custom": 1,
    }


def test_metadata_is_read() -> None:
    meta = codec.metadata_from_wire(load("metadata.json"))  # type: ignore[arg-type]

    assert meta.platform == "sklearn"
    assert meta.versions == ("1",)
    assert meta.inputs == (TensorSpec("input-0", "FP32", (-1, 4)),)


def test_the_servers_error_message_is_kept() -> None:
    error = codec.error_from_wire("kserve", 404, (FIXTURES / "error_404.json").read_text(), {})

    assert "does not exist" in error.message
    assert error.retryable is False


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"outputs": []},
        {"outputs": [{"name": "y", "datatype": "INT64", "shape": [3], "data": [1, 2]}]},
        {"outputs": [{"name": "y", "datatype": "INT64", "shape": [1], "data": ["a"]}]},
        {"outputs": [{"name": "y", "datatype": "FP999", "shape": [1], "data": [1]}]},
        {"outputs": [{"name": "y", "datatype": "BOOL", "shape": [-1], "data": []}]},
        {"outputs": [{"name": "y", "datatype": "FP32", "shape": [1], "data": [{"x": 1}]}]},
        {"outputs": [{"datatype": "FP32", "shape": [1], "data": [1]}]},
    ],
)
def test_a_malformed_response_is_an_upstream_error(body: object) -> None:
    with pytest.raises(UpstreamError):
        codec.result_from_wire(body)  # type: ignore[arg-type]
