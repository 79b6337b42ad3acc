"""Triage throughput: 1,000 cases synthesised from the training cases.

Prints cases per second and the engine overhead ratio: total engine time divided by the time
of the embedding model alone on the same texts (the engine also takes token vectors from the
same forward pass, for the field alignment). Both sides run interleaved, 3 times by default;
figures are medians with the min-max spread. Figures only, no assertions.

    python bench/triage_throughput.py [--cases 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from app.cases.schemas import FailureCase
from app.triage.alignment import ALIGN_PAIRS
from app.triage.engine import load_engine
from app.triage.features import SIMILARITY_PAIRS, field_text
from app.triage.training.train import load_training_set


def synthesise(n: int) -> list[FailureCase]:
    """`n` distinct cases: training cases cycled, each with a numbered input and output."""
    base = [c.case for c in load_training_set().cases]
    out: list[FailureCase] = []
    for i in range(n):
        case = base[i % len(base)]
        out.append(
            case.model_copy(
                update={"input": f"{case.input} (#{i})", "output": f"{case.output} [{i}]"}
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    started = time.perf_counter()
    engine = load_engine()
    engine.triage(synthesise(4))  # warm-up
    load_s = time.perf_counter() - started
    cases = synthesise(args.cases)

    pairs = (*SIMILARITY_PAIRS, *ALIGN_PAIRS)
    fields = list(dict.fromkeys([*engine.classifier.config.fields, *(f for p in pairs for f in p)]))
    texts = [field_text(case, name) for name in fields for case in cases]
    engine_runs: list[float] = []
    embed_runs: list[float] = []
    for _ in range(args.repeats):  # interleaved, so both sides see the same machine load
        started = time.perf_counter()
        results = engine.triage(cases)
        engine_runs.append(time.perf_counter() - started)
        started = time.perf_counter()
        engine.embedder.encode(texts)
        embed_runs.append(time.perf_counter() - started)
    engine_s, embed_s = statistics.median(engine_runs), statistics.median(embed_runs)
    ratios = [e / m for e, m in zip(engine_runs, embed_runs, strict=True)]

    flagged = sum(r.needs_review for r in results)
    print(f"engine version        : {engine.version}")
    print(f"load + warm-up        : {load_s:.1f} s")
    print(f"cases                 : {len(cases)} ({flagged} flagged needs_review)")
    print(f"embedded texts        : {len(texts)} ({', '.join(fields)})")
    rates = sorted(len(cases) / s for s in engine_runs)
    print(
        f"engine time (median)  : {engine_s:.2f} s  -> {len(cases) / engine_s:.1f} cases/s "
        f"(runs: {', '.join(f'{r:.1f}' for r in rates)} cases/s)"
    )
    print(f"embedding model alone : {embed_s:.2f} s  -> {len(cases) / embed_s:.1f} cases/s")
    print(
        f"engine overhead ratio : {statistics.median(ratios):.2f} median "
        f"(min {min(ratios):.2f}, max {max(ratios):.2f}; engine time / embedding time)"
    )


if __name__ == "__main__":
    main()
