"""The `vertex` backend type: Gemini on Google Vertex AI, and Vertex text embeddings."""
