"""Generated, labelled samples for the guardrail benchmarks (seeded: every run is the same).

PII and secrets have no public labelled corpus on PyPI, so values are generated in each
format (valid checksums where the format has one) inside sentence templates; negatives are
look-alikes (failed checksums, dates, versions, hashes, placeholders).
"""

from __future__ import annotations

import random
import string

SENTENCES = [
    "The quarterly planning meeting moved to Thursday afternoon.",
    "Could you summarise the attached design document in three bullet points?",
    "Our deployment pipeline builds the container, runs the tests and pushes the image.",
    "The customer asked whether the invoice includes the support contract.",
    "Please rewrite this paragraph so it sounds friendlier and more concise.",
    "We measured a median latency of twelve milliseconds under load.",
    "The migration script copies every table and verifies the row counts.",
    "Remember to water the plants while I am away next week.",
    "Explain the difference between a process and a thread with an example.",
    "The hiking trail climbs steadily for two hours before reaching the ridge.",
]


def prose(rng: random.Random, words: int) -> str:
    out: list[str] = []
    while sum(len(s.split()) for s in out) < words:
        out.append(rng.choice(SENTENCES))
    return " ".join(out)


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _alnum(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def card(rng: random.Random) -> str:
    body = rng.choice(["4", "51", "52", "55"]) + _digits(rng, 14 if rng.random() < 0.5 else 13)
    body = body[:15]
    number = body + luhn_digit(body)
    sep = rng.choice([" ", "-", ""])
    return sep.join(number[i : i + 4] for i in range(0, 16, 4))


def iban(rng: random.Random) -> str:
    bban = _digits(rng, 18)
    numeric = int(bban + "131400")  # "DE" -> 13 14, check digits 00
    return f"DE{98 - numeric % 97:02d}{bban}"


def ssn(rng: random.Random) -> str:
    area = rng.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def phone(rng: random.Random) -> str:
    area = rng.choice([212, 312, 415, 617, 303, 206, 512, 404])
    forms = [
        f"+1 {area}-{rng.randint(200, 999)}-{_digits(rng, 4)}",
        f"({area}) {rng.randint(200, 999)}-{_digits(rng, 4)}",
        f"+44 20 7946 {_digits(rng, 4)}",
        f"+49 30 {rng.randint(200, 999)} {_digits(rng, 5)}",
    ]
    return rng.choice(forms)


def email(rng: random.Random) -> str:
    user = _alnum(rng, rng.randint(4, 10), string.ascii_lowercase)
    domain = rng.choice(["example.com", "corp.example.org", "mail.acme.io", "uni.edu"])
    return f"{user}.{_alnum(rng, 5, string.ascii_lowercase)}@{domain}"


def ip(rng: random.Random) -> str:
    if rng.random() < 0.8:
        return ".".join(str(rng.randint(1, 254)) for _ in range(4))
    return ":".join(f"{rng.randint(1, 65535):x}" for _ in range(8))


PII_GENERATORS = {
    "EMAIL_ADDRESS": email,
    "PHONE_NUMBER": phone,
    "CREDIT_CARD": card,
    "IBAN_CODE": iban,
    "IP_ADDRESS": ip,
    "US_SSN": ssn,
}
PII_TEMPLATES = [
    "Please contact me at {} about the order.",
    "My details: {}. Thanks!",
    "Here it is: {}",
    "I wrote {} on the form yesterday.",
]


def pii_negatives(rng: random.Random) -> list[str]:
    bad_card = card(rng).replace(" ", "").replace("-", "")
    bad_card = bad_card[:-1] + str((int(bad_card[-1]) + 1) % 10)
    good = iban(rng)
    bad_iban = good[:2] + f"{(int(good[2:4]) + 1) % 100:02d}" + good[4:]
    return [
        f"Card {bad_card} was declined.",
        f"Account {bad_iban} is listed.",
        f"The build finished on 2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}.",
        f"Upgrade to version {rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 99)}.",
        f"Order #{_digits(rng, 7)} shipped today.",
        f"It costs ${rng.randint(1, 999)}.{_digits(rng, 2)} per seat.",
        f"The population is {rng.randint(1, 999)},{_digits(rng, 3)},{_digits(rng, 3)}.",
    ]


SECRET_GENERATORS = {
    "openai_key": lambda r: "sk-proj-" + _alnum(r, 40) + "T3BlbkFJ" + _alnum(r, 40),
    "anthropic_key": lambda r: "sk-ant-api03-" + _alnum(r, 93) + "AA",
    "aws_access_key_id": lambda r: "AKIA" + _alnum(r, 16, string.ascii_uppercase + string.digits),
    "google_api_key": lambda r: "AIza" + _alnum(r, 35),
    "github_token": lambda r: "ghp_" + _alnum(r, 36),
    "slack_token": lambda r: f"xoxb-{_digits(r, 11)}-{_digits(r, 13)}-{_alnum(r, 24)}",
    "stripe_key": lambda r: "sk_live_" + _alnum(r, 24),
    "connection_string_password": lambda r: _alnum(r, 14),
    "password_assignment": lambda r: _alnum(r, 12),
}
# Formats whose secret is a part of what is written: how the value appears in text.
SECRET_CONTEXT = {
    "connection_string_password": "postgres://app:{}@db.internal/x",
    "password_assignment": "password={}",
}
SECRET_TEMPLATES = ["Here is the config: {}", "use {} for now", "KEY={} # do not commit"]


def secret_negatives(rng: random.Random) -> list[str]:
    return [
        "Set OPENAI_API_KEY=sk-... before running.",
        "export API_KEY=<your-api-key>",
        "password = ${DB_PASSWORD}",
        f"The commit is {_alnum(rng, 40, '0123456789abcdef')}.",
        f"Request id {_alnum(rng, 8, '0123456789abcdef')}-{_alnum(rng, 4, '0123456789abcdef')}.",
        "AWS docs show AKIAIOSFODNN7EXAMPLE as an example.",
        "I forgot my password again, what should I do?",
        f"The skeleton-{_alnum(rng, 12, string.ascii_lowercase)} package is on PyPI.",
    ]
