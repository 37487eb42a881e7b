"""The batch lane: OpenAI-compatible Files and Batches, run line by line through the pipeline."""
