"""How often the promotion gate is wrong, by simulation.

A/A pairs: the candidate is a re-run of the baseline's model, no real difference; a "fail" is a
false alarm. A/B pairs: the candidate is worse by twice the margin; "fail" is a catch, and
"pass" would let a regression through. Both for a continuous metric (BCa bootstrap interval) and
a 0/1 metric (Tango score interval), at n = 30, 100 and 300 examples, through the gate's own
interval and decision functions (`evals.calibration`).

    python bench/gate_calibration.py                 # 1,000 pairs per cell, margin 0.05
    python bench/gate_calibration.py --pairs 300 --margin 0.02
"""

from __future__ import annotations

import argparse
import time

from evals.calibration import NOISE_SD, rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=1000, help="simulated gates per cell")
    parser.add_argument("--margin", type=float, default=0.05, help="the policy's margin")
    parser.add_argument("--resamples", type=int, default=9999, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    drop = 2 * args.margin
    print(
        f"Gate calibration: {args.pairs} simulated pairs per row, margin {args.margin}, "
        f"95% intervals, A/B drop {drop:.2f} (2x the margin); continuous noise sd {NOISE_SD}"
    )
    print()
    print("| metric | n | A/A false-fail | A/A pass | A/B detected (fail) | A/B passed | seconds |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for kind in ("continuous", "binary"):
        for n in (30, 100, 300):
            start = time.perf_counter()
            aa = rates(
                kind,
                n=n,
                pairs=args.pairs,
                drop=0.0,
                margin=args.margin,
                seed=args.seed,
                resamples=args.resamples,
            )
            ab = rates(
                kind,
                n=n,
                pairs=args.pairs,
                drop=drop,
                margin=args.margin,
                seed=args.seed + 1,
                resamples=args.resamples,
            )
            label = "continuous (BCa)" if kind == "continuous" else "0/1 (Tango)"
            print(
                f"| {label} | {n} | {aa.fail:.1%} | {aa.passed:.1%} | {ab.fail:.1%} | "
                f"{ab.passed:.1%} | {time.perf_counter() - start:.1f} |"
            )
    print()
    print("The rest of each row is 'undecided': not enough evidence either way, never a pass.")


if __name__ == "__main__":
    main()
