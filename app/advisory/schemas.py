"""The project recommendation and its inputs.

`ProjectContext` is what the service knows about a project besides its failure cases (datasets,
recipe jobs, evals, the base model and the GPU at hand). `Recommendation` is what
`app.advisory.plan.build_recommendation` concludes from the cases, their triage results and that
context; the HTML report renders it and the API returns it as JSON.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.cases.schemas import Category, Subcategory

Rung = Literal["prompting", "rag", "lora", "qlora", "full_sft", "dpo"]
TuningMethod = Literal["full_sft", "lora", "qlora"]
DatasetKind = Literal["sft", "preference", "holdout", "cases", "documents", "other"]
GateDecision = Literal["pass", "fail", "undecided", "pending"]  # GateReport.status, or pending
Severity = Literal["critical", "warning", "info"]
StepWhen = Literal["first", "second", "later"]
FineTuneAnswer = Literal["no", "not yet", "yes"]
DataNeedKind = Literal["sft_examples", "preference_pairs", "holdout"]

TUNING_RUNGS: frozenset[str] = frozenset({"lora", "qlora", "full_sft", "dpo"})
RUNG_NAMES: dict[str, str] = {
    "prompting": "prompting",
    "rag": "retrieval (RAG)",
    "lora": "LoRA",
    "qlora": "QLoRA",
    "full_sft": "full SFT",
    "dpo": "DPO",
}
DATA_NEED_NAMES: dict[str, str] = {
    "sft_examples": "SFT examples",
    "preference_pairs": "preference pairs",
    "holdout": "holdout cases",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- inputs


class DatasetInfo(_Model):
    """One dataset of the project, as the service stores it."""

    name: str | None = None
    kind: DatasetKind
    rows: int = Field(ge=0)
    has_holdout: bool = Field(
        default=False, description="a held-out split exists (or the dataset is the holdout)"
    )
    holdout_rows: int = Field(default=0, ge=0, description="rows held out of this dataset")
    formats: list[str] = Field(
        default_factory=list,
        description="record formats seen in the rows, e.g. chatml, alpaca, prompt_completion",
    )
    synthetic_share: float | None = Field(default=None, ge=0.0, le=1.0)


class JobInfo(_Model):
    """One recipe run (job) of the project."""

    id: str | None = None
    recipe: str = Field(description="recipe name, e.g. lora_sft, qlora_sft, full_sft, dpo, rag")
    state: str = Field(description="queued, running, succeeded, failed, cancelled, ...")
    epochs: float | None = Field(default=None, ge=0.0)
    train_rows: int | None = Field(default=None, ge=0, description="rows it trained on")
    config: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict, description="numbers are reported")


class GateMetric(_Model):
    """The gate's decision on one metric: effect, interval, verdict and what it could see."""

    metric: str
    status: str
    effect: float | None = Field(default=None, description="candidate - baseline")
    ci_low: float | None = None
    ci_high: float | None = None
    confidence: float = 0.95
    margin: float | None = None
    n: int = 0
    detectable_drop: float | None = Field(default=None, description="at 80% power")
    detectable: str = Field(default="", description="'with 48 examples this gate cannot see...'")
    p_value: float | None = Field(default=None, description="one-sided: a drop beyond the margin")
    p_holm: float | None = Field(default=None, description="p_value, Holm-adjusted")
    reason: str = ""
    judge: str = Field(default="", description="judge reliability figures and kappa, if any")


class EvalInfo(_Model):
    """One evaluation of a candidate against a baseline on a holdout."""

    name: str
    candidate: str
    baseline: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict, description="candidate means")
    baseline_metrics: dict[str, float] = Field(default_factory=dict, description="baseline means")
    gate_decision: GateDecision = "pending"
    gate_reasons: list[str] = Field(default_factory=list)
    gate_metrics: list[GateMetric] = Field(default_factory=list)
    gate_policy: str | None = Field(default=None, description="which policy the gate applied")


