"""Every hand-set number of the signals, in one table, each with a line on why.

A signal's weight is how strongly it supports its subcategory (fired weights are summed per
subcategory, saturating at `SUPPORT_CAP`); a threshold decides whether it fires at all. These
numbers are set by hand (no code fits them), ordered by how unambiguous each cue is: a
reporter's words and a parse failure near 1, a loose stylistic hint near 0.3. The learned model
(`app.triage.classifier`) reads the features and the summed support, so it can discount a weight
that is off; but changing one changes its inputs, and the shipped model was trained on these
values (retrain after any change).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Weight:
    value: float
    why: str


class WeightTable:
    """Named numbers, read as attributes: ``W.feedback_base``."""

    def __init__(self, **rows: tuple[float, str]) -> None:
        self._rows = {name: Weight(value, why) for name, (value, why) in rows.items()}

    def __getattr__(self, name: str) -> float:
        try:
            return self._rows[name].value
        except KeyError:
            raise AttributeError(f"no signal weight {name!r}") from None

    def rows(self) -> dict[str, Weight]:
        return dict(self._rows)


SUPPORT_CAP = 2.0  # summed support per subcategory stops here: three cues say no more than two

W = WeightTable(
    # --- feedback: the reporter's own words ---
    feedback_base=(0.6, "a reporter naming the problem is direct evidence, short of proof"),
    feedback_per_extra_hit=(0.15, "each further distinct cue word adds confidence..."),
    feedback_extra_hits_counted=(2, "...for at most two more, so one note cannot swamp the rest"),
    # --- source and metadata ---
    source_preference=(0.9, "a source that is a comparison (A/B, ranking) all but names the rung"),
    metadata_preference=(0.6, "a comparison recorded in metadata, as strong as feedback"),
    metadata_validator=(0.35, "a validator key hints at a format check, not that it failed"),
    metadata_change_date=(0.3, "a dated change makes staleness possible, no more"),
    # --- facts: expected, output and context compared ---
    grounding_hard_share=(0.5, "half the hard expected facts in the context: context had it"),
    context_holds_base=(0.5, "the context held the answer and the output left it..."),
    context_holds_per_share=(0.4, "...more so the larger the share of hard facts it held"),
    context_words_share=(0.6, "most expected content words in the context (no facts to compare)"),
    context_words_max_overlap=(0.5, "...while the output shares under half of them"),
    context_holds_words=(0.45, "wording overlap is weaker evidence than matching facts"),
    context_lacks_base=(0.5, "the context misses the expected facts: the retriever failed..."),
    context_lacks_per_missing=(0.4, "...more so the fewer of them the context has"),
    follows_wrong_context=(0.4, "output repeats a passage that does not answer: retrieval hint"),
    echoes_share=(0.7, "most of the output's hard facts come from the context: it echoes it"),
    context_about_something_else=(0.6, "echoes a context that never names what was asked"),
    follows_context_expected_elsewhere=(0.4, "echoes a context lacking the expected answer"),
    topical_share=(0.35, "a third of the output's words in the context: the same topic"),
    contradicts_context=(0.45, "on-topic output with other numbers than the context"),
    output_not_in_context=(0.55, "the model itself says the documents lack the answer"),
    output_cannot_answer=(0.3, "without context, 'I cannot answer' fits several knowledge gaps"),
    change_min_overlap=(0.1, "expected and output must at least share some wording..."),
    marks_change_base=(0.55, "the expected answer marks a change and the value differs..."),
    marks_change_per_cue=(0.1, "...each temporal cue (up to three) adds to it"),
    differ_min_overlap=(0.3, "a third shared content words: the same answer, other facts"),
    differ_in_facts_time=(0.45, "other facts on a time-sensitive point: likely out of date"),
    differ_in_facts=(0.3, "other facts with no time cue: unknown knowledge, weakly"),
    output_older_year=(0.5, "the output cites an older year than the expected answer"),
    wordy_ratio=(2.5, "an output over 2.5x the expected words (+10) is padding, not hedging"),
    wordy_slack=(10, "...with ten words of slack for short expected answers"),
    generic_base=(0.45, "a hedge where specific facts were expected..."),
    generic_per_hedge=(0.1, "...each hedge phrase (up to three) adds to it"),
    expected_specific_facts=(0.35, "two or more expected facts absent from the output"),
    wrong_private_identifier=(0.3, "an invented identifier where a private one was expected"),
    generic_output=(0.25, "a generic answer with nothing to compare against: a faint cue"),
    # --- format ---
    invalid_json=(0.9, "JSON that does not parse is a format failure beyond doubt"),
    json_expected_prose_given=(0.9, "prose where JSON was expected or asked for, as certain"),
    json_keys_differ=(0.85, "parsed JSON with other keys: a schema failure, nearly certain"),
    structure_mismatch=(0.7, "list/table/CSV/heading layout not followed: clear, rarely alone"),
    length_limit_chars_from=(40, "a bare limit of 40 or more counts characters, below items"),
    over_length_limit=(0.85, "a stated limit exceeded, counted exactly"),
    extra_prose_ratio=(2, "an output over twice the expected words (+3)..."),
    extra_prose_slack=(3, "...when the input asked for only the answer"),
    extra_prose=(0.6, "prose around a requested bare answer"),
    language_mismatch=(0.85, "the output's language differs from the expected/input/locale"),
    requested_language=(0.8, "a language asked for by name and not used"),
    ascii_only_share=(0.01, "under 1% non-ASCII letters: the output is in a Latin script"),
    min_words_for_language=(6, "six words before a language guess is trusted"),
    expected_non_ascii_share=(0.08, "8% non-ASCII letters: the expected answer is another script"),
    output_non_ascii_share=(0.02, "...and under 2% in the output"),
    script_mismatch=(0.7, "another script than expected, language not named"),
    same_form_max_ratio=(3, "same numbers at under 3x the length: a difference of form"),
    # --- style ---
    long_ratio=(2.5, "2.5x the expected words is verbose"),
    tight_form_min_words=(30, "with no expected answer, 30 words is too long for a short form"),
    tight_form_too_long=(0.55, "a short form asked for by name and not kept: format"),
    verbose_min_words=(25, "below 25 words length is not a style problem"),
    verbose_base=(0.45, "same facts at length: style..."),
    verbose_per_ratio=(0.05, "...more the longer it is..."),
    verbose_max_extra=(0.3, "...up to 0.3 more"),
    curt_ratio=(0.35, "a third of the expected length with the same facts is curt"),
    curt_min_expected_words=(20, "...when the expected answer is long enough to compare"),
    curt_same_content=(0.35, "curtness is a mild style cue"),
    very_long_words=(150, "with nothing to compare, 150 words is long for a chat answer"),
    very_long_output=(0.25, "length alone is a faint cue"),
    emoji_excess=(2, "two more emoji than expected..."),
    exclamation_excess=(3, "...or three more exclamation marks (or one more of each)"),
    emoji_exclamations=(0.6, "a tone the expected answer does not have"),
    over_apologetic=(0.6, "two apologies, more than expected"),
    breaks_persona=(0.55, "'as an AI' where the expected answer has none"),
    casual_register=(0.45, "slang beyond the expected answer's"),
    default_long_word_ratio=(0.08, "long-word share of plain English, when nothing is expected"),
    default_sentence_words=(15.0, "average sentence words of plain English, likewise"),
    sentence_words_scale=(20.0, "a sentence-length difference of 20 words maps to 1.0"),
    reading_long_ratio=(0.15, "15% long words reads as hard..."),
    reading_long_excess=(0.08, "...8 points above the expected answer..."),
    reading_min_words=(8, "...over at least eight words"),
    reading_level=(0.5, "harder vocabulary than expected"),
    dismissive_tone=(0.45, "a rude phrase the expected answer lacks"),
    no_empathy_expected=(0.45, "an upset user, empathy expected and missing"),
    no_empathy=(0.3, "an upset user and no empathy, nothing expected to compare"),
    lay_long_ratio=(0.12, "12% long words is expert text for a lay audience..."),
    lay_sentence_words=(22, "...or sentences of 22 words on average"),
    lay_audience_hard_text=(0.55, "a lay audience named and expert text given"),
    # --- procedure ---
    acted_on_request=(0.3, "acting at once on an imperative is only sometimes wrong"),
    acted_without_asking=(0.7, "acting where the expected answer first asks or verifies"),
    did_not_ask=(0.4, "not asking where the expected answer asks"),
    did_not_escalate=(0.55, "not escalating where the expected answer refers on"),
    should_decline=(0.35, "complying where the expected answer declines"),
)
