"""The `openai` backend type: OpenAI and every OpenAI-compatible server."""
