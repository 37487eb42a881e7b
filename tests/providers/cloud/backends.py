"""Backend configs pointing at the cloud fakes (tests/fakes/bedrock_upstream.py and
vertex_upstream.py), with their credentials written as secret files."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.bedrock_upstream import ACCESS_KEY, REGION, SECRET_KEY
from tests.fakes.vertex_upstream import LOCATION, PROJECT, FakeVertex
from tripoint.config.schema import BedrockBackend, VertexBackend

BEDROCK_MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
VERTEX_MODEL = "gemini-2.0-flash-001"
TIMEOUTS = {"connect": 1, "first_byte": 1, "idle": 0.5, "total": 10}


def bedrock_backend(url: str, secrets: Path, *, secret: str = SECRET_KEY) -> BedrockBackend:
    (secrets / "aws_key_id").write_text(ACCESS_KEY)
    (secrets / "aws_secret").write_text(secret)
    return BedrockBackend.model_validate(
        {
            "type": "bedrock",
            "region": REGION,
            "base_url": url,
            "access_key_id": f"file:{secrets / 'aws_key_id'}",
            "secret_access_key": f"file:{secrets / 'aws_secret'}",
            "timeouts": TIMEOUTS,
        }
    )


def vertex_backend(fake: FakeVertex, secrets: Path) -> VertexBackend:
    key = secrets / "service-account.json"
    key.write_text(fake.account.key_file(fake.token_uri))
    return VertexBackend.model_validate(
        {
            "type": "vertex",
            "project": PROJECT,
            "location": LOCATION,
            "base_url": fake.url + "/v1",
            "service_account": f"file:{key}",
            "timeouts": TIMEOUTS,
        }
    )
