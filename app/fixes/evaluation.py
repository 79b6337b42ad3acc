"""Answer a fix's held-out cases with the champion and the candidate, and score both.

Where the answers come from, per recipe:

* prompting and RAG: the recipe already answers its holdout both ways (the plain prompt, or
  the model without retrieval, as the champion; the prompt program, or retrieval, as the
  candidate) and stores every answer in its ``eval_report`` artifact: read it;
* LoRA/QLoRA/full SFT and DPO: the generation engine (`app.serving.engine`) loads the base
  model with the job's adapter, and with the adapter it started from when it had one: the
  champion is what the candidate was trained from.

Scores per answer: ``similarity`` (MiniLM cosine to ``expected``), ``exact_match``,
``validators`` (prompting: every inferred validator passes) and, when a judge is configured
(``RUNG_LLM_*``), ``fixes_failure`` (the rubric judge asked "does this answer fix the reported
failure?"). **Acceptable**: exact match or similarity at least `SIMILARITY_THRESHOLD`; for
prompting, the inferred validators pass too (format cases: the validators alone, since the
format is what failed); with a judge, its verdict as well.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.artifacts import service as artifacts
from app.artifacts.store import ArtifactStore
from app.cases.models import Case
from app.config import Settings
from app.fixes.builders import case_messages, prompt_text
from app.fixes.outcomes import CaseOutcome
from app.jobs import model_refs
from app.jobs.models import Job
from app.projects.models import Project

logger = logging.getLogger(__name__)

SIMILARITY_THRESHOLD = 0.8
JUDGE_PASS = 4  # of 5
JUDGE_CONCURRENCY = 4  # judge calls in flight at once (a batching server answers them together)
EVAL_MAX_TOKENS = 48
JUDGE_CRITERIA = (
    "The question shows the answer the user reported as a failure; the reference answer is "
    "what the assistant should have said.",
    "Does this response fix the reported failure: does it give what the reference gives, in "
    "the form the reference has, without the reported answer's fault?",
)


@dataclass
class Answer:
    case: Case
    subcategory: str
    champion: str
    candidate: str
    champion_errors: list[str] | None = None
    candidate_errors: list[str] | None = None


@dataclass
class Scored:
    champion: list[dict[str, float]] = field(default_factory=list)
    candidate: list[dict[str, float]] = field(default_factory=list)
    outcomes: list[CaseOutcome] = field(default_factory=list)
    criterion: str = ""
    judge: dict[str, Any] = field(default_factory=dict)


def _artifact_file(
    session: Session,
    *,
    project: Project,
    store: ArtifactStore,
    job: Job,
    kind: str,
    work_dir: Path,
) -> Path:
    found = artifacts.list_artifacts(session, project=project, job_id=job.id, kind=kind)
    if not found:
        raise RuntimeError(f"job {job.id} stored no {kind} artifact")
    target = work_dir / f"{kind}-{found[-1].digest[:16]}"
    if not target.exists():
        store.materialize(found[-1].digest, target)
    return target


def _by_question(report: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {entry["question"]: entry for entry in report}


def recipe_answers(
    session: Session,
    *,
    project: Project,
    store: ArtifactStore,
    job: Job,
    holdout: list[tuple[Case, str]],
    work_dir: Path,
) -> list[Answer]:
    """Answers read from a prompting or RAG job's eval report (see the module doc)."""
    path = _artifact_file(
        session, project=project, store=store, job=job, kind="eval_report", work_dir=work_dir
    )
    entries = _by_question(json.loads(path.read_text()))
    answers = []
    for case, subcategory in holdout:
        entry = entries.get(prompt_text(case))
        if entry is None:
            continue  # beyond the recipe's eval_limit
        if job.recipe == "prompting":
            answers.append(
                Answer(
                    case=case,
                    subcategory=subcategory,
                    champion=entry["baseline"],
                    candidate=entry["candidate"],
                    champion_errors=entry["baseline_errors"],
                    candidate_errors=entry["candidate_errors"],
                )
            )
        else:
            answers.append(
                Answer(
                    case=case,
                    subcategory=subcategory,
                    champion=entry.get("baseline_answer") or "",
                    candidate=entry.get("answer") or "",
                )
            )
    return answers


def generated_answers(
    session: Session,
    *,
    project: Project,
    store: ArtifactStore,
    settings: Settings,
    job: Job,
    holdout: list[tuple[Case, str]],
    work_dir: Path,
    max_tokens: int = EVAL_MAX_TOKENS,
    progress: Any = None,
) -> list[Answer]:
    """Champion and candidate answers from the generation engine (tuning recipes)."""
    from app.serving.engine import GenerationEngine
    from recipes.base_models import DEFAULT_BASE_MODEL, resolve_base_model

    refs = {k: job.config.get(k) for k in model_refs.REF_FIELDS if job.config.get(k)}
    resolved = model_refs.resolve_refs(
        session,
        project_id=project.id,
        overrides=refs,
        models_allow=settings.models_allow_dirs,
        materialize=store.materialize,
        work_dir=work_dir,
    )
    base = str(resolved.get("base_model") or DEFAULT_BASE_MODEL)
    adapters = {
        "candidate": _artifact_file(
            session, project=project, store=store, job=job, kind="adapter", work_dir=work_dir
        )
    }
    champion = "base"
    if resolved.get("adapter_path"):
        adapters["champion"] = Path(resolved["adapter_path"])
        champion = "champion"
    local = resolve_base_model(base, cache_dir=settings.resolved_models_dir)
    engine = GenerationEngine.load(base=local, adapters=adapters, base_name=base)
    answers = []
    for index, (case, subcategory) in enumerate(holdout):
        texts = {}
        for name in (champion, "candidate"):
            out = engine.generate(
                model=name, messages=case_messages(case), max_tokens=max_tokens, temperature=0.0
            )
            texts[name] = out.choices[0].text
        answers.append(
            Answer(
                case=case,
                subcategory=subcategory,
                champion=texts[champion],
                candidate=texts["candidate"],
            )
        )
        if progress is not None:
            progress(index + 1, len(holdout))
    return answers


