"""Vertex tests share the session's fake (with its token endpoint) and service account."""

from tests.providers.cloud.fakes import fake_vertex, service_account

__all__ = ["fake_vertex", "service_account"]
