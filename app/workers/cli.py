"""`rung worker`: run jobs from a queue (Celery with a broker, else by polling the database)."""

from __future__ import annotations

import os
import signal
import socket
import threading

import typer
from rich.console import Console

from app.config import WorkerPolicy, get_settings

console = Console(stderr=True)


def worker(
    queue: list[str] = typer.Option(
        ["default"], "--queue", "-Q", help="queue(s) to take jobs from: default, gpu"
    ),
    concurrency: int = typer.Option(
        1, min=1, help="jobs at once; on the gpu queue give the number of GPUs (one job each)"
    ),
    loglevel: str = typer.Option("info", help="Celery log level"),
    gpus: int = typer.Option(
        None, min=0, help="GPUs this worker owns [default: those it sees]; with one process it "
        "also takes jobs that need 2..GPUS of them (resources.processes)",
    ),
) -> None:
    """Start a worker that runs jobs.

    With RUNG_BROKER_URL (redis://... or amqp://...) this is a Celery worker: one job at a time
    per process (prefetch 1, late acks), e.g. on a GPU machine:

        RUNG_BROKER_URL=redis://redis:6379/0 rung worker --queue gpu --concurrency 2

    Without a broker it polls the database for queued jobs (like the worker inside rung serve).

    A GPU worker advertises the GPUs it owns by the queues it takes jobs from: `gpu` (one GPU)
    and, with --concurrency 1, `gpu-N` for each N up to its GPUs; a job that needs N GPUs waits
    on `gpu-N` for a worker that has them.
    """
    unknown = sorted(set(queue) - set(WorkerPolicy.queues))
    if unknown:
        console.print(
            f"[red]Unknown queue(s) {', '.join(unknown)}[/]; use {', '.join(WorkerPolicy.queues)}"
        )
        raise typer.Exit(2)
    settings = get_settings()
    queue = _advertised(queue, gpus=gpus, concurrency=concurrency)
    if not settings.broker_url:
        _poll_forever(queue)
        return
    from app.workers.celery_app import celery_for

    if concurrency > 1 and "gpu" in queue:
        os.environ["RUNG_PIN_GPU_PER_PROCESS"] = "1"
    app = celery_for(settings)
    pool = "solo" if concurrency == 1 else "prefork"
    app.worker_main(
        argv=[
            "worker",
            f"--queues={','.join(queue)}",
            f"--concurrency={concurrency}",
            f"--pool={pool}",
            "--prefetch-multiplier=1",
            f"--loglevel={loglevel}",
            f"--hostname=rung-{'-'.join(queue)}-{os.getpid()}@{socket.gethostname()}",
            "--without-gossip",
            "--without-mingle",
        ]
    )


def _advertised(queues: list[str], *, gpus: int | None, concurrency: int) -> list[str]:
    """The queues to take jobs from: multi-GPU queues for the GPUs a one-process worker owns."""
    from app.workers.launch import gpu_count

    if "gpu" not in queues or concurrency > 1:
        return queues
    owned = gpu_count() if gpus is None else gpus
    extra = [q for q in WorkerPolicy().gpu_queues(owned) if q not in queues]
    if extra:
        console.print(f"{owned} GPUs: also taking jobs that need several ({', '.join(extra)})")
    return [*queues, *extra]


def _poll_forever(queues: list[str]) -> None:
    from app.workers.polling import PollingWorker

    polling = PollingWorker(settings=get_settings(), policy=get_settings().job, queues=queues,
                            wake=threading.Event())
    console.print(
        f"No RUNG_BROKER_URL: polling the database for jobs on {', '.join(queues)} (Ctrl-C stops)"
    )
    stopped = threading.Event()

    def _stop(*_: object) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    from app.workers.triage_worker import start_triage_worker

    polling.start()
    triager = start_triage_worker(get_settings())  # triage of stored cases; off: None
    stopped.wait()
    console.print("Stopping: a running job stops at its next step and is re-queued.")
    polling.stop()
    if triager is not None:
        triager.stop()
