"""Which cases a fix works on: the plan step's triaged cases, usable ones, and the holdout split.

A case belongs to a step when the ladder sends it to the step's rung (`ladder_rung`, the same
rule the plan groups by). A case is usable when it has what the recipe learns from: an
``expected`` answer (and, for DPO, an ``output`` that differs from it). The split is a hash of
the case's input: the same question always lands on the same side, whatever else changes, and a
held-out case is never in a training set.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from app.advisory import service as advisory
from app.advisory.plan import ladder_rung
from app.advisory.schemas import PlanStep
from app.cases import service as cases_service
from app.cases.models import Case
from app.config import Settings
from app.core.errors import InvalidInputError
from app.projects.models import Project
from app.triage import service as triage
from app.triage.result import TriageResult

# The plan's rungs and the recipe that climbs each.
RUNG_RECIPE: dict[str, str] = {
    "prompting": "prompting",
    "rag": "rag",
    "lora": "lora_sft",
    "qlora": "qlora_sft",
    "full_sft": "full_sft",
    "dpo": "dpo",
}
RECIPE_RUNG = {recipe: rung for rung, recipe in RUNG_RECIPE.items()}
# Cases with an expected answer a recipe needs at the least: 2 to train on (a dataset version
# needs 2 rows) and 1 held out to measure the fix; RAG trains nothing (2 questions to ask).
MIN_TRAIN = 2
MIN_HOLDOUT = 1
RECIPE_MIN_CASES: dict[str, int] = {
    "prompting": MIN_TRAIN + MIN_HOLDOUT,
    "lora_sft": MIN_TRAIN + MIN_HOLDOUT,
    "qlora_sft": MIN_TRAIN + MIN_HOLDOUT,
    "full_sft": MIN_TRAIN + MIN_HOLDOUT,
    "dpo": MIN_TRAIN + MIN_HOLDOUT,
    "rag": 2,
}
DEFAULT_HOLDOUT_FRACTION = 0.3


@dataclass
class Member:
    case: Case
    result: TriageResult

    @property
    def subcategory(self) -> str:
        return self.result.subcategory


@dataclass
class StepSelection:
    """A plan step (None when the rung was named and the plan has no such step) and its cases."""

    rung: str
    recipe: str
    step: PlanStep | None
    members: list[Member]
    triage_version: str | None
    usable: list[Member] = field(default_factory=list)
    train: list[Member] = field(default_factory=list)
    holdout: list[Member] = field(default_factory=list)

    @property
    def title(self) -> str:
        if self.step is not None:
            return self.step.title
        return f"{self.recipe} on the {self.rung} cases"

    @property
    def label(self) -> str:
        return f"step {self.step.order}" if self.step is not None else f"rung {self.rung}"


def normalise_rung(value: str) -> str:
    """A plan rung from a rung or recipe name (``lora`` or ``lora_sft``); 422 otherwise."""
    name = value.strip().lower()
    if name in RUNG_RECIPE:
        return name
    if name in RECIPE_RUNG:
        return RECIPE_RUNG[name]
    valid = sorted(set(RUNG_RECIPE) | set(RECIPE_RUNG))
    raise InvalidInputError(
        f"unknown rung {value!r}; use one of {', '.join(valid)}",
        errors=[{"field": "rung", "message": "unknown", "valid": valid}],
    )


def triaged_members(
    session: Session, *, project: Project, settings: Settings
) -> list[tuple[Case, TriageResult]]:
    """Every case with its triage, read the way the recommendation reads them."""
    if settings.triage_on_ingest:
        rows = advisory.triaged_cases(session, project=project)
        return [(r, TriageResult.model_validate(r.triage)) for r in rows]
    rows = cases_service.all_cases(session, project=project)
    return list(zip(rows, triage.triaged_now(rows), strict=True))


def select_step(
    session: Session,
    *,
    project: Project,
    settings: Settings,
    step: int | None,
    rung: str | None,
    holdout_fraction: float = DEFAULT_HOLDOUT_FRACTION,
) -> StepSelection:
    """The cases of plan step ``step`` (1-based) or of ``rung``, split (see the module doc)."""
    if (step is None) == (rung is None):
        raise InvalidInputError(
            "give exactly one of `step` (the plan step's number) or `rung` (e.g. lora_sft)",
            errors=[{"field": "step", "message": "give step or rung"}],
        )
    rec = advisory.recommendation(session, project=project, settings=settings)
    plan_step: PlanStep | None
    if step is not None:
        plan_step = next((s for s in rec.plan if s.order == step), None)
        if plan_step is None:
            steps = "; ".join(f"{s.order}. {s.rung} ({s.case_count} cases)" for s in rec.plan)
            raise InvalidInputError(
                f"the plan of {project.name!r} has no step {step}"
                + (f": its steps are {steps}" if steps else ": it has no steps (no triaged cases)"),
                errors=[
                    {
                        "field": "step",
                        "message": "not in the plan",
                        "steps": [s.order for s in rec.plan],
                    }
                ],
            )
        plan_rung = plan_step.rung
    else:
        plan_rung = normalise_rung(rung or "")
        plan_step = next((s for s in rec.plan if s.rung == plan_rung), None)
    tuning_method = rec.tuning.method if rec.tuning else "lora"
    members = []
    version: str | None = None
    for row, result in triaged_members(session, project=project, settings=settings):
        case = cases_service.to_failure_case(row)
        if ladder_rung(case, result, tuning_method=tuning_method) == plan_rung:
            members.append(Member(case=row, result=result))
            version = version or result.engine_version
    selection = StepSelection(
        rung=plan_rung,
        recipe=RUNG_RECIPE[plan_rung],
        step=plan_step,
        members=members,
        triage_version=version,
    )
    selection.usable = [m for m in members if usable(m.case, recipe=selection.recipe)]
    split(selection, holdout_fraction=holdout_fraction)
    return selection


def usable(case: Case, *, recipe: str) -> bool:
    if case.expected is None or not case.expected.strip():
        return False
    if recipe == "dpo":
        return bool(case.output.strip()) and case.output.strip() != case.expected.strip()
    return True


def split_key(case: Case) -> float:
    """Where the case's input falls in [0, 1): the holdout is the lowest share of it."""
    text = " ".join(case.input.split()).lower()
    digest = hashlib.sha256(text.encode()).hexdigest()
    return int(digest[:12], 16) / float(16**12)


