"""Verify an AWS SigV4-signed request as AWS does: recompute the signature from what was
received with botocore's canonicalisation and the secret the fake knows, then compare.

A wrong secret, a changed body or path, a missing signed header, a stale date or another
region/service all fail. The verifier itself is checked against AWS's published test vector.
"""

from __future__ import annotations

import datetime
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9;-]+), ?"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)
MAX_SKEW = datetime.timedelta(minutes=5)


@dataclass(frozen=True)
class AwsKey:
    secret: str
    session_token: str | None = None


def verify(  # noqa: PLR0911 (one return per reason AWS gives)
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    keys: Mapping[str, AwsKey],
    region: str,
    service: str,
    now: datetime.datetime | None = None,
) -> str | None:
    """None when the signature is valid, else why it is not (as AWS would say it)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    found = _AUTH.match(lowered.get("authorization", ""))
    if found is None:
        return "missing or malformed Authorization header"
    if found["key"] not in keys:
        return "The security token included in the request is invalid."
    key = keys[found["key"]]
    signed = found["signed"].split(";")
    amz_date = lowered.get("x-amz-date", "")
    if "host" not in signed or "x-amz-date" not in signed or any(h not in lowered for h in signed):
        return "host and x-amz-date must be signed, and every signed header present"
    if found["date"] != amz_date[:8] or (found["region"], found["service"]) != (region, service):
        return "Credential should be scoped to a valid date, region and service"
    when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    if abs((now or datetime.datetime.now(datetime.UTC)) - when) > MAX_SKEW:
        return "Signature expired"
    if key.session_token is not None and lowered.get("x-amz-security-token") != key.session_token:
        return "The security token included in the request is invalid."
    request = AWSRequest(method=method, url=url, data=body, headers={h: lowered[h] for h in signed})
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(found["key"], key.secret), service, region)
    expected = signer.signature(
        signer.string_to_sign(request, signer.canonical_request(request)), request
    )
    if not hmac.compare_digest(expected, found["signature"]):
        return (
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method."
        )
    return None
