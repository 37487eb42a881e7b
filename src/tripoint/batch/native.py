"""A backend's own Batch API (OpenAI's Files and Batches), for models that delegate batches.

Only moves bytes: upload the input file, create the batch, read its status, download its
files, cancel it. What those mean for a Tripoint batch is the runner's business.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

from tripoint.errors import UpstreamError
from tripoint.schema.json import JSONObject

# A remote batch in one of these still runs; the others are final.
RUNNING = ("validating", "in_progress", "finalizing", "cancelling")


class NativeBatches:
    def __init__(self, base_url: str, headers: Mapping[str, str], timeout: float = 60.0) -> None:
        self._base = base_url.rstrip("/")
        self._headers = dict(headers)
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def submit(self, content: bytes, endpoint: str, metadata: Mapping[str, str]) -> str:
        """Upload `content` (batch JSONL) and create a batch of it; the remote batch's id."""
        form = aiohttp.FormData()
        form.add_field("purpose", "batch")
        form.add_field("file", content, filename="batch.jsonl", content_type="application/jsonl")
        uploaded = await self._json("POST", "/files", data=form)
        created = await self._json(
            "POST",
            "/batches",
            json={
                "input_file_id": _text(uploaded, "id"),
                "endpoint": endpoint,
                "completion_window": "24h",
                "metadata": dict(metadata),
            },
        )
        return _text(created, "id")

    async def status(self, batch_id: str) -> JSONObject:
        return await self._json("GET", f"/batches/{batch_id}")

    async def cancel(self, batch_id: str) -> None:
        await self._json("POST", f"/batches/{batch_id}/cancel")

    async def content(self, file_id: str) -> bytes:
        return await self._call("GET", f"/files/{file_id}/content")

    async def _json(self, method: str, path: str, **options: Any) -> JSONObject:
        body = orjson.loads(await self._call(method, path, **options))
        if not isinstance(body, dict):
            raise UpstreamError(f"the native batch API answered {path} with no object")
        return body

    async def _call(self, method: str, path: str, **options: Any) -> bytes:
        try:
            async with (
                aiohttp.ClientSession(headers=self._headers, timeout=self._timeout) as session,
                session.request(method, self._base + path, **options) as response,
            ):
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise UpstreamError(
                f"the native batch API is unreachable ({type(exc).__name__})"
            ) from exc
        if response.status >= 400:
            raise UpstreamError(
                f"the native batch API answered {method} {path.split('/')[1]} with "
                f"{response.status}",
                retryable=response.status >= 500 or response.status == 429,
            )
        return body


def _text(body: JSONObject, key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str):
        raise UpstreamError(f"the native batch API answered without {key!r}")
    return value
