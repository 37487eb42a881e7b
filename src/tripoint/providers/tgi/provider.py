"""TGI's native API over HTTP; only moves bytes, the codec translates."""

from __future__ import annotations

from tripoint.config.schema import PromptTemplate
from tripoint.errors import UpstreamError
from tripoint.providers.base import ChatStream
from tripoint.providers.target import Target
from tripoint.providers.tgi import codec
from tripoint.providers.upstream import Upstream
from tripoint.schema.json import JSONObject
from tripoint.schema.requests import ChatRequest, CompletionRequest


class TGIProvider:
    name = "tgi"

    def __init__(self, upstream: Upstream, template: PromptTemplate) -> None:
        self._upstream = upstream
        self._template = template

    async def start(self) -> None:
        await self._upstream.start()

    async def close(self) -> None:
        await self._upstream.close()

    def chat(self, request: ChatRequest, target: Target) -> ChatStream:
        # TGI serves one model per server: the target's model name is not sent
        return self._exchange(
            codec.chat_to_wire(request, self._template), request.stream, chat=True
        )

    def complete(self, request: CompletionRequest, target: Target) -> ChatStream:
        return self._exchange(codec.completion_to_wire(request), request.stream, chat=False)

    async def _exchange(self, body: JSONObject, stream: bool, *, chat: bool) -> ChatStream:
        path = "/generate_stream" if stream else "/generate"
        async with self._upstream.post(path, body, stream=stream) as response:
            if response.status >= 400:
                raise codec.error_from_wire(
                    self._upstream.name, response.status, await response.text(), response.headers
                )
            if not stream:
                yield codec.chunk_from_generate(await response.json(), chat=chat)
                return
            if not response.headers.get("Content-Type", "").startswith("text/event-stream"):
                raise UpstreamError(
                    f"backend {self._upstream.name!r} did not answer with an event stream"
                )
            opened = not chat  # a chat stream opens with the assistant's role, as OpenAI's
            async for event in response.events():
                chunks, done = codec.chunks_from_event(event)
                if not opened:
                    opened = True
                    yield codec.OPENING
                for chunk in chunks:
                    yield chunk
                if done:
                    return
            raise UpstreamError(f"backend {self._upstream.name!r} ended the stream early")
