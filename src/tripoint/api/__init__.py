"""The HTTP edge: OpenAI-compatible routes, request ids, error envelopes, SSE streaming."""
