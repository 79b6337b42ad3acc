"""Each subcategory's signals fire on a small hand-made case, with readable evidence."""

from __future__ import annotations

import pytest

from app.cases.schemas import SUBCATEGORIES, FailureCase
from app.triage.signals import compute_signals
from app.triage.text_facts import extract_facts, guess_language, parse_json

CASES: dict[str, FailureCase] = {
    "missing_knowledge": FailureCase(
        input="what's the reorder threshold for part KX-220 at the tulsa yard",
        output="Reorder thresholds are usually set at around two weeks of typical usage.",
        expected="KX-220 at Tulsa reorders at 340 units (min-max sheet, row 18).",
        feedback="it made that up, our min-max sheet is internal",
    ),
    "stale_knowledge": FailureCase(
        input="How much is the annual permit for the north marina?",
        output="The annual mooring permit at the north marina costs $1,150.",
        expected="Since January 2025 the annual permit costs $1,400.",
        feedback="outdated, the fee changed this year",
    ),
    "retrieval_gap": FailureCase(
        input="What's the noise limit for the Kestrel site at night?",
        output="The night-time noise limit is 45 dB.",
        expected="Kestrel site: 40 dB between 23:00 and 07:00.",
        context=["Osprey site permit: night-time noise limit 45 dB."],
        feedback="the retriever returned the wrong site's permit",
    ),
    "format": FailureCase(
        input="Return the device as JSON with keys id and firmware.",
        output="The device D-77 runs firmware 4.2.1.",
        expected='{"id": "D-77", "firmware": "4.2.1"}',
        feedback="not json, the parser failed",
    ),
    "style": FailureCase(
        input="when does the pool open",
        output="OMG the pool opens at 7am!!! 🎉🎉 So excited for you!!! 😍",
        expected="The pool opens at 7am.",
        feedback="way too many emojis, not our tone",
    ),
    "procedure": FailureCase(
        input="Delete all records for customer 5521.",
        output="Done. All records for customer 5521 have been deleted.",
        expected="Deleting is irreversible: can you confirm you want every record of 5521 removed?",
        feedback="should have asked for confirmation before deleting",
    ),
    "grounding": FailureCase(
        input="How many vacation days do contractors get?",
        output="Contractors get 25 vacation days.",
        expected="Contractors get 10 vacation days.",
        context=["Contractor handbook: contractors receive 10 vacation days per year."],
        feedback="the doc says 10, it ignored the context",
    ),
    "preference": FailureCase(
        input="Explain how to reset my router.",
        output="Unplug the router for 30 seconds and plug it back in.",
        expected="Unplug it, wait 30 seconds, plug it back in; the lights go green in a minute.",
        feedback="both are correct, raters preferred B",
        source="pairwise_review",
    ),
}


@pytest.mark.parametrize("subcategory", SUBCATEGORIES)
def test_signal_fires_for_each_subcategory(subcategory: str) -> None:
    report = compute_signals(CASES[subcategory])
    fired = [s for s in report.signals if s.subcategory == subcategory]
    assert fired, f"no {subcategory} signal fired: {report.signals}"
    support = report.support()
    assert max(support, key=lambda k: support[k]) == subcategory
    assert all(s.evidence and len(s.evidence) < 200 for s in fired)


def test_structural_signals_without_feedback() -> None:
    """The case itself (no feedback) carries the signal: facts, context, structure."""
    grounding = CASES["grounding"].model_copy(update={"feedback": None})
    names = {s.name for s in compute_signals(grounding).signals}
    assert "context_holds_expected" in names
    retrieval = CASES["retrieval_gap"].model_copy(update={"feedback": None})
    names = {s.name for s in compute_signals(retrieval).signals}
    assert "context_lacks_expected" in names
    fmt = CASES["format"].model_copy(update={"feedback": None})
    assert {s.name for s in compute_signals(fmt).signals} >= {"json_expected_prose_given"}
    stale = CASES["stale_knowledge"].model_copy(update={"feedback": None})
    evidence = [
        s.evidence for s in compute_signals(stale).signals if s.subcategory == "stale_knowledge"
    ]
    assert any("1150" in e and "1400" in e for e in evidence)


def test_evidence_quotes_context_and_output() -> None:
    report = compute_signals(CASES["grounding"])
    evidence = next(s.evidence for s in report.signals if s.name == "context_holds_expected")
    assert "'10'" in evidence and "'25'" in evidence


def test_language_mismatch_and_length_limit() -> None:
    case = FailureCase(
        input="Écrivez un résumé de la réunion pour les membres du comité, en deux phrases.",
        output="The committee met on Monday and approved the budget for the new library wing.",
    )
    assert any(s.name == "language_mismatch" for s in compute_signals(case).signals)
    limit = FailureCase(input="Describe the flat in max 50 characters.", output="x " * 60)
    assert any(s.name == "over_length_limit" for s in compute_signals(limit).signals)


