"""Credentials in text: provider key formats plus Yelp detect-secrets' vendor plugins.

Each pattern's `value` group is the secret itself, so `password=hunter22` redacts only the
value and a connection string keeps its host. Documented example keys and obvious
placeholders (`your-api-key`, `sk-...`, `<TOKEN>`) are allowed: flagging them teaches users to
ignore the guardrail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.plugins.base import RegexBasedDetector

from tripoint.guardrails.finding import Finding

# The AWS documentation's example credentials, and similar published examples.
DOCUMENTED_EXAMPLES = frozenset(
    {
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "ASIAIOSFODNN7EXAMPLE",
        "AKIAI44QH8DHBEXAMPLE",
        "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
    }
)
_PLACEHOLDER = re.compile(
    r"(?i)example|placeholder|your[_-]?|dummy|redacted|changeme|fake|sample|xxxx|\*\*\*|\.\.\.|"
    r"^<.*>$|^\$\{?|^\{\{|^%\(|^(.)\1*$|^(?:none|null|true|false|undefined|\*+)$"
)


@dataclass(frozen=True, slots=True)
class Pattern:
    """A secret format. `anchors`: lower-case substrings one of which every match contains;
    a text containing none of them skips the regex (most prose skips most of them)."""

    kind: str
    regex: re.Pattern[str]
    anchors: tuple[str, ...] = ()


def _p(kind: str, pattern: str, anchors: tuple[str, ...], flags: int = 0) -> Pattern:
    return Pattern(kind, re.compile(pattern, flags), anchors)


# The literals detect-secrets' patterns need, by plugin (checked against lower-cased text).
_PLUGIN_ANCHORS: dict[str, tuple[str, ...]] = {
    "aws_access_key": ("a3t", "abia", "acca", "akia", "asia", "aws"),
    "artifactory_credentials": ("akc", "ap"),
    "azure_storage_account_access_key": ("accountkey=",),
    "basic_auth_credentials": ("://",),
    "cloudant_credentials": ("key", "pw", "pass", "token", "cloudant"),
    "github_token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    "gitlab_token": ("gl", "gr1348941"),
    "ibm_cos_hmac_credentials": ("secret",),
    "ibm_cloud_iam_key": ("key", "pwd", "pass", "token"),
    "json_web_token": ("eyj",),
    "mailchimp_access_key": ("-us",),
    "npm_tokens": ("_authtoken",),
    "openai_token": ("t3blbkfj",),
    "pypi_token": ("pypi-",),
    "sendgrid_api_key": ("sg.",),
    "slack_token": ("xox", "hooks.slack.com"),
    "softlayer_credentials": ("key", "pwd", "pass", "token", "softlayer"),
    "square_oauth_secret": ("sq0csp-",),
    "stripe_access_key": ("_live_",),
    "telegram_bot_token": (":",),
    "twilio_api_key": ("ac", "sk"),
}


# Order matters only for overlaps: the earlier (more specific) pattern wins.
PROVIDER_PATTERNS: tuple[Pattern, ...] = (
    _p(
        "private_key",
        r"(?P<value>-----BEGIN[A-Z0-9 ]{0,30} PRIVATE KEY(?: BLOCK)?-----"
        r"(?:[\s\S]*?-----END[A-Z0-9 ]{0,30} PRIVATE KEY(?: BLOCK)?-----|[\s\S]*\Z))",
        ("private key",),
    ),
    _p(
        "anthropic_key",
        r"(?<![\w-])(?P<value>sk-ant-(?:api|admin|oat)\d\d-[A-Za-z0-9_\-]{20,})",
        ("sk-ant-",),
    ),
    _p(
        "openai_key",
        r"(?<![\w-])(?P<value>sk-(?:proj-|svcacct-|admin-|None-)?"
        r"(?=[A-Za-z0-9_\-]*\d)[A-Za-z0-9_\-]{32,})",
        ("sk-",),
    ),
    _p(
        "aws_access_key_id",
        r"(?<![A-Z0-9])(?P<value>(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16})(?![A-Z0-9])",
        ("akia", "asia", "abia", "acca"),
    ),
    _p(
        "aws_secret_access_key",
        r"(?i)aws.{0,20}?(?:secret|private).{0,20}?[\s:=\"'>]+"
        r"(?P<value>(?-i:[A-Za-z0-9/+]{40}))(?![A-Za-z0-9/+=])",
        ("aws",),
    ),
    _p("google_api_key", r"(?<![\w-])(?P<value>AIza[0-9A-Za-z_\-]{35})(?![\w-])", ("aiza",)),
    _p(
        "github_token",
        r"(?<![\w])(?P<value>gh[pousr]_[A-Za-z0-9]{36,255})(?!\w)",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    ),
    _p(
        "github_token",
        r"(?<![\w])(?P<value>github_pat_[A-Za-z0-9_]{50,255})(?!\w)",
        ("github_pat_",),
    ),
    _p(
        "slack_token",
        r"(?<![\w-])(?P<value>xox[abposr]-(?:\d+-)?[A-Za-z0-9-]{10,250})",
        ("xox",),
    ),
    _p(
        "slack_webhook",
        r"(?P<value>https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9+/_\-]{20,120})",
        ("hooks.slack.com",),
    ),
    _p(
        "stripe_key",
        r"(?<![\w])(?P<value>(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,247})(?!\w)",
        ("_live_", "_test_"),
    ),
    _p(
        "jwt",
        r"(?<![\w-])(?P<value>eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,})",
        ("eyj",),
    ),
    _p(
        "connection_string_password",
        r"\b[a-zA-Z][a-zA-Z0-9+.\-]{1,20}://[^\s:/@\"']{1,64}:(?P<value>[^\s@/\"']{3,128})@[\w.\-\[]",
        ("://",),
    ),
    _p(
        "password_assignment",
        r"(?i)(?<![\w])(?:password|passwd|pwd)[\"']?\s*(?:[:=]|=>)\s*[\"']?"
        r"(?P<value>[^\s\"',;&<>]{4,128})",
        ("pass", "pwd"),
    ),
    _p(  # prose says "the secret: keep calm"; a credential value has a digit in it
        "password_assignment",
        r"(?i)(?<![\w])(?:secret|api[_\-]?key|access[_\-]?token|auth[_\-]?token|"
        r"client[_\-]?secret)[\"']?\s*(?:[:=]|=>)\s*[\"']?"
        r"(?P<value>(?=[^\s\"',;&<>]*\d)[^\s\"',;&<>]{8,128})",
        ("secret", "key", "token"),
    ),
)


def detect_secrets_patterns() -> tuple[Pattern, ...]:
    """The vendor formats of detect-secrets' regex plugins, run on whole texts at once.

    Its entropy and keyword plugins are left out: they judge source files, and on prose they
    flag hashes, ids and ordinary words. Public IPs are PII's business.
    """
    skipped = {"Public IP (ipv4)", "Private Key"}  # ours keeps the whole block
    patterns: list[Pattern] = []
    plugins: dict[str, type] = get_mapping_from_secret_type_to_class()
    for secret_type, plugin in sorted(plugins.items()):
        if secret_type in skipped or not issubclass(plugin, RegexBasedDetector):
            continue
        kind = "detect_secrets:" + re.sub(r"\W+", "_", secret_type.lower()).strip("_")
        anchors = _PLUGIN_ANCHORS.get(kind.removeprefix("detect_secrets:"), ())
        patterns.extend(Pattern(kind, regex, anchors) for regex in plugin().denylist)
    return tuple(patterns)


class SecretDetector:
    """Finds credentials; thread-safe (compiled patterns only)."""

    name = "secrets"

    def __init__(
        self, patterns: Sequence[Pattern], allowlist: Iterable[str] = (), longest: int = 256
    ) -> None:
        self._patterns = tuple(patterns)
        self._allowed = DOCUMENTED_EXAMPLES | frozenset(allowlist)
        self.longest = longest

    def find(self, text: str) -> list[Finding]:
        found: list[Finding] = []
        lowered = text.lower()
        for pattern in self._patterns:
            if pattern.anchors and not any(a in lowered for a in pattern.anchors):
                continue
            for match in pattern.regex.finditer(text):
                start, end = _value_span(match)
                if end > start and not self._is_allowed(text[start:end]):
                    found.append(Finding(pattern.kind, start, end))
        return disjoint(found)

    def _is_allowed(self, value: str) -> bool:
        return value in self._allowed or bool(_PLACEHOLDER.search(value))


def _value_span(match: re.Match[str]) -> tuple[int, int]:
    if "value" in match.re.groupindex:
        return match.span("value")
    if match.re.groups:  # detect-secrets patterns put the secret in their last group
        for group in range(match.re.groups, 0, -1):
            if match.group(group):
                return match.span(group)
    return match.span()


def disjoint(findings: Iterable[Finding]) -> list[Finding]:
    """Overlapping findings merged (the kind of the one starting first), so redaction of
    neighbours never garbles text."""
    kept: list[Finding] = []
    for finding in sorted(findings, key=lambda f: (f.start, -(f.end - f.start))):
        if kept and finding.start < kept[-1].end:
            last = kept[-1]
            kept[-1] = Finding(last.kind, last.start, max(last.end, finding.end), last.score)
            continue
        kept.append(finding)
    return kept
