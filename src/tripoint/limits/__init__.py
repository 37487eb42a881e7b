"""Limits and budgets: reserve the worst case before dispatch, settle to actual usage after."""
