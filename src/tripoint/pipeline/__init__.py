"""The call pipeline: the Call that flows through, its Record, and how stages compose."""
