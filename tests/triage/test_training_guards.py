"""Guards around training: held-out sets stay clean, probabilities are calibrated, the review
threshold is fitted, and the manifest says where the data came from."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.cases.schemas import SUBCATEGORIES, FailureCase
from app.triage.alignment import describe, feature_names
from app.triage.embedding import Embedder
from app.triage.features import build_features
from app.triage.training import calibration
from app.triage.training.leakage import LeakageError, find_near_copies
from app.triage.training.train import DEFAULT_CASES_DIR, train

REPO = Path(__file__).resolve().parents[2]


def _case(input: str, output: str) -> FailureCase:
    return FailureCase(input=input, output=output)


def test_near_copies_are_found_and_unrelated_cases_are_not() -> None:
    held = [("dev.jsonl:7", _case("what's the latest stable python version?", "Python 3.10."))]
    training = [
        ("a.jsonl:1", _case("latest stable python version?", "The latest stable Python is 3.10.")),
        ("a.jsonl:2", _case("What's the latest stable Python version?", "It is 3.13 now.")),
        ("a.jsonl:3", _case("how do I reset my router", "Unplug it for 30 seconds.")),
    ]
    found = find_near_copies(training, held)
    assert [p.training for p in found] == ["a.jsonl:2", "a.jsonl:1"]  # exact input first
    assert found[0].score == 100.0 and found[1].score >= 67.5
    assert "a.jsonl:1 nearly copies dev.jsonl:7" in found[1].describe()


def _write_small_cases(folder: Path, per_class: int) -> list[str]:
    folder.mkdir(parents=True)
    seen: dict[str, int] = {}
    kept: list[str] = []
    for path in sorted(DEFAULT_CASES_DIR.glob("writer_*.jsonl")):
        for line in path.read_text().splitlines():
            sub = json.loads(line)["label"]["subcategory"] if line.strip() else None
            if sub and seen.get(sub, 0) < per_class:
                seen[sub] = seen.get(sub, 0) + 1
                kept.append(line)
    (folder / "writer_x_all.jsonl").write_text("\n".join(kept) + "\n")
    return kept


def test_training_refuses_a_line_that_nearly_copies_a_held_out_line(
    tmp_path: Path, embedder: Embedder
) -> None:
    kept = _write_small_cases(tmp_path / "cases", per_class=3)
    copied = json.loads(kept[5])["case"]
    reworded = dict(copied, input=copied["input"].upper() + " ?", output=copied["output"] + " ")
    held_out = tmp_path / "held_out.jsonl"
    held_out.write_text(json.dumps(reworded) + "\n")
    with pytest.raises(LeakageError) as error:
        train(
            cases_dir=tmp_path / "cases",
            model_dir=tmp_path / "model",
            embedder=embedder,
            exclude=[held_out],
        )
    assert "writer_x_all.jsonl:6 nearly copies held_out.jsonl:1" in str(error.value)
    assert not (tmp_path / "model").exists()  # nothing was trained or written

    cli = subprocess.run(
        [sys.executable, "-m", "app.triage.cli", "train", "--cases-dir", str(tmp_path / "cases"),
         "--model-dir", str(tmp_path / "model"), "--exclude", str(held_out)],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )  # fmt: skip
    assert cli.returncode == 2
    assert "nearly copies held_out.jsonl:1" in cli.stderr


def test_the_manifest_records_sources_held_out_sets_and_the_review_point(
    tmp_path: Path, embedder: Embedder
) -> None:
    cases = tmp_path / "cases"
    kept = _write_small_cases(cases, per_class=4)
    (cases / "writer_x_all.jsonl").write_text("\n".join(kept[::2]) + "\n")
    (cases / "writer_y_all.jsonl").write_text("\n".join(kept[1::2]) + "\n")
    real = json.loads((DEFAULT_CASES_DIR / "real_github_issues.jsonl").read_text().splitlines()[0])
    (cases / "real_reports.jsonl").write_text(json.dumps(real) + "\n")
    manifest = train(cases_dir=cases, model_dir=tmp_path / "model", embedder=embedder)
    stored = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert stored["sources"]["by_writer"] == {"real": 1, "writer_x": 16, "writer_y": 16}
    assert stored["sources"]["real_reports"]["with_url"] == 1
    assert "cases.jsonl" in stored["held_out_checked"]  # the sealed set
    point = stored["review"]["operating_point"]
    assert {"threshold", "flagged", "category_accuracy", "met"} <= set(point)
    assert len(stored["review"]["curve"]) > 10
    assert manifest.config["temperature"] == stored["review"]["temperature"]
    assert "leave_one_author_out" in stored["cv"]
    from app.triage.classifier import ModelConfig
    from app.triage.training.train import load_training_set

    weights = load_training_set(cases).weights(ModelConfig())
    assert sorted(set(weights.tolist())) == [1.0, 3.0] and weights.sum() == 32 + 3


def test_temperature_cools_overconfident_probabilities() -> None:
    rng = np.random.default_rng(0)
    labels = [SUBCATEGORIES[i % 8] for i in range(400)]
    probs = np.full((400, 8), 0.01)
    for i, label in enumerate(labels):  # 60% right, always 93% sure
        guess = label if rng.random() < 0.6 else SUBCATEGORIES[(i + 3) % 8]
        probs[i, SUBCATEGORIES.index(guess)] = 0.93
    probs /= probs.sum(axis=1, keepdims=True)
    temperature = calibration.fit_temperature(probs, labels)
    assert temperature > 1.5
    from app.triage.classifier import calibrate

    before = calibration.expected_calibration_error(probs, labels)
    after = calibration.expected_calibration_error(calibrate(probs, temperature), labels)
    assert after < before / 2


def test_the_review_threshold_is_the_lowest_that_meets_the_target() -> None:
    curve = [
        {"threshold": 0.3, "flagged": 0.05, "category_accuracy": 0.91},
        {"threshold": 0.4, "flagged": 0.12, "category_accuracy": 0.95},
        {"threshold": 0.5, "flagged": 0.18, "category_accuracy": 0.97},
        {"threshold": 0.6, "flagged": 0.30, "category_accuracy": 0.99},
    ]
    assert calibration.choose_threshold(curve)["threshold"] == 0.4
    missed = calibration.choose_threshold(curve, target=0.98)
    assert missed["threshold"] == 0.5 and missed["met"] is False  # at most 20% flagged


def test_alignment_tells_grounding_from_a_retrieval_gap(embedder: Embedder) -> None:
    grounding = FailureCase(
        input="what is the late fee?",
        output="The late fee is 40 dollars per month.",
        expected="The late fee is 15 dollars, charged once.",
        context=["Billing policy: a late fee of 15 dollars is charged once per invoice."],
    )
    gap = grounding.model_copy(
        update={"context": ["Opening hours: Monday to Friday, 9am to 5pm, closed on holidays."]}
    )
    features = build_features([grounding, gap], embedder=embedder, fields=("output",))
    names = feature_names()
    ground_notes, gap_notes = (
        describe(dict(zip(names, row.tolist(), strict=True))) for row in features.alignment
    )
    index = names.index("align:expected_in_context:gap")
    assert features.alignment[0, index] < features.alignment[1, index]
    assert ground_notes[0].startswith("words not found in the context:")
    assert gap_notes != ground_notes


def test_a_missing_exclude_file_is_named_before_any_work(tmp_path: Path) -> None:
    from app.triage.training.train import TrainingDataError

    missing = tmp_path / "nowhere.jsonl"
    with pytest.raises(TrainingDataError, match=r"--exclude file not found: .*nowhere\.jsonl"):
        train(cases_dir=DEFAULT_CASES_DIR, model_dir=tmp_path / "m", exclude=[missing])
    assert not (tmp_path / "m").exists()
