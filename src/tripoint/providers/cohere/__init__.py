"""The `cohere` backend type: Cohere's v2 chat and embed APIs."""
