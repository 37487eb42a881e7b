"""The `vertex` backend type against the documented Vertex AI Gemini `generateContent` and
`streamGenerateContent?alt=sse` wire format, with an OAuth access token that google-auth
fetches from the service-account key's token endpoint (a standing reply on the replay
server; tests/providers/vertex checks the signed JWT grant against a real verifier).

Gemini's function calls carry no id and arrive whole, also when streamed: the provider makes
the ids (`call_<random>`) and maps a tool result back to its call's function name.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

import orjson

from tests.fakes.replay_upstream import ReplayServer, Reply
from tests.fakes.vertex_upstream import LOCATION, PROJECT, ServiceAccount
from tests.providers.conformance.case import Expected, ProviderCase

MODEL = "gemini-2.0-flash-001"
TOKEN = "ya29.conformance-token"
TOKEN_PATH = "/token"


@functools.cache
def _account() -> ServiceAccount:
    return ServiceAccount.generate()  # an RSA key: made once, when a test first needs it


def _backend(url: str) -> dict[str, Any]:
    key = Path(tempfile.gettempdir()) / f"tripoint-conformance-vertex-{url.rsplit(':', 1)[1]}.json"
    key.write_text(_account().key_file(url + TOKEN_PATH))
    return {
        "type": "vertex",
        "project": PROJECT,
        "location": LOCATION,
        "base_url": url + "/v1",
        "service_account": f"file:{key}",
    }


def _path(model: str, stream: bool) -> str:
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return f"/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/{model}:{method}"


def _token_endpoint(server: ReplayServer) -> None:
    token = {"access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer"}
    server.stand(TOKEN_PATH, Reply(orjson.dumps(token)))


CASE = ProviderCase(
    name="vertex",
    backend=_backend,
    model=MODEL,
    path=_path,
    headers={"Authorization": f"Bearer {TOKEN}", "content-type": "application/json"},
    expected=Expected(
        text="Hello! How can I help you today?",
        usage=(12, 9, 21),
        stream_usage=(12, 9, 21),
        tool_call_id="",  # Gemini's calls carry none: the provider makes one
        tool_arguments={"city": "Paris", "unit": "celsius"},
        error_message="Invalid JSON payload received",
    ),
    garbage_frame=b"data: {not json at all\r\n\r\n",
    prepare=_token_endpoint,
    tool_call_ids="generated",
    tool_arguments_in_pieces=False,
)
