"""Training writes a versioned artefact; the version follows the artefact's hash."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app.triage.artefact import ArtefactError, load_artefact
from app.triage.embedding import Embedder
from app.triage.engine import load_engine
from app.triage.training.train import DEFAULT_CASES_DIR, TrainingDataError, author_of, train


def _small_cases(folder: Path, per_class: int) -> None:
    """A few cases of each subcategory taken from the repository's training files."""
    folder.mkdir()
    seen: dict[str, int] = {}
    kept: list[str] = []
    for path in sorted(DEFAULT_CASES_DIR.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            sub = json.loads(line)["label"]["subcategory"]
            if seen.get(sub, 0) < per_class:
                seen[sub] = seen.get(sub, 0) + 1
                kept.append(line)
    (folder / "small.jsonl").write_text("\n".join(kept) + "\n")


def test_version_changes_when_the_artefact_changes(tmp_path: Path, embedder: Embedder) -> None:
    cases = tmp_path / "cases"
    _small_cases(cases, per_class=3)
    first = train(cases_dir=cases, model_dir=tmp_path / "model", embedder=embedder)
    engine_1 = load_engine(tmp_path / "model")
    assert engine_1.version.endswith(first.version)
    assert first.n_cases == 24 and len(first.counts) == 8 and first.cv["folds"] == 3
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert manifest["artefact_sha256"].startswith(first.version.split("-")[1])
    assert len(manifest["training_data_sha256"]) == 64

    same = train(cases_dir=cases, model_dir=tmp_path / "model", embedder=embedder)
    assert same.version == first.version  # deterministic

    shutil.rmtree(cases)
    _small_cases(cases, per_class=4)
    second = train(cases_dir=cases, model_dir=tmp_path / "model", embedder=embedder)
    assert second.version != first.version
    assert second.training_data_sha256 != first.training_data_sha256
    engine_2 = load_engine(tmp_path / "model")
    assert engine_2.version != engine_1.version
    assert len(list((tmp_path / "model").glob("triage-*.joblib"))) == 1


def test_tampered_or_missing_artefact_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(ArtefactError, match="triage-train"):
        load_artefact(tmp_path)
    shipped = Path(load_engine().manifest.artefact)
    model_dir = tmp_path / "copy"
    shutil.copytree(load_artefact.__globals__["DEFAULT_MODEL_DIR"], model_dir)
    (model_dir / shipped.name).write_bytes(b"not a model")
    with pytest.raises(ArtefactError, match="sha256"):
        load_artefact(model_dir)


def test_training_needs_labelled_files(tmp_path: Path, embedder: Embedder) -> None:
    with pytest.raises(TrainingDataError, match=r"no \*\.jsonl"):
        train(cases_dir=tmp_path, model_dir=tmp_path / "m", embedder=embedder)


def test_author_prefix_of_training_files() -> None:
    assert author_of(Path("writer_a_style.jsonl")) == "writer_a"
    assert author_of(Path("engine_messy.jsonl")) == "engine"


def test_the_engine_embeds_in_the_precision_its_model_was_trained_in(
    tmp_path: Path, embedder: Embedder
) -> None:
    import io

    import joblib
    import numpy as np

    from app.triage.artefact import sha256_bytes

    cases = tmp_path / "cases"
    _small_cases(cases, per_class=3)
    assert embedder.precision == "bfloat16"  # the default for new models
    bf16 = train(cases_dir=cases, model_dir=tmp_path / "bf16", embedder=embedder)
    assert bf16.config["embedding_precision"] == "bfloat16"
    assert load_engine(tmp_path / "bf16").embedder.precision == "bfloat16"

    fp32_embedder = Embedder(precision="float32")
    fp32 = train(cases_dir=cases, model_dir=tmp_path / "fp32", embedder=fp32_embedder)
    assert fp32.config["embedding_precision"] == "float32"
    assert load_engine(tmp_path / "fp32").embedder.precision == "float32"

    texts = ["Refund window is 30 days.", "The answer must be JSON with an 'id' field."]
    low, high = embedder.encode(texts), fp32_embedder.encode(texts)
    cosines = (low * high).sum(axis=1)
    assert not np.array_equal(low, high)  # bfloat16 really ran
    assert cosines.min() > 0.999

    # a model saved before the precision was recorded embeds in float32, as it was trained
    folder = tmp_path / "bf16"
    manifest = json.loads((folder / "manifest.json").read_text())
    payload = joblib.load(folder / manifest["artefact"])
    del payload["config"]["embedding_precision"]
    buffer = io.BytesIO()
    joblib.dump(payload, buffer, compress=3)
    (folder / manifest["artefact"]).write_bytes(buffer.getvalue())
    manifest["artefact_sha256"] = sha256_bytes(buffer.getvalue())
    (folder / "manifest.json").write_text(json.dumps(manifest))
    classifier, _ = load_artefact(folder)
    assert classifier.config.embedding_precision == "float32"

    with pytest.raises(ValueError, match="precision"):
        Embedder(precision="float16")
