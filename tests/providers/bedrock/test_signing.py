"""SigV4: the fake's verifier matches AWS's published vectors, and the gateway's signer
produces signatures it accepts, from config keys, the environment, or refreshed roles."""

from __future__ import annotations

import datetime
import re
import threading
from pathlib import Path

import pytest
from botocore.credentials import RefreshableCredentials
from pydantic import SecretStr

from tests.fakes.bedrock_upstream import FakeBedrock
from tests.fakes.sigv4 import AwsKey, verify
from tests.providers.cloud.backends import BEDROCK_MODEL as MODEL
from tests.providers.cloud.backends import bedrock_backend
from tripoint.errors import UpstreamError
from tripoint.providers.bedrock.provider import BedrockProvider
from tripoint.providers.bedrock.signing import AwsSigV4Auth
from tripoint.providers.registry import build_provider, facts_of
from tripoint.providers.target import Target
from tripoint.schema.requests import ChatRequest

EXAMPLE_KEY = "AKIDEXAMPLE"
EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"  # AWS's documented example
EXAMPLE_TIME = datetime.datetime(2015, 8, 30, 12, 36, tzinfo=datetime.UTC)
GET_VANILLA = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
    "SignedHeaders=host;x-amz-date, "
    "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
)
IAM_LIST_USERS = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
    "SignedHeaders=content-type;host;x-amz-date, "
    "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
)
KEYS = {EXAMPLE_KEY: AwsKey(EXAMPLE_SECRET)}


def check(url: str, headers: dict[str, str], body: bytes = b"", **scope: str) -> str | None:
    return verify(
        "GET",
        url,
        headers,
        body,
        keys=KEYS,
        region=scope.get("region", "us-east-1"),
        service=scope.get("service", "service"),
        now=EXAMPLE_TIME,
    )


def test_verifier_accepts_the_published_get_vanilla_vector() -> None:
    headers = {
        "Host": "example.amazonaws.com",
        "X-Amz-Date": "20150830T123600Z",
        "Authorization": GET_VANILLA,
    }

    assert check("https://example.amazonaws.com/", headers) is None


def test_verifier_accepts_the_published_iam_example() -> None:
    headers = {
        "Host": "iam.amazonaws.com",
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        "X-Amz-Date": "20150830T123600Z",
        "Authorization": IAM_LIST_USERS,
    }

    problem = check(
        "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08", headers, service="iam"
    )

    assert problem is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"url": "https://example.amazonaws.com/other"}, "does not match"),
        ({"body": b"{}"}, "does not match"),
        ({"secret": "not-the-secret"}, "does not match"),
        ({"Host": "evil.example.com"}, "does not match"),
        ({"region": "eu-west-1"}, "scoped"),
        ({"X-Amz-Date": "20150830T123700Z"}, "does not match"),
        ({"now": datetime.datetime(2015, 8, 30, 13, 0, tzinfo=datetime.UTC)}, "expired"),
    ],
    ids=["path", "body", "secret", "host", "region", "date", "stale"],
)
def test_verifier_rejects_any_change_to_a_signed_request(
    change: dict[str, object], reason: str
) -> None:
    headers = {
        "Host": "example.amazonaws.com",
        "X-Amz-Date": "20150830T123600Z",
        "Authorization": GET_VANILLA,
    }
    headers.update({k: v for k, v in change.items() if k[0].isupper()})  # type: ignore[misc]
    secret = str(change.get("secret", EXAMPLE_SECRET))

    problem = verify(
        "GET",
        str(change.get("url", "https://example.amazonaws.com/")),
        headers,
        change.get("body", b""),  # type: ignore[arg-type]
        keys={EXAMPLE_KEY: AwsKey(secret)},
        region=str(change.get("region", "us-east-1")),
        service="service",
        now=change.get("now", EXAMPLE_TIME),  # type: ignore[arg-type]
    )

    assert problem is not None
    assert re.search(reason, problem)


async def test_signer_reproduces_the_published_get_vanilla_signature(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: EXAMPLE_TIME)
    auth = AwsSigV4Auth(
        "us-east-1",
        service="service",
        access_key_id=SecretStr(EXAMPLE_KEY),
        secret_access_key=SecretStr(EXAMPLE_SECRET),
    )

    headers = await auth.headers("GET", "https://example.amazonaws.com/", b"")

    assert headers == {"Authorization": GET_VANILLA, "X-Amz-Date": "20150830T123600Z"}


