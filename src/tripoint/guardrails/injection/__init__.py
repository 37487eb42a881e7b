"""Prompt-injection detection: cheap rules first, then a classifier on sentence embeddings."""
