"""Bedrock tests share the session's SigV4-checking fake."""

from tests.providers.cloud.fakes import fake_bedrock

__all__ = ["fake_bedrock"]
