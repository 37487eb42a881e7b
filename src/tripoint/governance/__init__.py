"""Data governance: classify each call's data, then narrow the targets it may reach."""
