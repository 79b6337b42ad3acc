"""Gate policy: which metrics are gated and how much of a drop is a regression.

Policy file (YAML or JSON)::

    defaults:                 # applied to every metric present in both runs
      margin: 0.01            # number = absolute; "2%" = relative to the baseline mean
      confidence: 0.95
      direction: higher       # higher | lower (which way is better)
      on_undecided: warn      # warn | fail: an undecided metric leaves the gate undecided
                              # (never a pass), or fails it outright
      min_examples: 30        # fewer paired examples than this -> undecided: too few examples
    metrics:
      exact_match: {margin: 0.02, on_undecided: fail, required: true}
      length: {direction: lower}
      bleu: {gate: false}     # reported, not gated
    only: [exact_match, rouge_l]   # optional: gate just these
    judge:                    # a judge metric above either limit is undecided: judge unreliable
      max_unparsed: 0.10      # share of judge verdicts that could not be parsed
      max_flip_rate: 0.20     # share of pairwise verdicts that flipped when the order was swapped
    resamples: 10000
    seed: 0

A policy must gate at least one metric: one whose every metric is skipped could never say
anything, so it is refused. On a Rung server the project's stored policy applies; a request may
only tighten it (``merge_policy`` then ``loosenings``).

Without ``margin`` a metric whose scores all lie in [0, 1] gets 0.01 absolute, any other metric
1% of the baseline mean.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from evals.errors import PolicyError
from evals.stats import DEFAULT_RESAMPLES

DEFAULT_ABSOLUTE_MARGIN = 0.01
DEFAULT_RELATIVE_MARGIN = 0.01
DEFAULT_MIN_EXAMPLES = 30
DEFAULT_MAX_JUDGE_UNPARSED = 0.10
DEFAULT_MAX_JUDGE_FLIP_RATE = 0.20


class MetricPolicy(BaseModel):
    """Settings for one metric; unset fields fall back to the policy's defaults."""

    model_config = ConfigDict(extra="forbid")

    margin: float | str | None = None
    confidence: float | None = Field(default=None, gt=0.5, lt=1.0)
    direction: Literal["higher", "lower"] | None = None
    on_undecided: Literal["fail", "warn"] | None = None
    min_examples: int | None = Field(default=None, ge=1)
    gate: bool | None = None
    required: bool = False

    @field_validator("margin")
    @classmethod
    def _margin_form(cls, value: float | str | None) -> float | str | None:
        if value is None:
            return None
        if isinstance(value, str):
            parse_margin(value)
        elif value < 0:
            raise ValueError("margin must be >= 0")
        return value


class ResolvedMetricPolicy(BaseModel):
    """A metric's settings with the defaults filled in."""

    margin: float | str | None
    confidence: float
    direction: Literal["higher", "lower"]
    on_undecided: Literal["fail", "warn"]
    min_examples: int
    gate: bool
    required: bool


class JudgeLimits(BaseModel):
    """When a judge metric has earned its vote."""

    model_config = ConfigDict(extra="forbid")

    max_unparsed: float = Field(default=DEFAULT_MAX_JUDGE_UNPARSED, ge=0.0, le=1.0)
    max_flip_rate: float = Field(default=DEFAULT_MAX_JUDGE_FLIP_RATE, ge=0.0, le=1.0)


class GatePolicy(BaseModel):
    """The whole policy."""

    model_config = ConfigDict(extra="forbid")

    defaults: MetricPolicy = Field(default_factory=MetricPolicy)
    metrics: dict[str, MetricPolicy] = Field(default_factory=dict)
    only: list[str] | None = None
    judge: JudgeLimits = Field(default_factory=JudgeLimits)
    resamples: int = Field(default=DEFAULT_RESAMPLES, ge=100)
    seed: int = 0

    @model_validator(mode="after")
    def _gates_something(self) -> GatePolicy:
        if self.only is not None and not self.only:
            raise ValueError("only: [] gates no metric; list at least one metric or drop 'only'")
        if self.defaults.gate is False and not any(m.gate for m in self.metrics.values()):
            raise ValueError(
                "this policy skips every metric (defaults.gate: false and no metric has "
                "gate: true), so its gate could never pass; set gate: true on at least one metric"
            )
        if self.only is not None and all(
            self.metrics.get(m, MetricPolicy()).gate is False
            or (self.metrics.get(m, MetricPolicy()).gate is None and self.defaults.gate is False)
            for m in self.only
        ):
            raise ValueError("every metric in 'only' has gate: false; gate at least one of them")
        return self

    def for_metric(self, metric: str) -> ResolvedMetricPolicy:
        """The settings that apply to ``metric``."""
        own = self.metrics.get(metric, MetricPolicy())
        base = self.defaults

        def pick(name: str, fallback: Any) -> Any:
            value = getattr(own, name)
            if value is None:
                value = getattr(base, name)
            return fallback if value is None else value

        gated = pick("gate", True) and (self.only is None or metric in self.only)
        return ResolvedMetricPolicy(
            margin=pick("margin", None),
            confidence=pick("confidence", 0.95),
            direction=pick("direction", "higher"),
            on_undecided=pick("on_undecided", "warn"),
            min_examples=pick("min_examples", DEFAULT_MIN_EXAMPLES),
            gate=gated,
            required=own.required,
        )


