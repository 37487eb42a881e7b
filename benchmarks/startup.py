"""Start-up and idle memory of the defaults, two source trees side by side in one run.

Usage: .venv/bin/python -m benchmarks.startup --before /path/to/other/checkout [--rounds 4]
Alternates fresh `tripoint serve` processes of this checkout and of `--before` (a worktree of
an older commit: `git worktree add --detach /tmp/before <commit>`), with the bare data plane's
config (scenarios.bare_config). Reports the median wall time from spawn to the first 200 on
/v1/models, the CPU seconds the process used to get there (robust on a loaded machine, where
wall time mostly measures waiting for a core), and VmRSS one second after.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks import processes
from benchmarks.scenarios import bare_config

HERE = Path(__file__).resolve().parent.parent


def once(source: Path, workdir: Path) -> tuple[float, float, float]:
    config = workdir / "config.yaml"
    config.write_text(bare_config("http://127.0.0.1:9/v1", ["m1"]))
    process, wall = processes.start_gateway(
        config, processes.free_port(), workdir / "gateway.log", source=source
    )
    try:
        cpu = processes.cpu_seconds(process.pid)
        time.sleep(1.0)
        rss = processes.memory(process.pid).rss_mib
    finally:
        process.stop()
    return wall, cpu, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": HERE}
    found: dict[str, list[tuple[float, float, float]]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.rounds):
            for name, tree in trees.items():
                found[name].append(once(tree, Path(folder)))
    print("tree    start-up wall s  start-up CPU s  idle RSS MiB")
    for name, rows in found.items():
        wall, cpu, rss = (statistics.median(column) for column in zip(*rows, strict=True))
        print(f"{name:7} {wall:15.2f} {cpu:15.2f} {rss:13.1f}")


if __name__ == "__main__":
    main()
