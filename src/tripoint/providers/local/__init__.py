"""The `local` backend: the embedded engine behind the provider contract."""
