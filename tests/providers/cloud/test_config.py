"""Config for the cloud backend types: strict, secrets by reference, sensible defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from tripoint.config import parse_settings
from tripoint.config.schema import BedrockBackend, VertexBackend
from tripoint.errors import ConfigError
from tripoint.providers.bedrock.provider import BedrockProvider
from tripoint.providers.registry import build_provider, facts_of
from tripoint.providers.vertex.provider import VertexProvider


def test_bedrock_defaults_to_the_regional_endpoint_and_the_aws_chain() -> None:
    settings = parse_settings("backends: {aws: {type: bedrock, region: us-west-2}}")

    backend = settings.backends["aws"]
    provider = build_provider("aws", backend)

    assert isinstance(backend, BedrockBackend)
    assert backend.access_key_id is None
    assert backend.pattern == "cloud"
    assert facts_of("aws", backend).region == "us-west-2"
    assert isinstance(provider, BedrockProvider)
    assert provider._upstream.base_url == "https://bedrock-runtime.us-west-2.amazonaws.com"


def test_bedrock_needs_a_region() -> None:
    with pytest.raises(ConfigError, match=r"backends\.aws\.region: Field required"):
        parse_settings("backends: {aws: {type: bedrock}}")


def test_bedrock_keys_come_in_pairs(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("AKID")

    with pytest.raises(ConfigError, match="given together"):
        parse_settings(
            f"backends: {{aws: {{type: bedrock, region: r, access_key_id: 'file:{key}'}}}}"
        )


def test_bedrock_refuses_a_literal_secret() -> None:
    with pytest.raises(ConfigError, match="references, not literals") as caught:
        parse_settings(
            "backends: {aws: {type: bedrock, region: r, access_key_id: AKIDLITERAL,"
            " secret_access_key: wJalrLITERAL}}"
        )

    assert "wJalrLITERAL" not in str(caught.value)


@pytest.mark.parametrize(
    ("location", "host"),
    [
        ("europe-west4", "europe-west4-aiplatform.googleapis.com"),
        ("global", "aiplatform.googleapis.com"),
    ],
)
def test_vertex_defaults_to_the_location_endpoint(location: str, host: str) -> None:
    settings = parse_settings(
        f"backends: {{gcp: {{type: vertex, project: p, location: {location}}}}}"
    )

    backend = settings.backends["gcp"]
    provider = build_provider("gcp", backend)

    assert isinstance(backend, VertexBackend)
    assert backend.region == location  # the governance fact follows the location
    assert isinstance(provider, VertexProvider)
    assert provider._upstream.base_url == f"https://{host}/v1"


def test_vertex_region_fact_can_be_stated_apart_from_location() -> None:
    settings = parse_settings(
        "backends: {gcp: {type: vertex, project: p, location: europe-west4, region: eu}}"
    )

    assert settings.backends["gcp"].region == "eu"


def test_vertex_rejects_unknown_keys() -> None:
    with pytest.raises(ConfigError, match="credentials_json"):
        parse_settings(
            "backends: {gcp: {type: vertex, project: p, location: l, credentials_json: x}}"
        )


def test_bedrock_api_key_excludes_aws_credentials(tmp_path: Path) -> None:
    for name in ("api", "key", "secret"):
        (tmp_path / name).write_text(name)

    with pytest.raises(ConfigError, match="not both"):
        parse_settings(
            f"backends: {{aws: {{type: bedrock, region: r, api_key: 'file:{tmp_path / 'api'}',"
            f" access_key_id: 'file:{tmp_path / 'key'}',"
            f" secret_access_key: 'file:{tmp_path / 'secret'}'}}}}"
        )
