"""Gate policy: which metrics are gated and how much of a drop is a regression.

Policy file (YAML or JSON)::

    defaults:                 # applied to every metric present in both runs
      margin: 0.01            # number = absolute; "2%" = relative to the baseline mean
      confidence: 0.95
      direction: higher       # higher | lower (which way is better)
      on_undecided: warn      # warn | fail (fail = strict: no evidence of no-regression fails)
      min_examples: 2         # fewer paired examples than this -> undecided
    metrics:
      exact_match: {margin: 0.02, on_undecided: fail, required: true}
      length: {direction: lower}
      bleu: {gate: false}     # reported, not gated
    only: [exact_match, rouge_l]   # optional: gate just these
    resamples: 10000
    seed: 0

Without ``margin`` a metric whose scores all lie in [0, 1] gets 0.01 absolute, any other metric
1% of the baseline mean.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evals.errors import PolicyError
from evals.stats import DEFAULT_RESAMPLES

DEFAULT_ABSOLUTE_MARGIN = 0.01
DEFAULT_RELATIVE_MARGIN = 0.01


class MetricPolicy(BaseModel):
    """Settings for one metric; unset fields fall back to the policy's defaults."""

    model_config = ConfigDict(extra="forbid")

    margin: float | str | None = None
    confidence: float | None = Field(default=None, gt=0.5, lt=1.0)
    direction: Literal["higher", "lower"] | None = None
    on_undecided: Literal["fail", "warn"] | None = None
    min_examples: int | None = Field(default=None, ge=1)
    gate: bool = True
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


class GatePolicy(BaseModel):
    """The whole policy."""

    model_config = ConfigDict(extra="forbid")

    defaults: MetricPolicy = Field(default_factory=MetricPolicy)
    metrics: dict[str, MetricPolicy] = Field(default_factory=dict)
    only: list[str] | None = None
    resamples: int = Field(default=DEFAULT_RESAMPLES, ge=100)
    seed: int = 0

    def for_metric(self, metric: str) -> ResolvedMetricPolicy:
        """The settings that apply to ``metric``."""
        own = self.metrics.get(metric, MetricPolicy())
        base = self.defaults

        def pick(name: str, fallback: Any) -> Any:
            value = getattr(own, name)
            if value is None:
                value = getattr(base, name)
            return fallback if value is None else value

        gated = own.gate and base.gate and (self.only is None or metric in self.only)
        return ResolvedMetricPolicy(
            margin=pick("margin", None),
            confidence=pick("confidence", 0.95),
            direction=pick("direction", "higher"),
            on_undecided=pick("on_undecided", "warn"),
            min_examples=pick("min_examples", 2),
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
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise PolicyError(f"invalid policy {path}: {problems}") from exc
