"""Fixes: one plan step turned into data, a recipe job, an evaluation on held-out cases and a gate.

`selection` picks the step's triaged cases and splits them; `builders` turns them into dataset
versions; `service` stores a fix and queues its job; `driver` advances it on the worker
(training -> evaluating -> gating); `evaluation` answers the held-out cases with the champion
and the candidate; `outcomes` counts what the fix fixed, left failing and broke.
"""