def test_messy_feedback_with_typo_still_fires() -> None:
    case = FailureCase(input="price of the gold plan?", output="$30/mo", feedback="oudated price")
    assert any(s.subcategory == "stale_knowledge" for s in compute_signals(case).signals)


def test_missing_fields_are_fine() -> None:
    report = compute_signals(FailureCase(input="hi", output=""))
    assert report.signals == []
    assert all(isinstance(v, float) for v in report.features.values())


def test_text_facts_helpers() -> None:
    facts = extract_facts("Since 1 April 2024 the fee is £1,250 for unit B-12; call Dana Smith.")
    assert {"1250", "2024"} <= facts.numbers
    assert "month:04" in facts.dates and "b-12" in facts.codes
    assert "dana smith" in facts.entities
    assert parse_json('```json\n{"a": 1}\n```') == {"a": 1}
    assert parse_json('{"a": 1,}') is None
    assert guess_language("Le fournisseur doit livrer les produits dans les trente jours.") == "fr"
    assert guess_language("ok") is None


FOREIGN_FEEDBACK: list[tuple[str, str]] = [
    ("stale_knowledge", "to już nieaktualne, cennik zmienił się w marcu"),
    ("stale_knowledge", "旧料金のまま回答している。4月に改定済み"),
    ("stale_knowledge", "das gilt seit März nicht mehr"),
    ("missing_knowledge", "se lo ha inventado, esa tarifa no existe"),
    ("missing_knowledge", "das hat er frei erfunden, unsere Preisliste ist intern"),
    ("retrieval_gap", "es wurde einfach das falsche Dokument gezogen"),
    ("retrieval_gap", "予約商品の規定が検索で取れていない"),
    ("grounding", "la lettre dit pourtant le contraire, il a ignoré le document"),
    ("format", "tinha que ser em tópicos, no máximo 3"),
    ("style", "réponse glaciale, zéro empathie pour la famille"),
    ("procedure", "debería haber verificado la identidad antes de dar el saldo"),
    ("preference", "ambas válidas, pero la versión B sacó 4,6 frente a 3,8"),
]


@pytest.mark.parametrize(("subcategory", "feedback"), FOREIGN_FEEDBACK)
def test_feedback_cues_in_other_languages(subcategory: str, feedback: str) -> None:
    case = FailureCase(input="?", output="...", feedback=feedback)
    fired = {s.subcategory for s in compute_signals(case).signals if s.name.startswith("feedback")}
    assert subcategory in fired, f"{feedback!r} fired {fired}"


def test_english_words_do_not_trip_the_foreign_cues() -> None:
    case = FailureCase(
        input="?", output="...", feedback="a ton of detail on the internet page, parole board"
    )
    fired = {s.subcategory for s in compute_signals(case).signals}
    assert not fired & {"style", "format", "missing_knowledge"}, fired


def test_metadata_dating_a_change_supports_stale_knowledge() -> None:
    case = FailureCase(
        input="price of a single consult?",
        output="A single consult costs R$ 90.",
        metadata={"price_table_updated": "2025-02-01", "model_cutoff": "2024-06"},
    )
    fired = [s for s in compute_signals(case).signals if s.name == "metadata_change_date"]
    assert fired and fired[0].subcategory == "stale_knowledge"
    plain = FailureCase(input="price?", output="R$ 90.", metadata={"app": "clinic"})
    assert not any(s.name == "metadata_change_date" for s in compute_signals(plain).signals)


def test_every_weight_has_a_reason_and_is_used() -> None:
    """The weights table is the one place for the signals' numbers: each row says why, each is
    read by a family module, and no module reads a name the table lacks."""
    import re
    from pathlib import Path

    from app.triage.signals import weights

    rows = weights.W.rows()
    assert all(len(row.why.strip()) > 10 for row in rows.values())
    package = Path(weights.__file__).parent
    source = "\n".join(p.read_text() for p in package.glob("*.py") if p.name not in {"weights.py"})
    used = set(re.findall(r"\bW\.([a-z_]+)\b", source))
    assert used == set(rows), (sorted(set(rows) - used), sorted(used - set(rows)))
    with pytest.raises(AttributeError, match="no signal weight"):
        _ = weights.W.not_a_weight


def test_signal_weights_come_from_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.triage.signals import weights

    rows = weights.W.rows()
    name = "json_expected_prose_given"
    monkeypatch.setitem(weights.W._rows, name, weights.Weight(0.123, rows[name].why))
    fired = {s.name: s.weight for s in compute_signals(CASES["format"]).signals}
    assert fired[name] == 0.123