def parse_margin(value: float | str) -> tuple[float, bool]:
    """``(amount, relative)``: ``0.02`` -> (0.02, False); ``"2%"`` -> (0.02, True)."""
    if isinstance(value, int | float):
        return float(value), False
    text = value.strip()
    try:
        if text.endswith("%"):
            amount = float(text[:-1]) / 100.0
            relative = True
        else:
            amount = float(text)
            relative = False
    except ValueError as exc:
        raise ValueError(f"margin {value!r} must be a number (absolute) or like '2%'") from exc
    if amount < 0:
        raise ValueError("margin must be >= 0")
    return amount, relative


def effective_margin(
    policy: ResolvedMetricPolicy, *, baseline_mean: float, unit_interval: bool
) -> float:
    """The absolute margin for a metric given its baseline mean and whether scores are in [0,1]."""
    if policy.margin is None:
        if unit_interval:
            return DEFAULT_ABSOLUTE_MARGIN
        return DEFAULT_RELATIVE_MARGIN * abs(baseline_mean)
    amount, relative = parse_margin(policy.margin)
    return amount * abs(baseline_mean) if relative else amount


def load_policy(path: str | Path | None) -> GatePolicy:
    """Read a YAML (.yaml/.yml) or JSON policy file; ``None`` gives the default policy."""
    if path is None:
        return GatePolicy()
    path = Path(path)
    if not path.is_file():
        raise PolicyError(f"policy file not found: {path}")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in {".yaml", ".yml"}:
        try:
            import yaml
        except ImportError as exc:
            raise PolicyError(f"{path} is YAML but pyyaml is not installed; use JSON") from exc
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise PolicyError(f"cannot parse policy {path}: {exc}") from exc
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PolicyError(f"cannot parse policy {path} as JSON: {exc}") from exc
    if data is None:
        return GatePolicy()
    if not isinstance(data, dict):
        raise PolicyError(f"policy {path} must be a mapping with 'defaults' and/or 'metrics'")
    try:
        return GatePolicy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(f"invalid policy {path}: {_problems(exc)}") from exc


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def merge_policy(base: GatePolicy, override: Mapping[str, Any] | None) -> GatePolicy:
    """``base`` with the fields ``override`` sets (a request's tightening of a stored policy).

    Raises PolicyError when the merged policy is not valid.
    """
    if not override:
        return base
    data = _deep_merge(base.model_dump(mode="json", exclude_none=True), override)
    try:
        return GatePolicy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(f"invalid policy: {_problems(exc)}") from exc


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'policy'}: {err['msg']}" for err in exc.errors()
    )


def loosenings(
    stored: GatePolicy, effective: GatePolicy, *, scales: Mapping[str, tuple[float, bool]]
) -> list[str]:
    """Every way ``effective`` is looser than ``stored`` on these metrics (empty = it only
    tightens). ``scales`` maps each metric to (baseline mean, scores within [0, 1]), which
    turns relative and default margins into the numbers the gate will use.
    """
    problems: list[str] = []
    names = sorted(set(scales) | set(stored.metrics) | set(effective.metrics))
    for name in names:
        old, new = stored.for_metric(name), effective.for_metric(name)
        if old.gate and not new.gate:
            problems.append(f"{name}: stops gating it")
        if old.required and not new.required:
            problems.append(f"{name}: drops required: true")
        if new.direction != old.direction:
            problems.append(f"{name}: changes direction from {old.direction}")
        if new.confidence < old.confidence:
            problems.append(f"{name}: lowers confidence {old.confidence} -> {new.confidence}")
        if new.min_examples < old.min_examples:
            problems.append(f"{name}: lowers min_examples {old.min_examples} -> {new.min_examples}")
        if old.on_undecided == "fail" and new.on_undecided != "fail":
            problems.append(f"{name}: on_undecided fail -> {new.on_undecided}")
        if name in scales:
            mean, unit = scales[name]
            before = effective_margin(old, baseline_mean=mean, unit_interval=unit)
            after = effective_margin(new, baseline_mean=mean, unit_interval=unit)
            if after > before + 1e-12:
                problems.append(f"{name}: widens the margin {before:.4g} -> {after:.4g}")
    if effective.judge.max_unparsed > stored.judge.max_unparsed:
        problems.append("judge.max_unparsed: raised")
    if effective.judge.max_flip_rate > stored.judge.max_flip_rate:
        problems.append("judge.max_flip_rate: raised")
    if effective.resamples < stored.resamples:
        problems.append(f"resamples: fewer than the stored {stored.resamples}")
    if effective.seed != stored.seed:
        problems.append("seed: a request cannot re-draw the bootstrap (use the stored seed)")
    return problems