class ProjectContext(_Model):
    """Everything besides the cases that the recommendation takes into account."""

    datasets: list[DatasetInfo] = Field(default_factory=list)
    jobs: list[JobInfo] = Field(default_factory=list)
    evals: list[EvalInfo] = Field(default_factory=list)
    base_model: str | None = None
    params_b: float | None = Field(default=None, gt=0.0, description="parameters, billions")
    gpu_memory_gb: float | None = Field(default=None, gt=0.0, description="one GPU's memory")


# --------------------------------------------------------------------------- outputs


class CaseCounts(_Model):
    total: int
    by_category: dict[Category, int]
    by_subcategory: dict[Subcategory, int] = Field(description="largest first")
    needs_review: int
    engine_versions: list[str] = Field(default_factory=list)


class FineTuneVerdict(_Model):
    answer: FineTuneAnswer
    label: str = Field(description='"no", "not yet", "yes: LoRA", "yes: QLoRA, then DPO", ...')
    method: TuningMethod | None = Field(default=None, description="how to tune, when tuning")
    reasoning: list[str]


class CostEstimate(_Model):
    engineering_days: float
    gpu_hours: float
    gpus: int = Field(default=0, description="GPUs one training run needs at once")
    compute_usd: float
    total_usd: float = Field(description="compute plus engineering time")
    assumptions: list[str]


class EvidenceCount(_Model):
    text: str
    count: int


class SubcategoryCount(_Model):
    subcategory: Subcategory
    count: int


class ExampleCase(_Model):
    index: int = Field(description="0-based position of the case in the input")
    case_id: str | None = None
    subcategory: Subcategory
    confidence: float
    needs_review: bool
    input: str
    output: str
    expected: str | None = None
    evidence: list[str]


class PlanStep(_Model):
    order: int = Field(ge=1)
    when: StepWhen
    rung: Rung
    title: str
    what_to_do: list[str]
    why: str
    share: float = Field(ge=0.0, le=1.0, description="share of all cases this step addresses")
    case_count: int
    subcategories: list[SubcategoryCount]
    evidence_summary: list[EvidenceCount]
    examples: list[ExampleCase]
    cost: CostEstimate
    preconditions: list[str]


class AntiPatternWarning(_Model):
    code: str
    severity: Severity
    message: str
    what_to_do: str


class MemoryEstimate(_Model):
    method: TuningMethod
    total_gb: float
    weights_gb: float
    gradients_gb: float
    optimizer_gb: float
    activations_gb: float
    overhead_gb: float
    trainable_params_m: float = Field(description="trainable parameters, millions")
    fits: bool | None = Field(default=None, description="fits the GPU; None if memory unknown")


class Hyperparameter(_Model):
    name: str
    value: str | int | float | bool
    why: str


class TuningAdvice(_Model):
    method: TuningMethod
    base_model: str | None
    params_b: float | None
    gpu_memory_gb: float | None
    fits: bool | None
    memory: list[MemoryEstimate]
    reasoning: list[str]
    hyperparameters: list[Hyperparameter]
    assumptions: list[str]


class DataNeed(_Model):
    kind: DataNeedKind
    for_rung: Rung | None = Field(default=None, description="None: needed by every rung")
    behaviors: list[Subcategory] = Field(default_factory=list)
    have: int
    need: int
    to_collect: int
    seeds_from_cases: int = Field(
        default=0, description="failure cases with an expected answer that can seed the set"
    )
    rule: str


class MetricComparison(_Model):
    name: str
    candidate: float | None
    baseline: float | None
    delta: float | None


class EvalSummary(_Model):
    name: str
    candidate: str
    baseline: str | None
    metrics: list[MetricComparison]
    gate_decision: GateDecision
    gate_reasons: list[str]
    gate_metrics: list[GateMetric] = Field(default_factory=list)
    gate_policy: str | None = None


class JobSummary(_Model):
    id: str | None
    recipe: str
    rung: Rung | None
    state: str
    epochs: float | None
    metrics: dict[str, float]


class Recommendation(_Model):
    headline: str
    should_fine_tune: FineTuneVerdict
    counts: CaseCounts
    plan: list[PlanStep]
    warnings: list[AntiPatternWarning]
    tuning: TuningAdvice | None
    data_needs: list[DataNeed]
    evals: list[EvalSummary]
    jobs: list[JobSummary]
