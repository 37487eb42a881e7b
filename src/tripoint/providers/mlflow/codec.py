"""OIP v2 tensors <-> MLflow scoring server `/invocations` JSON. Pure.

Inputs: one tensor of shape [N, F] is N rows of F features; several tensors of shape [N]
(or [N, 1]) are named columns, as Seldon MLServer's pandas codec reads them. They are sent in
the backend's `input_format`: `dataframe_split` (columns + rows), `inputs` or `instances`.
Outputs: `{"predictions": ...}` (or the bare value, as older servers answer) becomes one
tensor per column for DataFrame output, else one tensor named by `output_name`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import orjson

from tripoint.errors import InvalidRequestError, UpstreamError
from tripoint.providers.shape import malformed
from tripoint.providers.status import error_from_status
from tripoint.schema.chunks import InferResult, Tensor
from tripoint.schema.json import JSON, JSONObject
from tripoint.schema.oip import InferRequest, Scalar, TensorIn, flatten

Format = str  # "dataframe_split" | "inputs" | "instances" (checked by the config schema)


def to_wire(
    request: InferRequest, input_format: Format, columns: Sequence[str] | None
) -> JSONObject:
    if request.version is not None:
        raise InvalidRequestError(
            "an MLflow scoring server serves one model version: drop /versions/... from the path"
        )
    if len(request.inputs) == 1 and len(request.inputs[0].shape) != 1:
        body = _one_tensor(request.inputs[0], input_format, columns)
    else:
        body = _named_columns(request.inputs, input_format)
    if request.parameters:
        body["params"] = dict(request.parameters)
    return body


def result_from_wire(body: JSON, output_name: str, request: InferRequest) -> InferResult:
    predictions = (
        body.get("predictions") if isinstance(body, dict) and "predictions" in body else body
    )
    outputs = _outputs(predictions, output_name)
    if request.outputs:
        produced = {t.name: t for t in outputs}
        missing = [o.name for o in request.outputs if o.name not in produced]
        if missing:
            raise InvalidRequestError(
                f"the model has no output named {missing[0]!r}; it has {sorted(produced)}",
                param="outputs",
            )
        outputs = tuple(produced[o.name] for o in request.outputs)
    return InferResult(outputs=outputs, id=request.id)


def error_from_wire(
    backend: str, status: int, body: str, headers: Mapping[str, str]
) -> UpstreamError:
    """MLflow errors are `{"error_code", "message", "stack_trace"?}`; the trace is dropped."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    message = payload.get("message") if isinstance(payload, dict) else None
    return error_from_status(
        backend, status, message if isinstance(message, str) else None, headers
    )


# inputs --------------------------------------------------------------------------------------
def _one_tensor(
    tensor: TensorIn, input_format: Format, columns: Sequence[str] | None
) -> JSONObject:
    nested = nest(tensor.flat(), tensor.shape)
    if input_format != "dataframe_split":
        return {input_format: nested}
    if len(tensor.shape) != 2:
        raise InvalidRequestError(
            f"tensor {tensor.name!r}: a dataframe needs shape [rows, columns], got {tensor.shape}",
            param="inputs",
        )
    split: JSONObject = {"data": nested}
    if columns is not None:
        if len(columns) != tensor.shape[1]:
            raise InvalidRequestError(
                f"tensor {tensor.name!r} has {tensor.shape[1]} columns; the model takes "
                f"{len(columns)} ({', '.join(columns)})",
                param="inputs",
            )
        split["columns"] = list[JSON](columns)
    return {"dataframe_split": split}


def _named_columns(tensors: Sequence[TensorIn], input_format: Format) -> JSONObject:
    rows = {t.shape[0] if t.shape else -1 for t in tensors}
    if any(len(t.shape) > 2 or (len(t.shape) == 2 and t.shape[1] != 1) for t in tensors) or (
        len(rows) != 1
    ):
        raise InvalidRequestError(
            "several input tensors are read as named columns: each must have shape [N] or "
            "[N, 1], with the same N",
            param="inputs",
        )
    names = [t.name for t in tensors]
    values = [t.flat() for t in tensors]
    if input_format == "dataframe_split":
        return {"dataframe_split": {"columns": list[JSON](names), "data": _rows(values)}}
    if input_format == "inputs":
        return {
            "inputs": {name: list[JSON](column) for name, column in zip(names, values, strict=True)}
        }
    return {"instances": [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]}


def _rows(columns: list[list[Scalar]]) -> list[JSON]:
    return [list[JSON](row) for row in zip(*columns, strict=True)]


def nest(flat: Sequence[Scalar], shape: Sequence[int]) -> JSON:
    """A flat row-major list as nested lists of `shape`."""
    if len(shape) <= 1:
        return list[JSON](flat)
    step = math.prod(shape[1:])
    return [nest(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


# outputs -------------------------------------------------------------------------------------
def _outputs(predictions: JSON, output_name: str) -> tuple[Tensor, ...]:
    if isinstance(predictions, dict):  # {name: column or tensor}
        return tuple(_tensor(name, value) for name, value in predictions.items())
    if (
        isinstance(predictions, list)
        and predictions
        and all(isinstance(row, dict) for row in predictions)
    ):  # a DataFrame as records: one tensor per column
        names = list(predictions[0]) if isinstance(predictions[0], dict) else []
        try:
            columns = {n: [row[n] for row in predictions if isinstance(row, dict)] for n in names}
        except KeyError:
            raise malformed("prediction records do not share their columns") from None
        return tuple(_tensor(name, list[JSON](column)) for name, column in columns.items())
    return (_tensor(output_name, predictions),)


def _tensor(name: str, value: JSON) -> Tensor:
    if not isinstance(value, list):
        value = [value]
    try:
        flat = flatten(value)
    except ValueError:
        raise malformed(f"prediction {name!r} is ragged, not a tensor") from None
    shape = _shape(value)
    if math.prod(shape) != len(flat):
        raise malformed(f"prediction {name!r} is not rectangular")
    return Tensor(name, _datatype(name, flat), shape, tuple(flat))


def _shape(value: JSON) -> tuple[int, ...]:
    shape: list[int] = []
    while isinstance(value, list):
        shape.append(len(value))
        value = value[0] if value else None
    return tuple(shape)


def _datatype(name: str, flat: list[Scalar]) -> str:
    if not all(type(v) in (bool, int, float, str) for v in flat):
        raise malformed(f"prediction {name!r} holds objects or nulls")
    if all(isinstance(v, bool) for v in flat):
        return "BOOL" if flat else "FP64"
    if all(isinstance(v, str) for v in flat):
        return "BYTES"
    if any(isinstance(v, bool | str) for v in flat):
        raise malformed(f"prediction {name!r} mixes numbers with strings or booleans")
    return "INT64" if all(isinstance(v, int) for v in flat) else "FP64"
