"""MLflow scoring servers over HTTP (`mlflow models serve`, Databricks); only moves bytes."""

from __future__ import annotations

from collections.abc import Sequence

from tripoint.errors import UpstreamError
from tripoint.providers.mlflow import codec
from tripoint.providers.target import Target
from tripoint.providers.upstream import Upstream
from tripoint.schema.chunks import InferResult
from tripoint.schema.oip import InferRequest, ModelMetadata


class MLflowProvider:
    name = "mlflow"

    def __init__(
        self,
        upstream: Upstream,
        *,
        input_format: str = "dataframe_split",
        columns: Sequence[str] | None = None,
        output_name: str = "predictions",
    ) -> None:
        self._upstream = upstream
        self._format = input_format
        self._columns = columns
        self._output_name = output_name

    async def start(self) -> None:
        await self._upstream.start()

    async def close(self) -> None:
        await self._upstream.close()

    async def infer(self, request: InferRequest, target: Target) -> InferResult:
        body = codec.to_wire(request, self._format, self._columns)
        async with self._upstream.post("/invocations", body) as r:
            if r.status >= 400:
                raise codec.error_from_wire(
                    self._upstream.name, r.status, await r.text(), r.headers
                )
            return codec.result_from_wire(await r.json(), self._output_name, request)

    async def metadata(self, target: Target) -> ModelMetadata:
        """MLflow's server does not describe its signature; say what is known, and no more."""
        return ModelMetadata(name=target.model, platform="mlflow")

    async def ready(self, target: Target) -> bool:
        try:
            async with self._upstream.get("/ping") as r:
                return r.status == 200
        except UpstreamError:
            return False
