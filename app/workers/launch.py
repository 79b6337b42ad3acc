"""Run a job's recipe in several processes with ``accelerate launch`` (``resources.processes``).

The worker stays the job's owner (lease, heartbeat, events, checkpoints to the store); the
training runs in N processes started by ``accelerate launch`` and talks back through files
(`recipes.launch`): rank 0's progress events are tailed into the job's events, every new
checkpoint is stored as in a single-process run, a stop (cancel, shutdown, lost lease, time
limit) creates the stop file and every rank stops at the same step, leaving a checkpoint.

How the processes are launched:

* GPUs (the worker sees at least N): ``accelerate launch --multi_gpu --num_processes N``, one
  process per GPU: DDP for LoRA SFT, QLoRA and DPO; ``--use_fsdp`` (full shard, full state dict
  when saving) for full SFT;
* CPU: the same launcher (torchrun underneath) with ``ACCELERATE_USE_CPU=true``: N CPU
  processes, DDP over gloo. (``accelerate launch --cpu --num_processes N`` starts one process
  in accelerate 1.15 unless mpirun is configured, so it is not used.)

Killing the worker kills the run: the processes share its process group, and each rank also
exits when the worker's process is gone; the job is then resumed from its last stored
checkpoint like any other.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from recipes.launch import LaunchSpec, read_result, write_rows
from recipes.run_types import ProgressEvent, RecipeInputs, RecipeResult

logger = logging.getLogger(__name__)

POLL_S = 0.5
FSDP_RECIPES = ("full_sft",)  # every weight trains: shard them; adapters train with DDP
LOG_TAIL = 3000


def gpu_count() -> int:
    """GPUs this process may use, found without importing torch (CUDA_VISIBLE_DEVICES, else the
    NVIDIA driver's list)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    gpus = Path("/proc/driver/nvidia/gpus")
    return sum(1 for _ in gpus.iterdir()) if gpus.is_dir() else 0


def accelerate_command(
    *, recipe: str, processes: int, spec_path: Path, port: int, gpus: int
) -> tuple[list[str], dict[str, str]]:
    """The ``accelerate launch`` command line and the environment changes for one run."""
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--num_machines",
        "1",
        "--num_processes",
        str(processes),
        "--multi_gpu",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(port),
    ]
    env: dict[str, str] = {}
    if gpus >= processes:
        if recipe in FSDP_RECIPES:
            cmd += [
                "--use_fsdp",
                "--fsdp_sharding_strategy",
                "FULL_SHARD",
                "--fsdp_auto_wrap_policy",
                "TRANSFORMER_BASED_WRAP",
                "--fsdp_state_dict_type",
                "FULL_STATE_DICT",
                "--fsdp_use_orig_params",
                "true",
            ]
    else:
        env["ACCELERATE_USE_CPU"] = "true"
        env["CUDA_VISIBLE_DEVICES"] = ""
        env["OMP_NUM_THREADS"] = str(max((os.cpu_count() or 1) // processes, 1))
    cmd += ["-m", "recipes.launch", str(spec_path)]
    return cmd, env


def run_processes(
    *,
    recipe: str,
    overrides: dict[str, Any],
    inputs: RecipeInputs,
    output_dir: Path,
    resume_from: Path | None,
    processes: int,
    work_dir: Path,
    models_dir: Path | None,
    progress: Callable[[ProgressEvent], None],
    should_stop: Callable[[], bool],
    log: Callable[[str], None],
) -> RecipeResult:
    """Run ``recipe`` in ``processes`` processes; its result, or its typed error raised.
    ``work_dir``: the attempt's own folder for the spec, rows, progress and result files."""
    run_dir = work_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in ("progress.jsonl", "stop", "result.json"):
        (run_dir / name).unlink(missing_ok=True)
    spec = LaunchSpec(
        recipe=recipe,
        overrides=overrides,
        train_rows=write_rows(run_dir / "train.jsonl", inputs.train_rows),
        eval_rows=write_rows(run_dir / "eval.jsonl", inputs.eval_rows),
        extras=inputs.extras,
        output_dir=str(output_dir),
        resume_from=str(resume_from) if resume_from else None,
        progress_file=str(run_dir / "progress.jsonl"),
        stop_file=str(run_dir / "stop"),
        result_file=str(run_dir / "result.json"),
        parent_pid=os.getpid(),
        models_dir=str(models_dir) if models_dir else None,
    )
    gpus = gpu_count()
    cmd, env = accelerate_command(
        recipe=recipe,
        processes=processes,
        gpus=gpus,
        port=_free_port(),
        spec_path=spec.write(run_dir / "spec.json"),
    )
    on = f"{processes} GPUs" if gpus >= processes else f"{processes} CPU processes (gloo)"
    log(f"launching {recipe} on {on}: accelerate launch {' '.join(cmd[3:])}")
    log_path = run_dir / "processes.log"
    with log_path.open("ab") as out:
        process = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            cwd=_project_root(),
        )
        tail = _Tail(Path(spec.progress_file))
        try:
            while process.poll() is None:
                tail.read(progress)
                if should_stop():
                    Path(spec.stop_file).touch()
                time.sleep(POLL_S)
        finally:
            if process.poll() is None:  # an exception here: do not leave training processes
                process.kill()
                process.wait()
        tail.read(progress)
    if process.returncode != 0 and not Path(spec.result_file).is_file():
        logger.warning(
            "training processes exited %s:\n%s",
            process.returncode,
            log_path.read_text(errors="replace")[-LOG_TAIL:],
        )
    return read_result(Path(spec.result_file))


class _Tail:
    """Reads the progress events appended to a file since the last read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def read(self, progress: Callable[[ProgressEvent], None]) -> None:
        if not self.path.is_file():
            return
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            for line in handle:
                if not line.endswith(b"\n"):
                    break  # half-written: read it next time
                self.offset += len(line)
                progress(ProgressEvent(**json.loads(line)))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _project_root() -> str:
    """Where ``recipes`` is importable from (the training processes run ``-m recipes.launch``)."""
    import recipes

    return str(Path(recipes.__file__).resolve().parents[1])
