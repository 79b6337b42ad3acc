"""Format detection, normalisation, validation and content addressing of dataset files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.datasets.ingest import IngestOptions, IngestResult, SourceFile, ingest, read_rows

QUESTIONS = [f"How do I reset password number {i}?" for i in range(6)]
ANSWERS = [f"Open settings, choose security, then reset password {i}." for i in range(6)]


def write(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def run(
    tmp_path: Path, rows: list[Any], *, name: str = "train.jsonl",
    holdout: list[Any] | None = None, **options: Any,
) -> IngestResult:
    work = tmp_path / f"work-{len(list(tmp_path.iterdir()))}"
    work.mkdir()
    main = write(work / name, rows)
    held = SourceFile(write(work / "holdout.jsonl", holdout), "holdout.jsonl") if holdout else None
    return ingest(main=SourceFile(main, name), holdout=held, options=IngestOptions(**options),
                  work_dir=work)


def checks(items: list[dict[str, Any]]) -> set[tuple[str, int | None]]:
    return {(i["check"], i["line"]) for i in items}


SFT_FORMATS: dict[str, list[dict[str, Any]]] = {
    "conversational": [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        for q, a in zip(QUESTIONS, ANSWERS, strict=True)
    ],
    "openai_chat": [
        {"messages": [{"role": "user", "content": q},
                      {"role": "assistant", "content": a, "weight": 1}]}
        for q, a in zip(QUESTIONS, ANSWERS, strict=True)
    ],
    "prompt_completion": [
        {"prompt": q, "completion": a} for q, a in zip(QUESTIONS, ANSWERS, strict=True)
    ],
    "rung_case": [
        {"input": q, "output": "I don't know.", "expected": a, "source": "support"}
        for q, a in zip(QUESTIONS, ANSWERS, strict=True)
    ],
}


@pytest.mark.parametrize("fmt", sorted(SFT_FORMATS))
def test_every_sft_format_maps_to_the_same_version(tmp_path: Path, fmt: str) -> None:
    reference = run(tmp_path, SFT_FORMATS["conversational"])
    result = run(tmp_path, SFT_FORMATS[fmt])
    assert result.ok, result.report.to_dict()
    assert (result.format, result.kind) == (fmt, "sft")
    assert result.sha256 == reference.sha256, "same content, same version, whatever the format"
    train, held = read_rows(result.path)
    assert len(train) + len(held) == 6
    assert all(r["messages"][-1]["role"] == "assistant" for r in train + held)


PREFERENCE_FORMATS: dict[str, list[dict[str, Any]]] = {
    "preference": [
        {"prompt": q, "chosen": a, "rejected": "I don't know."}
        for q, a in zip(QUESTIONS, ANSWERS, strict=True)
    ],
    "openai_dpo": [
        {"input": {"messages": [{"role": "user", "content": q}]},
         "preferred_output": [{"role": "assistant", "content": a}],
         "non_preferred_output": [{"role": "assistant", "content": "I don't know."}]}
        for q, a in zip(QUESTIONS, ANSWERS, strict=True)
    ],
    "rung_case": [
        {"case": {"input": q, "output": "I don't know.", "expected": a, "source": "ab_test"},
         "label": {"category": "behavior", "subcategory": "preference", "fix": "dpo"}}
        for q, a in zip(QUESTIONS, ANSWERS, strict=True)
    ],
}


@pytest.mark.parametrize("fmt", sorted(PREFERENCE_FORMATS))
def test_every_preference_format_maps_to_the_same_version(tmp_path: Path, fmt: str) -> None:
    reference = run(tmp_path, PREFERENCE_FORMATS["preference"])
    result = run(tmp_path, PREFERENCE_FORMATS[fmt])
    assert result.ok, result.report.to_dict()
    assert (result.format, result.kind) == (fmt, "preference")
    assert result.sha256 == reference.sha256
    train, held = read_rows(result.path)
    row = (train + held)[0]
    assert row["rejected"] == [{"role": "assistant", "content": "I don't know."}]
    assert row["prompt"][-1]["role"] == "user"


def test_a_failure_case_is_a_dpo_pair_only_when_it_is_a_preference_case(tmp_path: Path) -> None:
    cases = [{"input": q, "output": "Wrong.", "expected": a}
             for q, a in zip(QUESTIONS, ANSWERS, strict=True)]
    assert run(tmp_path, cases).kind == "sft"
    as_pairs = run(tmp_path, cases, kind="preference")
    assert as_pairs.ok and as_pairs.kind == "preference"
    no_expected = run(tmp_path, [{"input": "q?", "output": "a"}, *cases])
    assert ("shape", 1) in checks(no_expected.report.errors)


def test_documents_jsonl_and_text_files(tmp_path: Path) -> None:
    docs = [{"id": f"doc-{i}", "text": f"Policy section {i}: refunds take {i} days.",
             "metadata": {"source": "handbook"}} for i in range(3)]
    result = run(tmp_path, docs, kind="documents")
    assert result.ok
    assert (result.kind, result.split, result.rows_holdout) == ("documents", "none", 0)
    text = run(tmp_path, ["# Refunds", "Refunds take 30 days."], name="policy.md")
    assert text.ok and (text.kind, text.format) == ("documents", "text")
    assert read_rows(text.path)[0][0]["text"].startswith("# Refunds")
    dup = run(tmp_path, [*docs, docs[0]], kind="documents")
    assert ("duplicate_id", 4) in checks(dup.report.errors)


def test_errors_name_their_line(tmp_path: Path) -> None:
    good = SFT_FORMATS["conversational"]
    rows: list[Any] = [
        good[0],
        "{not json",                                                       # 2
        {"question": "?", "answer": "!"},                                  # 3
        {"prompt": "p", "completion": "c"},                                # 4 mixed
        {"messages": [{"role": "user", "content": "  "},
                      {"role": "assistant", "content": "x"}]},             # 5 empty turn
        {"messages": [{"role": "user", "content": "hi"}]},                 # 6 no answer
        *good[1:],
    ]
    result = run(tmp_path, rows)
    assert not result.ok
    assert checks(result.report.errors) >= {
        ("unparseable", 2), ("shape", 3), ("mixed_formats", 4), ("empty_turn", 5), ("shape", 6),
    }
    assert all(e["file"] == "train.jsonl" for e in result.report.errors)


def test_warnings_name_their_line(tmp_path: Path) -> None:
    base = SFT_FORMATS["conversational"]
    rows = [
        *base,
        base[0],                                                           # 7 exact duplicate
        {"messages": [{"role": "user", "content": QUESTIONS[1].upper() + "!!"},
                      {"role": "assistant", "content": ANSWERS[1]}]},      # 8 near duplicate
        {"messages": [{"role": "user", "content": "Mail jane.doe@example.com please"},
                      {"role": "assistant", "content": "Done."}]},         # 9 email
        {"messages": [{"role": "user", "content": "My card is 4111 1111 1111 1111"},
                      {"role": "assistant", "content": "Noted."}]},        # 10 card (Luhn)
        {"messages": [{"role": "user", "content": "Call me on +44 20 7946 0958"},
                      {"role": "assistant", "content": "Will do."}]},      # 11 phone
        {"messages": [{"role": "user", "content": "long " * 200},
                      {"role": "assistant", "content": "ok"}]},            # 12 over budget
    ]
    result = run(tmp_path, rows, max_tokens=100)
    assert result.ok, "warnings do not block"
    found = checks(result.report.warnings)
    assert {("duplicate", 7), ("near_duplicate", 8), ("personal_data", 9),
            ("personal_data", 10), ("personal_data", 11), ("over_token_budget", 12)} <= found
    kinds = {w["line"]: w.get("kinds") for w in result.report.warnings
             if w["check"] == "personal_data"}
    assert kinds[9] == ["email"] and kinds[10] == ["card"] and kinds[11] == ["phone"]
    assert ("few_rows", None) in found
    assert "characters / 4" in result.report.stats["tokens"]["method"]


def test_a_card_number_failing_luhn_is_not_personal_data(tmp_path: Path) -> None:
    rows = [*SFT_FORMATS["conversational"],
            {"messages": [{"role": "user", "content": "Order 4111 1111 1111 1112"},
                          {"role": "assistant", "content": "Found it."}]}]
    assert "personal_data" not in run(tmp_path, rows).report.warning_counts


def test_tokens_are_counted_with_the_base_models_tokenizer(tmp_path: Path, tiny_model: Path
                                                            ) -> None:
    rows = [*SFT_FORMATS["conversational"],
            {"messages": [{"role": "user", "content": "word " * 600},
                          {"role": "assistant", "content": "ok"}]}]
    result = run(tmp_path, rows, base_model=str(tiny_model))
    tokens = result.report.stats["tokens"]
    assert tokens["method"] == f"tokenizer of {tiny_model}"
    assert tokens["budget"] == 512, "the tiny model's context"
    assert ("over_token_budget", 7) in checks(result.report.warnings)
    assert tokens["max_seen_is"] == "tokens" and tokens["max_seen"] > 512
    short = run(tmp_path, SFT_FORMATS["conversational"], base_model=str(tiny_model))
    short_tokens = short.report.stats["tokens"]
    assert short_tokens["max_seen_is"].startswith("upper bound: UTF-8 bytes"), (
        "short rows are not tokenized, and their count says it is a byte bound"
    )


def test_holdout_leakage_blocks_and_the_split_is_deterministic(tmp_path: Path) -> None:
    rows = [{"prompt": f"Question {i}?", "completion": f"Answer {i}."} for i in range(60)]
    first, second = run(tmp_path, rows), run(tmp_path, rows)
    assert first.sha256 == second.sha256
    assert first.split == "hash" and 0 < first.rows_holdout < 20
    assert first.rows_train + first.rows_holdout == 60
    leaked = run(tmp_path, rows, holdout=[rows[3], {"prompt": "Question 5?", "completion": "B"},
                                          {"prompt": "New?", "completion": "Yes."}])
    assert ("holdout_leakage", 4) in checks(leaked.report.errors)
    assert ("prompt_in_both_splits", 6) in checks(leaked.report.warnings)
    clean = run(tmp_path, rows, holdout=[{"prompt": "New?", "completion": "Yes."}])
    assert clean.ok and (clean.split, clean.rows_train, clean.rows_holdout) == ("file", 60, 1)


def test_too_few_rows_and_synthetic_share(tmp_path: Path) -> None:
    one = run(tmp_path, [{"prompt": "q", "completion": "a", "metadata": {"synthetic": True}}])
    assert ("too_few_rows", None) in checks(one.report.errors)
    rows = [{"prompt": f"q{i}", "completion": "a", "metadata": {"synthetic": i < 3}}
            for i in range(4)]
    result = run(tmp_path, rows)
    assert result.synthetic_share == 0.75
    assert "mostly_synthetic" in result.report.warning_counts
