"""Where finished Records go: the contract shared by metrics, logs, traces, ledger and audit."""

from __future__ import annotations

from typing import Protocol

from tripoint.pipeline.call import Record


class RecordSink(Protocol):
    """Receives every finished Record exactly once, whatever the call's outcome.

    `write` runs on the event loop at the end of each call, so it must not block: a sink
    that stores records (the usage ledger, the audit trail) queues them here and writes them
    in batches from its own component. A sink that raises is logged and the others still run.
    """

    name: str

    def write(self, record: Record) -> None: ...
