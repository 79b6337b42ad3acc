"""Holdout evaluation: datasets, solvers, scorers, LLM judges and the paired-statistics gate.

An eval is a dataset (`evals.dataset`), a solver that produces outputs (`evals.solver`) and
scorers (`evals.scorers.REGISTRY`, plus the LLM judges in `evals.judges`). `evals.runner` runs one
and writes a result file (`evals.results`); `evals.gate` compares two result files example by
example under a policy (`evals.policy`) with the intervals, Holm correction and detectable
drop in `evals.inference`; `evals.calibration` simulates how often that gate is wrong.

This package never imports `app/`.
"""
