"""Prompt and completion capture: opt-in per team, stored redacted, kept for a bounded time,
read only by auditors and admins (each read audited)."""
