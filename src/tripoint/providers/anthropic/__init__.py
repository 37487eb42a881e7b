"""The `anthropic` backend type: Anthropic's Messages API."""
