"""Eval harness throughput vs the endpoint's own throughput, at concurrency 1, 2 and 4.

Starts `rung serve-model`'s server in-process with SmolLM2-135M-Instruct (short max_tokens),
then for each concurrency level measures:

* eval: examples/s of `evals.runner.run_eval` (ChatClient over httpx, exact_match + rouge_l scoring,
  no cache) over N examples;
* raw:  requests/s of a plain httpx async load generator sending the same N chat requests.

Both run ``--repeats`` times (default 3) at each level, interleaved (the order alternates), and
the table shows medians. The ratio eval/raw is the harness's overhead (1.0 = none). No
assertions.

    python bench/eval_throughput.py [--examples 8] [--max-tokens 16] [--concurrency 1 2 4]
        [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from rich.console import Console
from rich.table import Table

from app.serving.engine import GenerationEngine
from app.serving.launch import ModelServerThread
from evals.chat import ChatClient, GenerationParams
from evals.dataset import Example
from evals.runner import run_eval
from evals.scorers import build_scorer
from evals.solver import ChatModelSolver
from recipes.base_models import DEFAULT_BASE_MODEL, resolve_base_model

QUESTIONS = [
    ("What is the capital of France?", "Paris"),
    ("What is 2 + 2?", "4"),
    ("Name a primary colour.", "Red"),
    ("What is the opposite of hot?", "Cold"),
    ("How many days are in a week?", "7"),
    ("What animal says moo?", "A cow"),
    ("What is frozen water called?", "Ice"),
    ("Which planet do we live on?", "Earth"),
]


def _examples(n: int) -> list[Example]:
    return [
        Example(
            id=f"q{i}",
            input=f"{QUESTIONS[i % len(QUESTIONS)][0]} (#{i})",
            expected=QUESTIONS[i % len(QUESTIONS)][1],
        )
        for i in range(n)
    ]


async def _raw(
    base_url: str, examples: list[Example], *, concurrency: int, max_tokens: int
) -> float:
    semaphore = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=600) as client:

        async def one(example: Example) -> None:
            async with semaphore:
                response = await client.post(
                    "/chat/completions",
                    json={
                        "model": DEFAULT_BASE_MODEL,
                        "messages": example.messages(),
                        "max_tokens": max_tokens,
                        "temperature": 0,
                    },
                )
                response.raise_for_status()

        start = time.perf_counter()
        await asyncio.gather(*(one(e) for e in examples))
        return len(examples) / (time.perf_counter() - start)


async def _eval(
    base_url: str, examples: list[Example], *, concurrency: int, max_tokens: int
) -> float:
    client = ChatClient.for_endpoint(
        endpoint=base_url,
        model=DEFAULT_BASE_MODEL,
        params=GenerationParams(temperature=0.0, max_tokens=max_tokens),
    )
    scorers = [build_scorer("exact_match"), build_scorer("rouge_l")]
    start = time.perf_counter()
    result = await run_eval(
        examples=examples,
        solver=ChatModelSolver(client=client),
        scorers=scorers,
        concurrency=concurrency,
    )
    elapsed = time.perf_counter() - start
    if result.run["n_errors"]:
        raise RuntimeError(f"{result.run['n_errors']} examples failed")
    return len(examples) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    console = Console()
    console.print(f"loading {DEFAULT_BASE_MODEL} ...")
    engine = GenerationEngine.load(
        base=resolve_base_model(DEFAULT_BASE_MODEL), base_name=DEFAULT_BASE_MODEL
    )
    examples = _examples(args.examples)
    build_scorer("rouge_l")  # load the stemmer before timing
    table = Table(
        title=f"eval vs raw endpoint throughput, medians of {args.repeats} "
        f"({args.examples} examples, max_tokens={args.max_tokens}, {os.cpu_count()} CPUs)"
    )
    for column in ("concurrency", "eval examples/s", "raw requests/s", "eval / raw"):
        table.add_column(column, justify="right")
    with ModelServerThread(engine, default_max_tokens=args.max_tokens) as server:
        asyncio.run(_raw(server.base_url, examples[:1], concurrency=1, max_tokens=4))  # warm up
        for concurrency in args.concurrency:
            runs: dict[str, list[float]] = {"eval": [], "raw": []}
            for repeat in range(args.repeats):
                order = ["raw", "eval"] if repeat % 2 == 0 else ["eval", "raw"]
                for kind in order:
                    measure = _raw if kind == "raw" else _eval
                    runs[kind].append(
                        asyncio.run(
                            measure(
                                server.base_url,
                                examples,
                                concurrency=concurrency,
                                max_tokens=args.max_tokens,
                            )
                        )
                    )
            harness, raw = statistics.median(runs["eval"]), statistics.median(runs["raw"])
            table.add_row(str(concurrency), f"{harness:.3f}", f"{raw:.3f}", f"{harness / raw:.2f}")
            console.print(
                f"concurrency {concurrency}: eval {', '.join(f'{v:.3f}' for v in runs['eval'])}/s"
                f"; raw {', '.join(f'{v:.3f}' for v in runs['raw'])}/s"
            )
    console.print(table)


if __name__ == "__main__":
    main()
