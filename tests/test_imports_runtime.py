"""Declared dependencies match imports: every module of app/, recipes/ and evals/ imports with
the runtime dependencies only (dev-only packages blocked by a meta path finder, in a fresh
interpreter), and every third-party package they import is declared in pyproject.toml."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "recipes", "evals")
DEV_ONLY = ("pytest", "_pytest", "pytest_timeout", "playwright", "schemathesis", "hypothesis")

IMPORT_ALL = """
import importlib, importlib.abc, json, pkgutil, sys

BLOCKED = set(sys.argv[1].split(","))


class RuntimeOnly(importlib.abc.MetaPathFinder):
    # The path finder, blind to dev-only packages: they look uninstalled (find_spec is None,
    # importing them raises ModuleNotFoundError).

    def __init__(self, finder):
        self.finder = finder

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            return None
        return self.finder.find_spec(name, path, target)

    def invalidate_caches(self):
        self.finder.invalidate_caches()

    def find_distributions(self, *args, **kwargs):  # importlib.metadata asks the finders
        return self.finder.find_distributions(*args, **kwargs)


sys.meta_path[:] = [
    RuntimeOnly(f) if getattr(f, "__name__", "") == "PathFinder" else f for f in sys.meta_path
]
failures, count = [], 0
for root in sys.argv[2].split(","):
    package = importlib.import_module(root)
    for info in pkgutil.walk_packages(package.__path__, root + ".", onerror=lambda n: None):
        if info.name.rsplit(".", 1)[-1] == "__main__":
            continue
        count += 1
        try:
            importlib.import_module(info.name)
        except BaseException as exc:
            failures.append(f"{info.name}: {type(exc).__name__}: {exc}")
print(json.dumps({"count": count, "failures": failures,
                  "dev_loaded": sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)}))
"""


def test_every_module_imports_without_dev_only_packages() -> None:
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL, ",".join(DEV_ONLY), ",".join(PACKAGES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={"HF_HUB_OFFLINE": "1", "RAGAS_DO_NOT_TRACK": "true", "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["count"] > 100, result
    assert result["failures"] == [], "\n".join(result["failures"])
    assert result["dev_loaded"] == []


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = list(project["dependencies"])
    extras = [
        d for name, deps in project["optional-dependencies"].items() if name != "dev" for d in deps
    ]
    return {_normalise(re.split(r"[\s\[<>=!~;]", d, maxsplit=1)[0]) for d in runtime + extras}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_imported_package_is_declared() -> None:
    distributions = importlib.metadata.packages_distributions()
    declared = _declared()
    undeclared = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names = [node.module]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top in PACKAGES:
                        continue
                    dists = distributions.get(top) or [top.replace("_", "-")]
                    if not declared & {_normalise(d) for d in dists}:
                        undeclared.append(f"{path.relative_to(ROOT)}: {top} ({', '.join(dists)})")
    assert undeclared == [], "declare these in pyproject.toml:\n" + "\n".join(
        sorted(set(undeclared))
    )
