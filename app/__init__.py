"""Rung: triage LLM failures, run the cheapest fix on the ladder, gate promotion on evals."""

__version__ = "0.1.0"
