"""Checks on a streamed answer before its events are read."""

from __future__ import annotations

from tripoint.errors import UpstreamError
from tripoint.providers.upstream import UpstreamResponse


def require_event_stream(response: UpstreamResponse, backend: str) -> None:
    """A stream request answered with anything but SSE (an HTML page from a proxy, a JSON
    body) would otherwise parse as an empty stream: a clean-looking answer with nothing in it."""
    content_type = response.headers.get("Content-Type", "")
    if not content_type.startswith("text/event-stream"):
        raise UpstreamError(
            f"backend {backend!r} answered a stream request with {content_type or 'no type'}"
        )
