"""Base class of recipe configs: typed dataclass fields with help, strict loading and coercion.

Each recipe config is a ``@dataclass`` subclass of `RecipeConfig` whose fields carry
``metadata={"help": "..."}`` (the default and why). Build one with:

* ``Config(...)`` - plain keyword arguments; ``__post_init__`` validates values.
* ``Config.from_dict({"lora_r": 8})`` - rejects unknown keys with `UnknownConfigKeyError` and
  coerces strings to the field type (``"8"`` -> 8, ``"true"`` -> True, ``"a,b"`` -> ["a", "b"]).
* ``Config.from_overrides(["lora_r=8", "learning_rate=1e-4"])`` - the same from CLI strings
  (a mapping is accepted too).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Self

from recipes.errors import RecipeConfigError, UnknownConfigKeyError

_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}
_NONE = {"none", "null", ""}


@dataclasses.dataclass
class RecipeConfig:
    """Shared loading, coercion and help for recipe configs (subclasses add the fields)."""

    def __post_init__(self) -> None:
        """Subclasses validate here and call ``super().__post_init__()``."""

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def default(cls, name: str) -> Any:
        """The default of field ``name`` (what a run without that override uses)."""
        for f in dataclasses.fields(cls):
            if f.name == name:
                if f.default is not dataclasses.MISSING:
                    return f.default
                if f.default_factory is not dataclasses.MISSING:
                    return f.default_factory()
                raise KeyError(f"{cls.__name__}.{name} has no default")
        raise KeyError(f"{cls.__name__} has no field {name!r}")

    @classmethod
    def field_help(cls) -> dict[str, str]:
        """Field name -> help text (what the default is and why)."""
        return {f.name: str(f.metadata.get("help", "")) for f in dataclasses.fields(cls)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build from a mapping; unknown keys raise `UnknownConfigKeyError`, strings are coerced."""
        if not isinstance(data, Mapping):
            raise RecipeConfigError(
                f"{cls.__name__} expects a mapping of field -> value, got {type(data).__name__}"
            )
        hints = typing.get_type_hints(cls)
        valid = cls.field_names()
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in valid:
                raise UnknownConfigKeyError(str(key), config_name=cls.__name__, valid_keys=valid)
            kwargs[key] = _coerce(value, hints[key], field=key)
        return cls(**kwargs)

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, Any] | Iterable[str] | None) -> Self:
        """Build from CLI-style ``["key=value", ...]`` strings or a mapping (see `from_dict`)."""
        if overrides is None:
            return cls()
        if isinstance(overrides, Mapping):
            return cls.from_dict(overrides)
        parsed: dict[str, str] = {}
        for item in overrides:
            if not isinstance(item, str) or "=" not in item:
                raise RecipeConfigError(
                    f"override {item!r} is not of the form key=value "
                    f"(valid keys: {', '.join(cls.field_names())})"
                )
            key, _, value = item.partition("=")
            parsed[key.strip()] = value.strip()
        return cls.from_dict(parsed)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict of the config (paths become strings)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = str(value) if isinstance(value, Path) else value
        return out

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)


def _coerce(value: Any, hint: Any, *, field: str) -> Any:
    """Coerce ``value`` (often a CLI string) to the type ``hint``; RecipeConfigError otherwise."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        is_none = value is None or (isinstance(value, str) and value.strip().lower() in _NONE)
        if is_none and type(None) in args:
            return None
        errors: list[str] = []
        for option in non_none:
            try:
                return _coerce(value, option, field=field)
            except RecipeConfigError as exc:
                errors.append(str(exc))
        raise RecipeConfigError(f"{field}: {value!r} does not fit {_type_name(hint)}", field=field)
    if origin is typing.Literal:
        if value in args:
            return value
        raise RecipeConfigError(
            f"{field}: {value!r} is not one of {', '.join(map(repr, args))}", field=field
        )
    if origin in (list, tuple):
        item_hint = args[0] if args else Any
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise RecipeConfigError(
                        f"{field}: bad JSON list {text!r}: {exc}", field=field
                    ) from exc
            else:
                value = [part.strip() for part in text.split(",") if part.strip()]
        if not isinstance(value, list | tuple):
            raise RecipeConfigError(
                f"{field}: expected a list, got {type(value).__name__} {value!r}", field=field
            )
        items = [_coerce(v, item_hint, field=field) for v in value]
        return items if origin is list else tuple(items)
    if origin is dict:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise RecipeConfigError(
                    f"{field}: bad JSON object {value!r}: {exc}", field=field
                ) from exc
        if not isinstance(value, dict):
            raise RecipeConfigError(f"{field}: expected an object, got {value!r}", field=field)
        return value
    if hint is Any:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise RecipeConfigError(f"{field}: expected true/false, got {value!r}", field=field)
    if hint is int:
        if isinstance(value, bool):
            raise RecipeConfigError(f"{field}: expected an integer, got {value!r}", field=field)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise RecipeConfigError(f"{field}: expected an integer, got {value!r}", field=field)
    if hint is float:
        if isinstance(value, bool):
            raise RecipeConfigError(f"{field}: expected a number, got {value!r}", field=field)
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise RecipeConfigError(f"{field}: expected a number, got {value!r}", field=field)
    if hint is str:
        if isinstance(value, str):
            return value
        raise RecipeConfigError(f"{field}: expected a string, got {value!r}", field=field)
    if hint is Path:
        if isinstance(value, str | Path):
            return Path(value).expanduser()
        raise RecipeConfigError(f"{field}: expected a path, got {value!r}", field=field)
    return value


def _type_name(hint: Any) -> str:
    return str(hint).replace("typing.", "")


def require(condition: bool, message: str, *, field: str) -> None:
    """Raise `RecipeConfigError` naming ``field`` unless ``condition`` holds."""
    if not condition:
        raise RecipeConfigError(f"{field}: {message}", field=field)