def split(selection: StepSelection, *, holdout_fraction: float) -> None:
    """Fill ``train`` and ``holdout`` from ``usable`` (RAG trains nothing: all are asked)."""
    usable_cases = sorted(selection.usable, key=lambda m: (split_key(m.case), m.case.id))
    if selection.recipe == "rag":
        selection.train, selection.holdout = [], usable_cases
        return
    holdout = [m for m in usable_cases if split_key(m.case) < holdout_fraction]
    if not holdout and len(usable_cases) > MIN_TRAIN:
        # too few cases for the fraction to pick one: hold out the lowest key, still by hash
        key = split_key(usable_cases[0].case)
        holdout = [m for m in usable_cases if split_key(m.case) == key]
    held = {m.case.id for m in holdout}
    selection.holdout = holdout
    selection.train = [m for m in usable_cases if m.case.id not in held]


def check_enough(selection: StepSelection, *, project: Project) -> None:
    """422 when the step has too few usable cases for its recipe, saying where more can come
    from (cases without ``expected``)."""
    need = RECIPE_MIN_CASES[selection.recipe]
    have = len(selection.usable)
    enough_split = selection.recipe == "rag" or (
        len(selection.train) >= MIN_TRAIN and len(selection.holdout) >= MIN_HOLDOUT
    )
    if have >= need and enough_split:
        return
    total = len(selection.members)
    without = sum(m.case.expected is None or not m.case.expected.strip() for m in selection.members)
    what = "an `expected` answer"
    if selection.recipe == "dpo":
        what += " that differs from its `output` (chosen = expected, rejected = output)"
    source = (
        f"{without} of the step's cases have no `expected`: add the answer each should have "
        f"given (`rung cases list {project.name}` shows them) and they become usable"
        if without
        else "send more failure cases of these kinds with an `expected` answer"
    )
    split_note = ""
    if have >= need:
        split_note = (
            f" (the hash split put {len(selection.train)} in training and "
            f"{len(selection.holdout)} in the holdout)"
        )
    raise InvalidInputError(
        f"{selection.label} ({selection.recipe}) has {have} usable case(s) of {total} (a usable "
        f"case has {what}); {selection.recipe} needs at least {need}: {MIN_TRAIN} to train on and "
        f"{MIN_HOLDOUT} held out to measure the fix{split_note}. {source}.",
        errors=[
            {
                "field": "cases",
                "message": "too few usable cases",
                "usable": have,
                "needed": need,
                "cases": total,
                "without_expected": without,
                "train": len(selection.train),
                "holdout": len(selection.holdout),
            }
        ],
    )