def exact_match(answer: str, reference: str) -> bool:
    """The evals exact-match rule ignoring case and white space, with a final period ignored
    too, or equal as JSON values."""
    from evals.scorers.text import exact_match as same_text
    from recipes.validators import extract_json

    if same_text(
        answer.strip().rstrip("."),
        reference.strip().rstrip("."),
        case_sensitive=False,
        collapse_spaces=True,
    ):
        return True
    try:
        return bool(extract_json(answer) == extract_json(reference))
    except ValueError:
        return False


def _similarities(pairs: list[tuple[str, str]]) -> list[float]:
    if not pairs:
        return []
    import numpy as np

    from recipes.embeddings import MiniLMEmbeddings

    embeddings = MiniLMEmbeddings()
    left = np.array(embeddings.embed_documents([a for a, _ in pairs]), dtype=float)
    right = np.array(embeddings.embed_documents([b for _, b in pairs]), dtype=float)
    norms = np.linalg.norm(left, axis=1) * np.linalg.norm(right, axis=1)
    norms[norms == 0] = 1.0
    return [round(float(v), 6) for v in (left * right).sum(axis=1) / norms]


def _judge_scores(
    settings: Settings, answers: list[Answer], side: str, failed: list[str]
) -> list[int | None]:
    """The rubric judge's grades (1-5; None unparsed) when RUNG_LLM_* names a judge."""
    from evals.chat import ChatClient, GenerationParams
    from evals.dataset import parse_example
    from evals.judges.rubric import RubricJudge

    client = ChatClient.for_endpoint(
        endpoint=str(settings.llm_base_url),
        model=str(settings.llm_model),
        api_key=settings.llm_api_key or "EMPTY",
        params=GenerationParams(temperature=0.0, max_tokens=120),
    )
    judge = RubricJudge(client=client, criteria=list(JUDGE_CRITERIA), metric="fixes_failure")

    semaphore = asyncio.Semaphore(JUDGE_CONCURRENCY)

    async def grade(answer: Answer) -> int | None:
        example = parse_example(
            {
                "id": answer.case.id,
                "input": f"{prompt_text(answer.case)}\n\n(The failing answer was: "
                f"{answer.case.output})",
                "expected": answer.case.expected,
            }
        )
        async with semaphore:
            try:
                verdict = await judge.judge(example, getattr(answer, side))
            except Exception as exc:  # the judge's endpoint refused or failed: no verdict
                logger.warning("judge call failed for case %s: %s", answer.case.id, exc)
                failed.append(answer.case.id)
                return None
        return verdict.score

    async def grade_all() -> list[int | None]:
        try:
            return list(await asyncio.gather(*(grade(answer) for answer in answers)))
        finally:
            await client.aclose()

    return asyncio.run(grade_all())


def score_answers(answers: list[Answer], *, recipe: str, settings: Settings) -> Scored:
    """Scores of both sides and each case's outcome (see the module doc)."""
    scored = Scored()
    sims = {
        side: _similarities([(getattr(a, side), a.case.expected or "") for a in answers])
        for side in ("champion", "candidate")
    }
    judged = bool(settings.llm_base_url and settings.llm_model)
    grades: dict[str, list[int | None]] = {}
    if judged:
        failed: list[str] = []
        grades = {
            side: _judge_scores(settings, answers, side, failed)
            for side in ("champion", "candidate")
        }
        unparsed = sum(g is None for side in grades.values() for g in side)
        scored.judge = {
            "model": settings.llm_model,
            "unparsed": unparsed,
            "call_errors": len(failed),
            "pass_at": JUDGE_PASS,
            "question": JUDGE_CRITERIA[1],
        }
    close = f"exact match or similarity to expected >= {SIMILARITY_THRESHOLD}"
    if recipe == "prompting":
        scored.criterion = (
            f"format cases: every inferred validator passes; other cases: the validators pass "
            f"and {close}"
        )
    else:
        scored.criterion = close
    if judged:
        scored.criterion += f", and the judge grades it {JUDGE_PASS}+ of 5"
    for i, answer in enumerate(answers):
        ok = {}
        for side in ("champion", "candidate"):
            text = getattr(answer, side)
            scores: dict[str, float] = {
                "similarity": sims[side][i],
                "exact_match": float(exact_match(text, answer.case.expected or "")),
            }
            near = bool(scores["exact_match"]) or scores["similarity"] >= SIMILARITY_THRESHOLD
            if recipe == "prompting":
                errors = getattr(answer, f"{side}_errors") or []
                scores["validators"] = float(not errors)
                acceptable = not errors and (answer.subcategory == "format" or near)
            else:
                acceptable = near
            if judged:
                grade = grades[side][i]
                if grade is not None:
                    scores["fixes_failure"] = (grade - 1) / 4
                acceptable = acceptable and grade is not None and grade >= JUDGE_PASS
            scores["acceptable"] = float(acceptable)
            ok[side] = acceptable
            getattr(scored, side).append(scores)
        scored.outcomes.append(
            CaseOutcome(
                case_id=answer.case.id,
                subcategory=answer.subcategory,
                champion_ok=ok["champion"],
                candidate_ok=ok["candidate"],
            )
        )
    return scored
