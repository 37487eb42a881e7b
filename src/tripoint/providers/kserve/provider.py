"""OIP v2 model servers over HTTP (KServe, Triton, Seldon MLServer); only moves bytes."""

from __future__ import annotations

from urllib.parse import quote

from tripoint.errors import UpstreamError
from tripoint.providers.kserve import codec
from tripoint.providers.target import Target
from tripoint.providers.upstream import Upstream
from tripoint.schema.chunks import InferResult
from tripoint.schema.oip import InferRequest, ModelMetadata


class KServeProvider:
    name = "kserve"

    def __init__(self, upstream: Upstream) -> None:
        self._upstream = upstream

    async def start(self) -> None:
        await self._upstream.start()

    async def close(self) -> None:
        await self._upstream.close()

    async def infer(self, request: InferRequest, target: Target) -> InferResult:
        version = f"/versions/{quote(request.version, safe='')}" if request.version else ""
        path = _path(target, f"{version}/infer")
        async with self._upstream.post(path, codec.to_wire(request)) as r:
            if r.status >= 400:
                raise codec.error_from_wire(
                    self._upstream.name, r.status, await r.text(), r.headers
                )
            return codec.result_from_wire(await r.json())

    async def metadata(self, target: Target) -> ModelMetadata:
        async with self._upstream.get(_path(target)) as r:
            if r.status >= 400:
                raise codec.error_from_wire(
                    self._upstream.name, r.status, await r.text(), r.headers
                )
            return codec.metadata_from_wire(await r.json())

    async def ready(self, target: Target) -> bool:
        """OIP says: 200 when ready. Unreachable or any other answer is "not ready"."""
        try:
            async with self._upstream.get(_path(target, "/ready")) as r:
                return r.status == 200
        except UpstreamError:
            return False


def _path(target: Target, suffix: str = "") -> str:
    return f"/v2/models/{quote(target.model, safe='')}{suffix}"
