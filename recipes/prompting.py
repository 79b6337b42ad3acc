"""The prompting rung: a system prompt, few-shot examples picked by similarity, validators.

The recipe builds a `PromptProgram` from the config and the train rows (each SFT row's last
user message and assistant answer become a candidate example), then evaluates it on the holdout
against the plain prompt (the user's question alone, no system prompt, no examples, no re-ask):

* few-shot: for each question, the ``num_examples`` train examples whose questions are closest
  by MiniLM cosine similarity (offline all-MiniLM-L6-v2);
* validators (see `recipes.validators`): JSON Schema, regex, min/max characters, language;
* bounded re-ask: when an answer fails a validator the model is shown its answer and the
  validator's errors and asked again, at most ``max_reasks`` times.

Metrics (``baseline_*`` for the plain prompt, ``candidate_*`` for the program):
``*_pass_rate`` (share of answers passing every validator), ``*_exact_match`` (the evals
``exact_match`` scorer, ignoring case and runs of white space: `EXACT_MATCH_SCORER`),
``*_similarity`` (mean MiniLM cosine to the reference answer),
``candidate_mean_attempts``, ``reask_recovered`` (answers fixed by a re-ask), ``eval_rows``.

``run(config, *, train_rows, eval_rows, output_dir, progress=None, resume_from=None,
should_stop=None, chat_model=None)``: ``chat_model`` is any langchain ``BaseChatModel``; None
loads ``config.base_model`` locally (`recipes.local_chat`). ``resume_from`` is ignored (nothing
to resume). Artifacts: ``prompt`` (prompt.json: system prompt, examples, validators, settings)
and ``eval_report`` (eval_report.json: every holdout answer).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recipes.base_models import DEFAULT_BASE_MODEL
from recipes.config_base import RecipeConfig, require
from recipes.errors import RecipeCancelledError, RecipeConfigError
from recipes.prompt_program import AnswerOutcome as AnswerOutcome
from recipes.prompt_program import PromptProgram, invoke_chat
from recipes.rows import sft_messages
from recipes.run_types import ProgressEvent, ProgressFn, RecipeResult, StopFn, emit, finish
from recipes.validators import (
    JsonSchemaValidator,
    LanguageValidator,
    LengthValidator,
    RegexValidator,
    Validator,
    failures,
)

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

NAME = "prompting"
# The evals scorer that gives *_exact_match: case and runs of white space do not count.
EXACT_MATCH_SCORER = "exact_match:case_sensitive=false,collapse_spaces=true"
DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant. Answer the user's question accurately and concisely."
)


@dataclass
class PromptingConfig(RecipeConfig):
    """Settings of the prompting recipe."""

    base_model: str = field(
        default=DEFAULT_BASE_MODEL,
        metadata={
            "help": "Model to prompt when no chat_model is passed (loaded locally). "
            "Default SmolLM2-135M-Instruct: runs offline on CPU."
        },
    )
    system_prompt: str = field(
        default=DEFAULT_SYSTEM_PROMPT,
        metadata={
            "help": "System prompt; validator instructions are appended to it. The "
            "default is a neutral instruction: the examples carry the task."
        },
    )
    num_examples: int = field(
        default=3,
        metadata={
            "help": "Few-shot examples per question, chosen by similarity from the train "
            "rows. 3: enough to show format and tone without crowding small contexts."
        },
    )
    json_schema: dict[str, Any] | None = field(
        default=None,
        metadata={
            "help": "JSON Schema the answer must satisfy (JSON only, fences allowed). "
            "None: no JSON check."
        },
    )
    regex: str | None = field(
        default=None,
        metadata={
            "help": "Regular expression the answer must contain (re.search; anchor with "
            "^...$ for a full match). None: no check."
        },
    )
    min_chars: int | None = field(
        default=None, metadata={"help": "Minimum answer length in characters. None: no minimum."}
    )
    max_chars: int | None = field(
        default=None, metadata={"help": "Maximum answer length in characters. None: no maximum."}
    )
    language: str | None = field(
        default=None,
        metadata={
            "help": "Expected answer language (en, fr, de, es, it, pt, nl), checked with "
            "a simple stop-word count. None: no check."
        },
    )
    max_reasks: int = field(
        default=2,
        metadata={
            "help": "Times a failing answer is sent back with the validator's error. 2: "
            "most fixable failures are fixed by the first re-ask; each costs a call."
        },
    )
    max_new_tokens: int = field(
        default=256,
        metadata={"help": "Answer length cap for the local model (ignored by remote models)."},
    )
    eval_limit: int = field(
        default=50,
        metadata={"help": "Holdout rows evaluated at most. 50: each costs 2+ model calls."},
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.num_examples >= 0, "must be >= 0", field="num_examples")
        require(self.max_reasks >= 0, "must be >= 0", field="max_reasks")
        require(self.max_new_tokens >= 1, "must be >= 1", field="max_new_tokens")
        require(self.eval_limit >= 1, "must be >= 1", field="eval_limit")
        for name in ("min_chars", "max_chars"):
            value = getattr(self, name)
            require(value is None or value >= 0, "must be >= 0", field=name)
        if self.min_chars is not None and self.max_chars is not None:
            require(self.min_chars <= self.max_chars, "must be <= max_chars", field="min_chars")
        self.build_validators()  # raises RecipeConfigError for a bad schema, regex or language

    def build_validators(self) -> list[Validator]:
        validators: list[Validator] = []
        if self.json_schema is not None:
            validators.append(JsonSchemaValidator(schema=self.json_schema))
        if self.regex is not None:
            validators.append(RegexValidator(pattern=self.regex))
        if self.min_chars is not None or self.max_chars is not None:
            validators.append(LengthValidator(min_chars=self.min_chars, max_chars=self.max_chars))
        if self.language is not None:
            validators.append(LanguageValidator(language=self.language))
        return validators


def question_answer(row: dict[str, Any], *, index: int) -> tuple[str, str]:
    """(last user message, final assistant answer) of an SFT row."""
    messages = sft_messages(row, index=index)
    question = next(m["content"] for m in reversed(messages[:-1]) if m["role"] == "user")
    return question, messages[-1]["content"]


def run(
    config: PromptingConfig,
    *,
    train_rows: list[dict],
    eval_rows: list[dict],
    output_dir: Path,
    progress: ProgressFn | None = None,
    resume_from: Path | None = None,
    should_stop: StopFn | None = None,
    chat_model: BaseChatModel | None = None,
) -> RecipeResult:
    """Build the prompt program and evaluate it against the plain prompt (see module doc)."""
    del resume_from  # nothing to resume: the recipe trains nothing
    examples = [
        dict(zip(("question", "answer"), question_answer(r, index=i), strict=True))
        for i, r in enumerate(train_rows)
    ]
    holdout = [question_answer(r, index=i) for i, r in enumerate(eval_rows)][: config.eval_limit]
    if not holdout:
        raise RecipeConfigError("prompting: eval_rows is empty; the holdout measures the prompt")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    program = PromptProgram(
        system_prompt=config.system_prompt,
        examples=examples,
        num_examples=config.num_examples,
        validators=config.build_validators(),
        max_reasks=config.max_reasks,
    )
    prompt_path = program.save(output_dir / "prompt.json")
    if chat_model is None:
        from recipes.local_chat import local_chat_model

        emit(progress, ProgressEvent(phase="load", message=f"loading {config.base_model}"))
        chat_model = local_chat_model(config.base_model, max_new_tokens=config.max_new_tokens)

    report: list[dict[str, Any]] = []
    for i, (question, reference) in enumerate(holdout):
        if should_stop is not None and should_stop():
            raise RecipeCancelledError(f"prompting cancelled after {i} of {len(holdout)} rows")
        baseline = invoke_chat(chat_model, [_human(question)])
        outcome = program.answer(question, chat_model)
        report.append(
            {
                "question": question,
                "reference": reference,
                "baseline": baseline,
                "baseline_errors": failures(baseline, program.validators),
                "candidate": outcome.text,
                "candidate_errors": outcome.errors,
                "attempts": outcome.attempts,
            }
        )
        emit(
            progress,
            ProgressEvent(
                phase="eval",
                step=i + 1,
                total_steps=len(holdout),
                message=f"answered {i + 1} of {len(holdout)}",
            ),
        )
    metrics = _metrics(report, has_validators=bool(program.validators))
    report_path = output_dir / "eval_report.json"
    report_path.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return finish(
        progress,
        recipe=NAME,
        metrics=metrics,
        artifacts=[("prompt", prompt_path), ("eval_report", report_path)],
        summary=_summary(metrics, program),
        config=dataclasses.asdict(config),
        step=len(holdout),
        total_steps=len(holdout),
    )


def _human(text: str) -> BaseMessage:
    from langchain_core.messages import HumanMessage

    return HumanMessage(content=text)


def _metrics(report: list[dict[str, Any]], *, has_validators: bool) -> dict[str, float]:
    from recipes.embeddings import MiniLMEmbeddings, cosine_matrix

    n = len(report)
    embeddings = MiniLMEmbeddings()
    refs = embeddings.embed_documents([r["reference"] for r in report])
    metrics: dict[str, float] = {"eval_rows": float(n)}
    for arm in ("baseline", "candidate"):
        answers = embeddings.embed_documents([r[arm] for r in report])
        sims = [cosine_matrix([a], [b])[0][0] for a, b in zip(answers, refs, strict=True)]
        metrics[f"{arm}_similarity"] = sum(sims) / n
        metrics[f"{arm}_exact_match"] = _exact_match_rate(report, arm)
        if has_validators:
            metrics[f"{arm}_pass_rate"] = sum(not r[f"{arm}_errors"] for r in report) / n
    metrics["candidate_mean_attempts"] = sum(len(r["attempts"]) for r in report) / n
    metrics["reask_recovered"] = float(
        sum(len(r["attempts"]) > 1 and not r["candidate_errors"] for r in report)
    )
    return metrics


def _exact_match_rate(report: list[dict[str, Any]], arm: str) -> float:
    from evals.dataset import Example
    from evals.scorers.batch import mean_score

    pairs = [
        (Example(id=str(i), input=r["question"].strip() or "-", expected=r["reference"]), r[arm])
        for i, r in enumerate(report)
    ]
    return mean_score(EXACT_MATCH_SCORER, pairs) or 0.0


def _summary(metrics: dict[str, float], program: PromptProgram) -> str:
    parts = [f"prompting on {int(metrics['eval_rows'])} holdout rows"]
    if "candidate_pass_rate" in metrics:
        parts.append(
            f"validator pass rate {metrics['baseline_pass_rate']:.0%} (plain prompt) -> "
            f"{metrics['candidate_pass_rate']:.0%}, {int(metrics['reask_recovered'])} "
            "fixed by a re-ask"
        )
    parts.append(
        f"exact match {metrics['baseline_exact_match']:.0%} -> "
        f"{metrics['candidate_exact_match']:.0%}"
    )
    parts.append(
        f"similarity {metrics['baseline_similarity']:.2f} -> {metrics['candidate_similarity']:.2f}"
    )
    parts.append(
        f"{len(program.examples)} examples ({program.num_examples} per question), "
        f"{len(program.validators)} validators"
    )
    return "; ".join(parts) + "."
