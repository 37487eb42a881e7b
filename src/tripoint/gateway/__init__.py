"""Gateway assembly: one object that owns the providers, routes and the composed pipeline."""

from tripoint.gateway.gateway import Gateway

__all__ = ["Gateway"]
