"""Guardrails: PII, secrets, prompt injection and canaries, on requests and streamed answers."""
