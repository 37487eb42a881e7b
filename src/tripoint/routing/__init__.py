"""Routing: pick among a call's allowed targets, fall back before the first byte."""
