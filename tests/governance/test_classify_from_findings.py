"""Data found in the input raises the call's class, so policies route it: an email address
sends the call to the self-hosted backend, a clean prompt may go to SaaS."""

from __future__ import annotations

import httpx

from tests.fakes.openai_upstream import FakeOpenAI
from tests.servers import GatewayThread
from tripoint.config import parse_settings


def test_pii_in_the_input_routes_the_call_home(upstream: FakeOpenAI) -> None:
    settings = parse_settings(f"""
backends:
  saas: {{type: openai, base_url: {upstream.base_url}, pattern: saas}}
  home: {{type: openai, base_url: {upstream.base_url}, pattern: self_hosted}}
models:
  m: {{targets: [{{backend: saas, model: s}}, {{backend: home, model: h}}]}}
guardrails:
  checks:
    pii-log: {{type: pii, action: log}}
    secrets-log: {{type: secrets, action: log}}
  apply: {{default: [pii-log, secrets-log]}}
governance:
  findings: {{PII: confidential, SECRET: restricted}}
  policies:
    - {{name: sensitive-stays-home, when: {{class_at_least: confidential}},
       allow: {{pattern: [self_hosted]}}}}
""")
    server = GatewayThread(settings).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            clean = http.post(
                "/v1/chat/completions",
                json={"model": "m", "messages": [{"role": "user", "content": "What is a tide?"}]},
            )
            personal = http.post(
                "/v1/chat/completions",
                json={
                    "model": "m",
                    "messages": [{"role": "user", "content": "Mail jane.doe@example.org today"}],
                },
            )
    finally:
        server.stop()

    assert clean.headers["x-tripoint-backend"] == "saas"
    assert personal.headers["x-tripoint-backend"] == "home"
    assert [c.body["model"] for c in upstream.calls] == ["s", "h"]
