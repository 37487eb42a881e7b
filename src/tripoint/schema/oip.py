"""Open Inference Protocol (KServe v2) wire types: the `/v2/models/{model}/infer` request.

Parsed once at the edge and checked completely (datatype known, shape matching the element
count, every element of the declared type), so a malformed tensor is a 400 at the gateway,
never a 500 from the model server. Row-major nested `data` is accepted and flattened.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from tripoint.schema.chunks import InferResult, Tensor
from tripoint.schema.json import JSON, JSONObject

Datatype = Literal[
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
    "BYTES",
]

_INT_RANGES: dict[str, tuple[int, int]] = {
    "UINT8": (0, 2**8 - 1),
    "UINT16": (0, 2**16 - 1),
    "UINT32": (0, 2**32 - 1),
    "UINT64": (0, 2**64 - 1),
    "INT8": (-(2**7), 2**7 - 1),
    "INT16": (-(2**15), 2**15 - 1),
    "INT32": (-(2**31), 2**31 - 1),
    "INT64": (-(2**63), 2**63 - 1),
}
MAX_ELEMENTS = 10_000_000  # a guard against a shape that claims more than any body holds

Scalar = bool | int | float | str


class _Wire(BaseModel):
    # lenient about unknown fields (passed through), strict about the types we know
    model_config = ConfigDict(extra="allow", frozen=True, strict=True)


class TensorIn(_Wire):
    name: str = Field(min_length=1)
    shape: list[int]
    datatype: Datatype
    # Any: the parsed JSON list as is; checking each element ourselves is many times faster
    # than validating a recursive JSON type, and `_data_fits_shape` checks all of it
    data: list[Any]
    parameters: dict[str, JsonValue] | None = None

    @model_validator(mode="after")
    def _data_fits_shape(self) -> TensorIn:
        if any(isinstance(d, bool) or d < 0 for d in self.shape):
            raise ValueError(f"tensor {self.name!r}: shape dimensions must be non-negative")
        expected = math.prod(self.shape)
        if expected > MAX_ELEMENTS:
            raise ValueError(f"tensor {self.name!r}: shape {self.shape} is too large")
        flat = flatten(self.data)
        nesting = nested_shape(self.data)
        if len(nesting) > 1 and nesting != self.shape:
            raise ValueError(
                f"tensor {self.name!r}: data nested as {nesting} does not match shape {self.shape}"
            )
        if len(flat) != expected:
            raise ValueError(
                f"tensor {self.name!r}: shape {self.shape} needs {expected} elements, "
                f"data has {len(flat)}"
            )
        if problem := first_mismatch(self.datatype, flat):
            raise ValueError(f"tensor {self.name!r}: {problem}")
        return self

    def flat(self) -> list[Scalar]:
        return flatten(self.data)


class RequestedOutput(_Wire):
    name: str = Field(min_length=1)
    parameters: dict[str, JsonValue] | None = None


class InferRequest(_Wire):
    """An OIP v2 inference request; `model` and `version` come from the URL path."""

    # from the URL path, never the body (an edge sets them); codecs leave them out of the wire
    model: str = ""
    version: str | None = None  # from `/versions/{v}/infer`
    id: str | None = None
    parameters: dict[str, JsonValue] | None = None
    inputs: list[TensorIn] = Field(min_length=1)
    outputs: list[RequestedOutput] | None = None

    @model_validator(mode="after")
    def _unique_input_names(self) -> InferRequest:
        names = [t.name for t in self.inputs]
        if len(set(names)) != len(names):
            raise ValueError("input tensor names must be unique")
        return self


def flatten(data: Sequence[object]) -> list[Scalar]:
    """Row-major nested lists to one flat list, one nesting level at a time (fast in C).

    Every level must be all lists of one length or all values: ragged data is a ValueError.
    Elements are not type-checked here (`first_mismatch` does that).
    """
    level: list[object] = list(data)
    while any(type(item) is list for item in level):
        lengths = {len(item) if type(item) is list else -1 for item in level}
        if len(lengths) != 1:
            raise ValueError("tensor data is ragged: its nested lists differ in length or depth")
        level = list(chain.from_iterable(level))  # type: ignore[arg-type]
    return level  # type: ignore[return-value]


def nested_shape(data: Sequence[object]) -> list[int]:
    """The shape the nesting of `data` spells (after `flatten` accepted it)."""
    shape: list[int] = []
    level: object = data
    while type(level) is list:
        shape.append(len(level))
        level = level[0] if level else None
    return shape


_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "BOOL": (bool,),
    "BYTES": (str,),
    "FP16": (int, float),
    "FP32": (int, float),
    "FP64": (int, float),
    **dict.fromkeys(_INT_RANGES, (int,)),
}


def first_mismatch(datatype: str, flat: Sequence[object]) -> str | None:
    """Why `flat` does not hold `datatype` values, or None when every element fits."""
    allowed = _PYTHON_TYPES[datatype]
    for index, value in enumerate(flat):
        if type(value) not in allowed:  # exact types: a bool is not an INT8
            return f"element {index} ({value!r}) is not a valid {datatype}"
    if not flat:
        return None
    if datatype in _INT_RANGES:
        low, high = _INT_RANGES[datatype]
        if min(flat) < low or max(flat) > high:  # type: ignore[type-var, operator]
            index = next(i for i, v in enumerate(flat) if not low <= v <= high)  # type: ignore[operator]
            return f"element {index} ({flat[index]!r}) is not a valid {datatype}"
    elif datatype.startswith("FP") and not math.isfinite(sum(flat)):  # type: ignore[arg-type]
        index = next(i for i, v in enumerate(flat) if not math.isfinite(v))  # type: ignore[arg-type]
        return f"element {index} ({flat[index]!r}) is not a valid {datatype}"
    return None


@dataclass(frozen=True, slots=True)
class TensorSpec:
    name: str
    datatype: str
    shape: tuple[int, ...]  # -1 for a variable dimension


@dataclass(frozen=True, slots=True)
class ModelMetadata:
    """What `GET /v2/models/{name}` answers."""

    name: str
    platform: str = ""
    versions: tuple[str, ...] = ()
    inputs: tuple[TensorSpec, ...] = ()
    outputs: tuple[TensorSpec, ...] = ()


def response_json(result: InferResult, model: str) -> JSONObject:
    """An `InferResult` as the OIP v2 inference response, named for the public model."""
    body: JSONObject = {
        "model_name": model,
        "model_version": result.model_version,
        "id": result.id,
        "parameters": _parameters(result.parameters),
        "outputs": [_tensor_json(t) for t in result.outputs],
    }
    return body


def metadata_json(metadata: ModelMetadata, model: str) -> JSONObject:
    return {
        "name": model,
        "versions": list[JSON](metadata.versions),
        "platform": metadata.platform,
        "inputs": [_spec_json(s) for s in metadata.inputs],
        "outputs": [_spec_json(s) for s in metadata.outputs],
    }


def _tensor_json(tensor: Tensor) -> JSONObject:
    body: JSONObject = {
        "name": tensor.name,
        "shape": list[JSON](tensor.shape),
        "datatype": tensor.datatype,
        "data": list[JSON](tensor.data),
    }
    if tensor.parameters:
        body["parameters"] = dict(tensor.parameters)
    return body


def _spec_json(spec: TensorSpec) -> JSONObject:
    return {"name": spec.name, "datatype": spec.datatype, "shape": list[JSON](spec.shape)}


def _parameters(parameters: Mapping[str, JSON]) -> JSON:
    return dict(parameters) if parameters else None
