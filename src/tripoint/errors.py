"""Errors a client can see: one tree, each class fixing its HTTP status and OpenAI error type.

TripointError                      500 server_error
  InvalidRequestError              400 invalid_request_error
    RequestTooLargeError           413 invalid_request_error
    ConflictError                  409 invalid_request_error (code conflict)
    UnprocessableError             422 invalid_request_error  a well-formed body asking too much
    ContentBlockedError            400 invalid_request_error (code content_policy_violation)
  AuthenticationError              401 authentication_error
  PermissionDeniedError            403 permission_error
  NotFoundError                    404 not_found_error
    ModelNotFoundError             404 invalid_request_error (code model_not_found, as OpenAI)
  RateLimitError                   429 rate_limit_exceeded
  ServiceUnavailableError          503 service_unavailable
  ClientClosedError                499 client_closed_request  (recorded; the client is gone)
  UpstreamError                    502 upstream_error      retryable unless told otherwise
    UpstreamTimeoutError           504 upstream_timeout
    UpstreamRejectedError          400 invalid_request_error  the upstream refused the request
    UpstreamRateLimitError         429 rate_limit_exceeded    the upstream's own quota
  ConfigError                      raised at start-up only, never rendered to a client

Third-party exceptions are converted where they occur; only these cross package boundaries.
"""

from __future__ import annotations

from typing import ClassVar


class TripointError(Exception):
    """Base of every error Tripoint raises on purpose."""

    status: ClassVar[int] = 500
    type: ClassVar[str] = "server_error"
    code: ClassVar[str | None] = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.retry_after = retry_after


class InvalidRequestError(TripointError):
    status = 400
    type = "invalid_request_error"


class RequestTooLargeError(InvalidRequestError):
    status = 413
    code = "request_too_large"


class ConflictError(InvalidRequestError):
    status = 409
    code = "conflict"


class UnprocessableError(InvalidRequestError):
    status = 422


class ContentBlockedError(InvalidRequestError):
    """A guardrail blocked the request or the response; the message names the guardrail."""

    code = "content_policy_violation"


class AuthenticationError(TripointError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDeniedError(TripointError):
    status = 403
    type = "permission_error"


class NotFoundError(TripointError):
    status = 404
    type = "not_found_error"


class ModelNotFoundError(NotFoundError):
    type = "invalid_request_error"
    code = "model_not_found"


class RateLimitError(TripointError):
    status = 429
    type = "rate_limit_exceeded"
    code = "rate_limit_exceeded"


class ServiceUnavailableError(TripointError):
    status = 503
    type = "service_unavailable"


class ClientClosedError(TripointError):
    """The client went away before the answer was complete (nginx's 499)."""

    status = 499
    type = "client_closed_request"


class UpstreamError(TripointError):
    """An upstream failed. `retryable`: another attempt may succeed. `maybe_processed`: the
    request may have reached the upstream and been acted on (a reset after sending), so
    repeating it is not safe by default."""

    status = 502
    type = "upstream_error"

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = True,
        upstream_status: int | None = None,
        retry_after: float | None = None,
        maybe_processed: bool = False,
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retryable = retryable
        self.upstream_status = upstream_status
        self.maybe_processed = maybe_processed


class UpstreamTimeoutError(UpstreamError):
    status = 504
    type = "upstream_timeout"


class UpstreamRejectedError(UpstreamError):
    """The upstream answered 4xx about the request itself: the client's fault, never retried."""

    status = 400
    type = "invalid_request_error"

    def __init__(self, message: str, *, upstream_status: int | None = None) -> None:
        super().__init__(message, retryable=False, upstream_status=upstream_status)


class UpstreamRateLimitError(UpstreamError):
    status = 429
    type = "rate_limit_exceeded"
    code = "rate_limit_exceeded"


class ConfigError(TripointError):
    """The configuration is invalid; carries every problem found, each with its path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n" + "\n".join(f"  {p}" for p in problems))
        self.problems = problems
