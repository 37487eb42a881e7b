"""The `telemetry` section is strict like the rest of the config, and secrets are references."""

from __future__ import annotations

import pytest

from tripoint.config import parse_settings
from tripoint.errors import ConfigError


def test_defaults_export_nothing_and_serve_metrics_on_the_main_port() -> None:
    telemetry = parse_settings("").telemetry

    assert telemetry.metrics.enabled
    assert telemetry.metrics.port is None
    assert telemetry.metrics.token is None
    assert not telemetry.tracing.enabled
    assert telemetry.tracing.otlp_endpoint is None
    assert not telemetry.tracing.capture_content


def test_reads_tokens_and_otlp_headers_from_references(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRAPE", "t0ken-value")
    monkeypatch.setenv("OTLP_AUTH", "Bearer abc")

    telemetry = parse_settings(
        """
telemetry:
  metrics: {token: env:SCRAPE}
  tracing:
    otlp_endpoint: http://collector:4318/v1/traces
    otlp_headers: {authorization: env:OTLP_AUTH}
"""
    ).telemetry

    assert telemetry.metrics.token is not None
    assert telemetry.metrics.token.get_secret_value() == "t0ken-value"
    assert telemetry.tracing.otlp_headers["authorization"].get_secret_value() == "Bearer abc"


@pytest.mark.parametrize(
    ("yaml", "problem"),
    [
        ("telemetry: {metrics: {tokn: x}}", "telemetry.metrics.tokn: unknown key 'tokn'"),
        ("telemetry: {metrics: {token: hunter2-secret}}", "telemetry.metrics.token"),
        ("telemetry: {tracing: {sample_ratio: 2}}", "telemetry.tracing.sample_ratio"),
        ("telemetry: {tracing: {otlp_protocol: grpc}}", "telemetry.tracing.otlp_protocol"),
        ("telemetry: {metrics: {path: metrics}}", "telemetry.metrics.path"),
        ("telemetry: {metrics: {path: /v1/models}}", "telemetry.metrics: path '/v1/models'"),
    ],
)
def test_rejects_a_bad_telemetry_section_naming_the_key(yaml: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(yaml)

    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems
    assert "hunter2" not in str(caught.value)
