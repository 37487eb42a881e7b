"""Open Inference Protocol v2 wire format <-> Tripoint inference requests and results. Pure."""

from __future__ import annotations

import math
from collections.abc import Mapping

import orjson

from tripoint.errors import UpstreamError
from tripoint.providers.shape import arr, malformed, obj, opt_str
from tripoint.providers.status import error_from_status
from tripoint.schema.chunks import EMPTY, InferResult, Tensor
from tripoint.schema.json import JSON, JSONObject
from tripoint.schema.oip import (
    Datatype,
    InferRequest,
    ModelMetadata,
    Scalar,
    TensorSpec,
    first_mismatch,
    flatten,
)

_DATATYPES: frozenset[str] = frozenset(Datatype.__args__)  # type: ignore[attr-defined]


def to_wire(request: InferRequest) -> JSONObject:
    """The client's request as sent (unknown fields included); the model is in the URL."""
    body: JSONObject = request.model_dump(
        mode="json", exclude_none=True, exclude={"model", "version"}
    )
    return body


def result_from_wire(body: JSON) -> InferResult:
    response = obj(body, "inference response")
    outputs = tuple(
        tensor_from_wire(obj(t, "output")) for t in arr(response.get("outputs"), "outputs")
    )
    if not outputs:
        raise malformed("the inference response has no outputs")
    return InferResult(
        outputs=outputs,
        model_version=_version(response.get("model_version")),
        id=opt_str(response.get("id"), "id"),
        parameters=_parameters(response.get("parameters")),
    )


def tensor_from_wire(tensor: JSONObject) -> Tensor:
    """One output tensor, checked: a known datatype and data that fills its shape."""
    name = opt_str(tensor.get("name"), "output.name")
    datatype = tensor.get("datatype")
    if not name or not isinstance(datatype, str) or datatype not in _DATATYPES:
        raise malformed("an output tensor has no name or an unknown datatype")
    shape = arr(tensor.get("shape"), "output.shape")
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise malformed(f"output {name!r} has an invalid shape")
    dims = tuple(d for d in shape if isinstance(d, int))
    try:
        data = flatten(arr(tensor.get("data"), "output.data"))
    except ValueError:
        raise malformed(f"output {name!r} holds data that is not a tensor") from None
    if len(data) != math.prod(dims) or first_mismatch(datatype, data):
        raise malformed(f"output {name!r} data does not match its shape and datatype")
    return Tensor(
        name, datatype, dims, tuple[Scalar, ...](data), _parameters(tensor.get("parameters"))
    )


def metadata_from_wire(body: JSON) -> ModelMetadata:
    meta = obj(body, "model metadata")
    versions = arr(meta.get("versions"), "versions")
    return ModelMetadata(
        name=opt_str(meta.get("name"), "name") or "",
        platform=opt_str(meta.get("platform"), "platform") or "",
        versions=tuple(str(v) for v in versions),
        inputs=tuple(_spec(obj(s, "input")) for s in arr(meta.get("inputs"), "inputs")),
        outputs=tuple(_spec(obj(s, "output")) for s in arr(meta.get("outputs"), "outputs")),
    )


def error_from_wire(
    backend: str, status: int, body: str, headers: Mapping[str, str]
) -> UpstreamError:
    """OIP errors are `{"error": "message"}`; anything else keeps only the status."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    message = payload.get("error") if isinstance(payload, dict) else None
    detail = message if isinstance(message, str) else None
    if status in (404, 501) and detail:
        # no such model (or version), or a feature this server lacks: say which, not a trace
        return UpstreamError(
            f"backend {backend!r} answered {status}: {detail[:200]}",
            retryable=False,
            upstream_status=status,
        )
    return error_from_status(backend, status, detail, headers)


def _spec(spec: JSONObject) -> TensorSpec:
    shape = arr(spec.get("shape"), "shape")
    if not all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
        raise malformed("a tensor shape in the model metadata is not a list of integers")
    return TensorSpec(
        name=opt_str(spec.get("name"), "name") or "",
        datatype=opt_str(spec.get("datatype"), "datatype") or "",
        shape=tuple(d for d in shape if isinstance(d, int)),
    )


def _version(value: JSON) -> str | None:
    # Triton answers the version as a string, some servers as a number
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise malformed("model_version is not a string")


def _parameters(value: JSON) -> Mapping[str, JSON]:
    if value is None:
        return EMPTY
    return obj(value, "parameters")
