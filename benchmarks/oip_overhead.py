"""OIP v2 through the gateway vs straight to a real KServe server, side by side in one run.

Usage: .venv/bin/python -m benchmarks.oip_overhead [--requests 300]
Starts the test suite's KServe iris server and a gateway on loopback, then sends the same
inference request alternately to both (sequential, so each latency is one exchange), and
times the gateway's tensor check alone for large tensors. Bounded: a few hundred requests.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import orjson

from tests.model_servers import serving
from tests.servers import GatewayThread, free_port
from tripoint.config import parse_settings
from tripoint.schema.oip import InferRequest

BODY = {
    "inputs": [
        {
            "name": "input-0",
            "shape": [2, 4],
            "datatype": "FP32",
            "data": [[6.8, 2.8, 4.8, 1.4], [5.0, 3.4, 1.5, 0.2]],
        }
    ]
}


def latencies(requests: int) -> tuple[list[float], list[float]]:
    port = free_port()
    args = ["tests.predictive.kserve_iris", "--http_port", str(port), "--model_name", "iris"]
    log = Path(tempfile.mkdtemp()) / "kserve.log"
    ready = "/v2/models/iris/ready"
    with serving(args, ready_path=ready, log=log, seconds=120, port=port) as kserve:
        gateway = GatewayThread(
            parse_settings(f"""
backends: {{kserve: {{type: kserve, base_url: "{kserve}"}}}}
models: {{iris: {{targets: [{{backend: kserve, model: iris}}], operations: [predict]}}}}
""")
        ).start()
        try:
            return _alternate(kserve, gateway.url, requests)
        finally:
            gateway.stop()


def _alternate(kserve: str, gateway: str, requests: int) -> tuple[list[float], list[float]]:
    """The same request to both, alternately; the first 20 rounds warm up."""
    direct: list[float] = []
    through: list[float] = []
    with httpx.Client(timeout=30) as http:
        for i in range(requests + 20):
            for url, sink in ((kserve, direct), (gateway, through)):
                start = time.perf_counter()
                answer = http.post(f"{url}/v2/models/iris/infer", json=BODY)
                elapsed = time.perf_counter() - start
                answer.raise_for_status()
                if i >= 20:  # warm-up excluded
                    sink.append(elapsed)
    return direct, through


def tensor_check(elements: int) -> tuple[float, float]:
    """(InferRequest validation, orjson.loads) of one flat FP32 tensor, in ms."""
    body = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "x",
                    "shape": [elements // 4, 4],
                    "datatype": "FP32",
                    "data": [0.5] * elements,
                }
            ]
        }
    )
    runs = 20
    start = time.perf_counter()
    for _ in range(runs):
        InferRequest.model_validate_json(body)
    checked = (time.perf_counter() - start) / runs
    start = time.perf_counter()
    for _ in range(runs):
        orjson.loads(body)
    parsed = (time.perf_counter() - start) / runs
    return checked * 1000, parsed * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    direct, through = latencies(args.requests)
    d50, g50 = statistics.median(direct), statistics.median(through)
    d99 = statistics.quantiles(direct, n=100)[98]
    g99 = statistics.quantiles(through, n=100)[98]
    print(f"requests each: {len(direct)}")
    print(f"direct  KServe  p50 {d50 * 1000:6.2f} ms  p99 {d99 * 1000:6.2f} ms")
    print(f"gateway->KServe p50 {g50 * 1000:6.2f} ms  p99 {g99 * 1000:6.2f} ms")
    print(f"ratio p50 {g50 / d50:.2f}x, added p50 {(g50 - d50) * 1000:.2f} ms")
    for elements in (1_000, 100_000):
        checked, parsed = tensor_check(elements)
        print(
            f"tensor check {elements:>7} FP32: {checked:7.2f} ms vs orjson.loads {parsed:6.2f} ms"
        )


if __name__ == "__main__":
    main()
