"""Quality figures of triage results against reviewer labels."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from app.cases.schemas import SUBCATEGORIES, CaseLabel
from app.triage.result import TriageResult


class ClassScore(BaseModel):
    precision: float
    recall: float
    f1: float
    support: int


class TriageScore(BaseModel):
    n: int
    category_accuracy: float
    subcategory_accuracy: float
    subcategory_macro_f1: float
    fix_accuracy: float
    per_subcategory: dict[str, ClassScore]
    confusion: list[list[int]]  # rows: true subcategory, columns: predicted, SUBCATEGORIES order
    labels: list[str]
    needs_review: int
    not_flagged: int
    not_flagged_category_accuracy: float | None
    not_flagged_subcategory_accuracy: float | None
    not_flagged_fix_accuracy: float | None


def _accuracy(pairs: Sequence[tuple[str, str]]) -> float:
    return sum(a == b for a, b in pairs) / len(pairs) if pairs else 0.0


def score_results(*, labels: Sequence[CaseLabel], results: Sequence[TriageResult]) -> TriageScore:
    """Accuracy, macro-F1, per-class figures and a confusion matrix."""
    if len(labels) != len(results):
        raise ValueError(f"{len(labels)} labels but {len(results)} results; they must pair up")
    if not labels:
        raise ValueError("no labelled cases to score")
    true_sub = [label.subcategory for label in labels]
    pred_sub = [result.subcategory for result in results]
    present = [s for s in SUBCATEGORIES if s in set(true_sub) | set(pred_sub)]
    precision, recall, f1, support = precision_recall_fscore_support(
        true_sub, pred_sub, labels=list(SUBCATEGORIES), zero_division=0
    )
    per_class = {
        name: ClassScore(
            precision=float(precision[i]),
            recall=float(recall[i]),
            f1=float(f1[i]),
            support=int(support[i]),
        )
        for i, name in enumerate(SUBCATEGORIES)
    }
    macro = float(
        f1_score(
            true_sub,
            pred_sub,
            labels=present,  # true or predicted: predicting a class that never occurs costs
            average="macro",
            zero_division=0,
        )
    )
    matrix = confusion_matrix(true_sub, pred_sub, labels=list(SUBCATEGORIES)).tolist()
    clear = [(lab, res) for lab, res in zip(labels, results, strict=True) if not res.needs_review]
    return TriageScore(
        n=len(labels),
        category_accuracy=_accuracy(
            [(lab.category, r.category) for lab, r in zip(labels, results, strict=True)]
        ),
        subcategory_accuracy=_accuracy(list(zip(true_sub, pred_sub, strict=True))),
        subcategory_macro_f1=macro,
        fix_accuracy=_accuracy([(lab.fix, r.fix) for lab, r in zip(labels, results, strict=True)]),
        per_subcategory=per_class,
        confusion=matrix,
        labels=list(SUBCATEGORIES),
        needs_review=sum(r.needs_review for r in results),
        not_flagged=len(clear),
        not_flagged_category_accuracy=(
            _accuracy([(lab.category, r.category) for lab, r in clear]) if clear else None
        ),
        not_flagged_subcategory_accuracy=(
            _accuracy([(lab.subcategory, r.subcategory) for lab, r in clear]) if clear else None
        ),
        not_flagged_fix_accuracy=_accuracy([(lab.fix, r.fix) for lab, r in clear])
        if clear
        else None,
    )
