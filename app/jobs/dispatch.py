"""What job services need from whoever runs jobs: a way to hand over a job id.

`app.workers.dispatch` implements it (in-process wake-up, or a Celery broker); the application
wires one in at start-up (``app.state.dispatcher``), so job services never import the workers.
"""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request

from app.core.errors import ServiceUnavailableError


class BrokerUnavailableError(ServiceUnavailableError):
    """The broker did not take the job; nothing was queued."""


class Dispatcher(Protocol):
    def send(self, job_id: str, *, queue: str, countdown: float = 0) -> None: ...


def get_dispatcher(request: Request) -> Dispatcher:
    return request.app.state.dispatcher


DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]
