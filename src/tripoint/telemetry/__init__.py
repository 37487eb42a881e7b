"""Observability: the record stage, Prometheus metrics, JSON access log, OpenTelemetry traces."""

from tripoint.telemetry.observer import Telemetry

__all__ = ["Telemetry"]
