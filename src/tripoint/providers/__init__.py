"""Providers translate between Tripoint's OpenAI-shaped calls and each backend's wire format.

A provider is a pure codec plus a thin transport; it never decides (no retries, limits or
logging here). Capabilities are small separate interfaces: a backend implements those it has.
"""
