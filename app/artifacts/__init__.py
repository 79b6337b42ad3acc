"""Content-addressed artifacts: adapters, models, indexes, checkpoints, dataset files."""
