"""The MLflow codec (OIP v2 tensors <-> /invocations JSON), tested from fixtures with no server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tripoint.errors import InvalidRequestError, UpstreamError
from tripoint.providers.mlflow import codec
from tripoint.schema.chunks import Tensor
from tripoint.schema.oip import InferRequest

FIXTURES = Path(__file__).parent.parent / "fixtures" / "mlflow"


def infer(*tensors: dict[str, Any], **fields: Any) -> InferRequest:
    return InferRequest.model_validate_json(orjson.dumps({"inputs": list(tensors), **fields}))


ROWS = {"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}


@pytest.mark.parametrize(
    ("input_format", "expected"),
    [
        ("dataframe_split", {"dataframe_split": {"data": [[1, 2], [3, 4]], "columns": ["a", "b"]}}),
        ("inputs", {"inputs": [[1, 2], [3, 4]]}),
        ("instances", {"instances": [[1, 2], [3, 4]]}),
    ],
)
def test_a_2d_tensor_is_rows(input_format: str, expected: dict[str, Any]) -> None:
    assert codec.to_wire(infer(ROWS), input_format, ["a", "b"]) == expected


@pytest.mark.parametrize(
    ("input_format", "expected"),
    [
        (
            "dataframe_split",
            {"dataframe_split": {"columns": ["a", "b"], "data": [[1, "u"], [2, "v"]]}},
        ),
        ("inputs", {"inputs": {"a": [1, 2], "b": ["u", "v"]}}),
        ("instances", {"instances": [{"a": 1, "b": "u"}, {"a": 2, "b": "v"}]}),
    ],
)
def test_named_1d_tensors_are_columns(input_format: str, expected: dict[str, Any]) -> None:
    request = infer(
        {"name": "a", "shape": [2], "datatype": "INT32", "data": [1, 2]},
        {"name": "b", "shape": [2, 1], "datatype": "BYTES", "data": [["u"], ["v"]]},
    )

    assert codec.to_wire(request, input_format, None) == expected


def test_parameters_become_mlflow_params() -> None:
    body = codec.to_wire(infer(ROWS, parameters={"threshold": 0.7}), "dataframe_split", None)

    assert body["params"] == {"threshold": 0.7}


@pytest.mark.parametrize(
    ("tensors", "columns"),
    [
        ([ROWS], ["only-one"]),
        (
            [
                {"name": "a", "shape": [2], "datatype": "FP32", "data": [1, 2]},
                {"name": "b", "shape": [3], "datatype": "FP32", "data": [1, 2, 3]},
            ],
            None,
        ),
        ([{"name": "a", "shape": [1, 2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}], None),
    ],
)
def test_tensors_that_make_no_dataframe_are_a_400(
    tensors: list[dict[str, Any]], columns: list[str] | None
) -> None:
    with pytest.raises(InvalidRequestError):
        codec.to_wire(infer(*tensors), "dataframe_split", columns)


def result(name: str, request: InferRequest | None = None) -> tuple[Tensor, ...]:
    body = orjson.loads((FIXTURES / name).read_bytes())
    return codec.result_from_wire(body, "predictions", request or infer(ROWS)).outputs


def test_class_predictions_are_one_int64_tensor() -> None:
    assert result("predictions_classes.json") == (Tensor("predictions", "INT64", (3,), (1, 0, 2)),)


def test_nested_predictions_keep_their_shape() -> None:
    assert result("predictions_tensor.json") == (
        Tensor("predictions", "FP64", (2, 2), (0.1, 0.9, 0.75, 0.25)),
    )


def test_dataframe_predictions_are_one_tensor_per_column() -> None:
    assert result("predictions_records.json") == (
        Tensor("label", "BYTES", (2,), ("spam", "ham")),
        Tensor("score", "FP64", (2,), (0.97, 0.64)),
    )


def test_requested_outputs_are_chosen_and_unknown_ones_refused() -> None:
    chosen = result("predictions_records.json", infer(ROWS, outputs=[{"name": "score"}]))

    assert [t.name for t in chosen] == ["score"]
    with pytest.raises(InvalidRequestError, match="no output named 'nope'"):
        result("predictions_records.json", infer(ROWS, outputs=[{"name": "nope"}]))


def test_an_old_servers_bare_list_is_read_too() -> None:
    outputs = codec.result_from_wire([0.5, 1.5], "y", infer(ROWS)).outputs

    assert outputs == (Tensor("y", "FP64", (2,), (0.5, 1.5)),)


def test_the_message_is_kept_and_the_stack_trace_dropped() -> None:
    error = codec.error_from_wire("mlflow", 400, (FIXTURES / "error_400.json").read_text(), {})

    assert "missing inputs" in error.message
    assert "Traceback" not in error.message


@pytest.mark.parametrize(
    "body",
    [
        {"predictions": [[1, 2], [3]]},
        {"predictions": [1, "a"]},
        {"predictions": [None, 1]},
        {"predictions": [{"a": 1}, {"b": 2}]},
    ],
)
def test_malformed_predictions_are_an_upstream_error(body: object) -> None:
    with pytest.raises(UpstreamError):
        codec.result_from_wire(body, "y", infer(ROWS))  # type: ignore[arg-type]
