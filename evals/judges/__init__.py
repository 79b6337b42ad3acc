"""LLM judges (any langchain BaseChatModel) and checks on them."""

from evals.judges.agreement import Agreement, judge_agreement, same_model_warning
from evals.judges.pairwise import PairwiseJudge, PairwiseVerdict, summarize_pairwise
from evals.judges.rubric import RubricJudge, RubricVerdict

__all__ = [
    "Agreement",
    "PairwiseJudge",
    "PairwiseVerdict",
    "RubricJudge",
    "RubricVerdict",
    "judge_agreement",
    "same_model_warning",
    "summarize_pairwise",
]
