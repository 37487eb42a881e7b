"""The `ollama` backend type: Ollama native `/api/chat`, `/api/generate` and `/api/embed`."""
