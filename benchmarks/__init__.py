"""Tripoint's benchmark harness: the client straight to a fast upstream, then through Tripoint."""
