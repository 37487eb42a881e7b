"""Map an upstream's HTTP error status to the Tripoint error that decides retry and fallback.

Every provider's codec extracts the message from its own error body and calls this, so the
same status means the same thing whatever the backend.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

from tripoint.errors import (
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamRejectedError,
    UpstreamTimeoutError,
)

_CLIENT_FAULTS = frozenset({400, 413, 415, 422})
_MESSAGE_LIMIT = 500


def error_from_status(
    backend: str, status: int, message: str | None, headers: Mapping[str, str]
) -> UpstreamError:
    detail = (message or "").strip()[:_MESSAGE_LIMIT]
    if status in _CLIENT_FAULTS:
        return UpstreamRejectedError(
            detail or f"backend {backend!r} rejected the request", upstream_status=status
        )
    if status == 429:
        return UpstreamRateLimitError(
            f"backend {backend!r} is rate limiting: {detail or 'too many requests'}",
            upstream_status=status,
            retry_after=retry_after_seconds(headers),
        )
    if status in (408, 504):
        return UpstreamTimeoutError(
            f"backend {backend!r} timed out ({status})", upstream_status=status
        )
    if status in (401, 403):
        # the gateway's own credential for this backend is wrong: not the client's fault,
        # and repeating it will not help, but another target may answer
        return UpstreamError(
            f"backend {backend!r} refused the gateway's credentials ({status})",
            retryable=False,
            upstream_status=status,
        )
    return UpstreamError(
        f"backend {backend!r} answered {status}",
        retryable=status >= 500 and status != 501,
        upstream_status=status,
        retry_after=retry_after_seconds(headers),
    )


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """`retry-after-ms`, then `Retry-After` as seconds or an HTTP date; None when absent."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if ms := lowered.get("retry-after-ms"):
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
