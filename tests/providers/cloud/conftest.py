"""The cloud fakes, for the end-to-end tests of this folder."""

from __future__ import annotations

from tests.providers.cloud.fakes import fake_bedrock, fake_vertex, secrets_dir, service_account

__all__ = ["fake_bedrock", "fake_vertex", "secrets_dir", "service_account"]
