"""The call ledger: one hash-chained row per call (usage, cost, and audit), written in batches
off the hot path, queryable for usage reports, audit and data-flow reports."""
