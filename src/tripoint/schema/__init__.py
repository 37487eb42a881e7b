"""Typed shapes of what flows through the gateway: OpenAI wire requests and internal chunks."""
