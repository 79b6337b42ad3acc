"""`--help` without type noise: typer 0.29 prints ``<bool>`` beside every flag (``--help``
included) and ``<str>``/``<int>`` beside every value. Flags get no type; values get the plain
names click used to print (``TEXT``, ``INTEGER``, ``PATH``, ``a|b``), or a parameter's own
metavar."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from typer.core import TyperArgument, TyperOption

PLAIN = {
    "str": "TEXT",
    "int": "INTEGER",
    "float": "FLOAT",
    "file": "FILE",
    "path": "PATH",
    "directory": "DIR",
    "datetime": "DATETIME",
    "uuid": "UUID",
}
_BRACKETED = re.compile(r"^<(?P<label>.*)>(?P<rest>.*)$")


def _plain(label: str) -> str:
    if label.startswith("list[") and label.endswith("]"):
        return _plain(label[5:-1]) + "..."
    return " ".join(PLAIN.get(word, word.upper()) for word in label.split(" "))


def _wrap(original: Callable[..., str | None]) -> Callable[..., str | None]:
    def display_type_rich(self: Any, ctx: Any) -> str | None:
        if getattr(self, "is_flag", False) or getattr(self, "is_bool_flag", False):
            return None
        shown = original(self, ctx)
        if shown is None or getattr(self, "metavar", None) is not None:
            return shown
        match = _BRACKETED.match(shown)
        if match is None:
            return shown
        if "|" in match["label"]:  # a choice: its values are the type
            return match["label"] + match["rest"]
        return _plain(match["label"]) + match["rest"]

    display_type_rich.__wrapped__ = original  # type: ignore[attr-defined]
    return display_type_rich


def install() -> None:
    """Make every typer option and argument of this process show its type plainly (once)."""
    for cls in (TyperOption, TyperArgument):
        if not hasattr(cls.display_type_rich, "__wrapped__"):
            cls.display_type_rich = _wrap(cls.display_type_rich)  # type: ignore[method-assign]
