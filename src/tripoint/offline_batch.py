"""The gateway without its HTTP edge: `tripoint batch run` (one file) and `batch-worker`."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

from tripoint.batch.offline import Progress, run_file
from tripoint.config.schema import BatchSettings, Settings
from tripoint.gateway.assembly import assemble


def run_offline(
    settings: Settings,
    source: Path,
    output: Path,
    *,
    endpoint: str,
    model: str | None,
    resume: bool,
    concurrency: int,
) -> Progress:
    """Progress goes to stderr; the batch runner itself is off (this process is the runner)."""
    settings = settings.model_copy(update={"batch": BatchSettings(enabled=False)})
    shown = [0.0]

    def report(progress: Progress) -> None:
        if time.monotonic() - shown[0] >= 0.5 or progress.done == progress.total:
            shown[0] = time.monotonic()
            sys.stderr.write("\r" + progress.line())
            sys.stderr.flush()

    async def main() -> Progress:
        gateway = assemble(settings)
        await gateway.start()
        try:
            return await run_file(
                gateway, source, output, endpoint=endpoint, model=model, resume=resume,
                concurrency=concurrency, report=report,
            )  # fmt: skip
        finally:
            await gateway.close()

    return asyncio.run(main())


def run_worker(settings: Settings) -> None:
    """Work on the shared batch store's batches until SIGINT or SIGTERM; each batch is claimed,
    so several workers (and gateways) share the work without running a batch twice."""
    settings = settings.model_copy(
        update={"batch": settings.batch.model_copy(update={"enabled": True})}
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        gateway = assemble(settings)
        await gateway.start()
        try:
            await stop.wait()
        finally:
            await gateway.close()  # a batch in progress is released and resumed by others

    asyncio.run(main())
