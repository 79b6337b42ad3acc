"""Training/indexing jobs: submission, state, events (SSE), logs, artifacts."""