async def test_signs_with_a_session_token_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_aws_chain(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIAENVIRONMENT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "env-session-token")
    auth = AwsSigV4Auth("us-east-1")
    url = "http://127.0.0.1:9/model/m/converse"

    headers = await auth.headers("POST", url, b'{"messages": []}')

    assert headers["X-Amz-Security-Token"] == "env-session-token"
    problem = verify(
        "POST",
        url,
        {**headers, "Host": "127.0.0.1:9"},
        b'{"messages": []}',
        keys={"ASIAENVIRONMENT": AwsKey("env-secret", "env-session-token")},
        region="us-east-1",
        service="bedrock",
    )
    assert problem is None


async def test_signs_with_the_named_profile_from_the_shared_credentials_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_aws_chain(monkeypatch, tmp_path)
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = default-secret\n"
        "[bedrock-prod]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    auth = AwsSigV4Auth("us-east-1", profile="bedrock-prod")
    url = "http://127.0.0.1:9/model/m/converse"

    headers = await auth.headers("POST", url, b"{}")

    problem = verify(
        "POST",
        url,
        {**headers, "Host": "127.0.0.1:9"},
        b"{}",
        keys={"AKIDPROFILE": AwsKey("profile-secret")},
        region="us-east-1",
        service="bedrock",
    )
    assert problem is None


async def test_refreshes_expiring_role_credentials_off_the_event_loop() -> None:
    refreshed_in: list[int] = []
    now = datetime.datetime.now(datetime.UTC)

    def refresh() -> dict[str, str]:
        refreshed_in.append(threading.get_ident())
        return {
            "access_key": "ASIAFRESH",
            "secret_key": "fresh-secret",
            "token": "fresh-token",
            "expiry_time": (now + datetime.timedelta(hours=1)).isoformat(),
        }

    expiring = RefreshableCredentials.create_from_metadata(
        {
            "access_key": "ASIASTALE",
            "secret_key": "stale-secret",
            "token": "stale-token",
            "expiry_time": (now + datetime.timedelta(seconds=30)).isoformat(),
        },
        refresh_using=refresh,
        method="test-role",
    )
    auth = AwsSigV4Auth("us-east-1", credentials=expiring)

    headers = await auth.headers("POST", "http://127.0.0.1:9/x", b"")

    assert refreshed_in
    assert threading.get_ident() not in refreshed_in
    assert headers["X-Amz-Security-Token"] == "fresh-token"
    assert "Credential=ASIAFRESH/" in headers["Authorization"]


async def test_no_credentials_anywhere_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_aws_chain(monkeypatch, tmp_path)
    auth = AwsSigV4Auth("us-east-1")

    with pytest.raises(UpstreamError, match="no AWS credentials") as caught:
        await auth.headers("POST", "http://127.0.0.1:9/x", b"")

    assert caught.value.retryable is False


def test_never_shows_its_secret() -> None:
    auth = AwsSigV4Auth(
        "us-east-1", access_key_id=SecretStr("AKID"), secret_access_key=SecretStr("s3cr3t")
    )

    assert "s3cr3t" not in repr(auth)
    assert "s3cr3t" not in str(vars(auth))


async def test_fake_rejects_a_wrong_secret_and_the_provider_says_so(
    fake_bedrock: FakeBedrock, tmp_path: Path
) -> None:
    fake_bedrock.reset()
    fake_bedrock.rejected.clear()
    backend = bedrock_backend(fake_bedrock.url, tmp_path, secret="the-wrong-secret")
    provider = build_provider("bedrock", backend)
    assert isinstance(provider, BedrockProvider)
    await provider.start()
    request = ChatRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    )

    try:
        with pytest.raises(UpstreamError) as caught:
            [c async for c in provider.chat(request, Target(facts_of("b", backend), MODEL))]
    finally:
        await provider.close()

    assert caught.value.upstream_status == 403
    assert caught.value.retryable is False
    assert "signature we calculated does not match" in fake_bedrock.rejected[-1]


def isolate_aws_chain(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credentials from this machine: empty env, no files, no instance metadata."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
