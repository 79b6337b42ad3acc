"""`rung serve-model --engine vllm`: vLLM's OpenAI-compatible server with the project's adapters.

vLLM is a GPU extra (``pip install 'rung[vllm]'`` on a CUDA machine); it serves the base model
under Rung's base name and every ``--adapter NAME=PATH`` as a LoRA module (``--enable-lora``),
with continuous batching. Rung's eval harness and judges talk to it like to Rung's own server.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

INSTALL_HINT = (
    "vLLM is not installed. It needs a CUDA GPU: install the extra with "
    "`pip install 'rung[vllm]'` (or `pip install vllm`), or use the default --engine batching"
)


class VllmUnavailableError(RuntimeError):
    """vLLM cannot be started here (not installed)."""


def vllm_available() -> bool:
    return importlib.util.find_spec("vllm") is not None


def vllm_command(
    *,
    base: str | Path,
    served_name: str,
    adapters: Mapping[str, Path],
    host: str,
    port: int,
    max_lora_rank: int = 64,
) -> list[str]:
    """The argv of vLLM's OpenAI server for ``base`` plus ``adapters``."""
    command = [
        sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(base),
        "--served-model-name",
        served_name,
        "base",
        "--host",
        host,
        "--port",
        str(port),
    ]
    if adapters:
        command += ["--enable-lora", "--max-lora-rank", str(max_lora_rank), "--lora-modules"]
        command += [f"{name}={path}" for name, path in adapters.items()]
    return command


def run_vllm(
    *,
    base: str | Path,
    served_name: str,
    adapters: Mapping[str, Path],
    host: str,
    port: int,
) -> int:
    """Run vLLM's server in the foreground; returns its exit status (vLLM's own max_tokens)."""
    if not vllm_available():
        raise VllmUnavailableError(INSTALL_HINT)
    command = vllm_command(
        base=base,
        served_name=served_name,
        adapters=adapters,
        host=host,
        port=port,
    )
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 0
