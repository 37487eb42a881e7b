"""Load gauges are read from vLLM's and llama.cpp's Prometheus expositions."""

from __future__ import annotations

from tripoint.routing.health import waiting_requests

VLLM = """# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="llama"} 3.0
vllm:num_requests_running{model_name="llama"} 8.0
"""
LLAMA_CPP = """# TYPE llamacpp:requests_deferred gauge
llamacpp:requests_deferred 2
llamacpp:requests_processing 1
"""


def test_reads_waiting_requests_from_known_servers() -> None:
    assert waiting_requests(VLLM) == 3.0
    assert waiting_requests(LLAMA_CPP) == 2.0
    assert waiting_requests("unrelated_metric 5\n") == 0.0
