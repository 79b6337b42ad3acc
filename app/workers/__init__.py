"""Job workers: the in-process worker of `rung serve`, and Celery workers (`rung worker`)."""
