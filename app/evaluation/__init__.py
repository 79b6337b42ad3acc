"""Evaluation in the service: the `rung eval` commands (the metrics live in `evals/`)."""
