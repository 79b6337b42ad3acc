"""What hardware a recipe runs on."""

from __future__ import annotations

import importlib.util

from recipes.errors import RecipeEnvironmentError


def cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def bf16_supported() -> bool:
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def require_cuda(recipe: str, *, hint: str) -> None:
    """Raise `RecipeEnvironmentError` unless a CUDA GPU is visible (cheap: no model is loaded)."""
    if not cuda_available():
        raise RecipeEnvironmentError(f"{recipe} needs a CUDA GPU and this machine has none; {hint}")


def require_package(module: str, *, recipe: str, install: str) -> None:
    """Raise `RecipeEnvironmentError` unless ``module`` is installed (checked without importing)."""
    if importlib.util.find_spec(module) is None:
        raise RecipeEnvironmentError(f"{recipe} needs the {module!r} package: {install}")
