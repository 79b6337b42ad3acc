"""Check a job's recipe, dataset kind and config overrides before anything is queued."""

from __future__ import annotations

from typing import Any

from app.core.errors import InvalidInputError

# Which dataset kind each recipe dataset shape consumes.
SHAPE_KIND = {"sft": "sft", "dpo": "preference", "rag": "documents"}


def recipe_spec(name: str) -> Any:
    from recipes import REGISTRY

    spec = REGISTRY.get(name)
    if spec is None:
        raise InvalidInputError(
            f"unknown recipe {name!r}; known recipes: {', '.join(sorted(REGISTRY))}",
            errors=[{"field": "recipe", "message": "unknown", "valid": sorted(REGISTRY)}],
        )
    return spec


def validated_config(spec: Any, overrides: dict[str, Any]) -> dict[str, Any]:
    """The full config (as a dict) for ``overrides``; 422 naming a bad or unknown key."""
    from recipes.errors import RecipeConfigError, UnknownConfigKeyError

    try:
        config = spec.config_class.from_overrides(overrides)
    except UnknownConfigKeyError as exc:
        raise InvalidInputError(
            f"unknown config key {exc.key!r} for recipe {spec.name}; valid keys: "
            f"{', '.join(exc.valid_keys)}",
            errors=[{"field": f"config.{exc.key}", "message": "unknown key",
                     "valid_keys": exc.valid_keys}],
        ) from exc
    except RecipeConfigError as exc:
        field = f"config.{exc.field}" if exc.field else "config"
        raise InvalidInputError(
            f"invalid config for recipe {spec.name}: {exc}",
            errors=[{"field": field, "message": str(exc)}],
        ) from exc
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"invalid config for recipe {spec.name}: {exc}") from exc
    return config.to_dict() if hasattr(config, "to_dict") else dict(vars(config))


def check_dataset_kind(spec: Any, *, kind: str, what: str = "dataset") -> None:
    wanted = SHAPE_KIND.get(spec.dataset, spec.dataset)
    if kind != wanted:
        raise InvalidInputError(
            f"recipe {spec.name} trains on {wanted} data but the {what} is {kind} data; "
            f"push a {wanted} dataset (rung datasets push PROJECT FILE --kind {wanted})",
            errors=[{"field": what, "message": f"expected {wanted}, got {kind}"}],
        )
