"""Sample values for guardrail tests: realistic in format, never real (built from fixed text)."""

from __future__ import annotations

import base64

import orjson

ALNUM = "aB3dE5fG7hJ9kL2mN4pQ6rS8tU0vW1xY"


def run(n: int, alphabet: str = ALNUM) -> str:
    return (alphabet * (n // len(alphabet) + 1))[:n]


def _b64(obj: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(obj)).decode().rstrip("=")


JWT = ".".join(
    [_b64({"alg": "HS256", "typ": "JWT"}), _b64({"sub": "1234567890", "iat": 1516239022}), run(43)]
)
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    + "\n".join(run(64, "MIIEpAIBAAKCAQEA7Vb9") for _ in range(3))
    + "\n-----END RSA PRIVATE KEY-----"
)

# (kind, text around the value, the value): each must be found, as that kind, exactly.
SECRETS: list[tuple[str, str, str]] = [
    ("openai_key", "key: {}", "sk-" + run(48)),
    ("openai_key", "OPENAI_API_KEY={}", "sk-proj-" + run(40) + "T3BlbkFJ" + run(40)),
    ("anthropic_key", "use {} for claude", "sk-ant-api03-" + run(93) + "-" + run(6) + "AA"),
    ("aws_access_key_id", "id {} here", "AKIA" + "Z7XQ2M4N6P8R0T3V"),
    ("aws_secret_access_key", "aws_secret_access_key = {}", run(40, "Kq7/Zp3+Wm9xYt2Lr5Vb8Nc1")),
    ("google_api_key", "maps key {}", "AIza" + run(35)),
    ("github_token", "token {} ok", "ghp_" + run(36)),
    ("github_token", "token {} ok", "github_pat_11ABCDEFG0" + run(12) + "_" + run(59)),
    ("slack_token", "slack {}", "xoxb-1234567890-1234567890123-" + run(24)),
    ("stripe_key", "stripe {}", "sk_live_" + run(24)),
    ("jwt", "Authorization: Bearer {}", JWT),
    ("private_key", "here it is:\n{}\nthanks", PEM),
    (
        "connection_string_password",
        "DATABASE_URL=postgres://app:{}@db.internal:5432/x",
        "s3cr3tPw9",
    ),
    ("password_assignment", 'config password="{}" end', "hunter2hunter"),
    ("password_assignment", "client_secret: {}", "9f8e7d6c5b4a3f2e1d0c"),
]

# Look-alikes: documented examples, placeholders, and ordinary text that must pass.
BENIGN_SECRETS: list[str] = [
    "The AWS docs use AKIAIOSFODNN7EXAMPLE as the example access key id.",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "Set OPENAI_API_KEY=sk-... in your shell, or sk-your-key-here.",
    "export OPENAI_API_KEY=<YOUR_API_KEY>",
    "password = ${DB_PASSWORD}",
    "password: ********",
    "api_key = 'your-api-key'",
    "The secret: keep your answers short.",
    "I forgot my password, how do I reset it?",
    "Use postgres://localhost:5432/mydb to connect.",
    "The commit sha is 3f786850e387550fdab836ed7e6dc881de23001b.",
    "My task-sk-list is long; see skill-builder-framework-for-teams.",
    "The word eyJhbGciOi appears in base64 of JSON.",
    "Call me at the office, extension 4821.",
]
