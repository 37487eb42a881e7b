"""Whether the current call is background work (a batch line) rather than interactive.

Set by the batch lane for the calls it makes; read where a shared resource can serve
interactive traffic first (the embedded engine's queues). A context variable follows the
call through the pipeline without widening every signature.
"""

from __future__ import annotations

from contextvars import ContextVar

BACKGROUND: ContextVar[bool] = ContextVar("tripoint_background", default=False)
