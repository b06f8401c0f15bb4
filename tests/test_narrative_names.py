"""A loop's name in a sentence that goes on with the word the name ends with is quoted: a
loop named "Liveness probe restarts" reads "“Liveness probe restarts” restarts vLLM model
servers", never "Liveness probe restarts restarts vLLM model servers"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from expert.analysis.assess import Assessor, load_assessment
from expert.analysis.explain import _following, _set_off_before
from tests.helpers import builtin_kb

EXAMPLE = Path(__file__).resolve().parent.parent / "expert" / "examples" / "llm-platform.yaml"


@pytest.mark.parametrize(
    ("name", "after", "shown"),
    [
        ("Liveness probe restarts", " restarts vLLM model servers", "“Liveness probe restarts”"),
        ("Client SDK retries", " Retries up to 2 times", "“Client SDK retries”"),
        ("Gateway request timeout", " stops work on", "Gateway request timeout"),
        ("Envoy route retries", ", retries", "Envoy route retries"),
        ("Envoy route retries", "", "Envoy route retries"),
    ],
)
def test_a_name_is_quoted_only_before_its_own_last_word(name: str, after: str, shown: str) -> None:
    assert _set_off_before(name, _following(after)) == shown


def test_no_finding_repeats_a_loop_names_last_word() -> None:
    kb = builtin_kb()
    a = load_assessment(EXAMPLE, kb)
    with Assessor(kb) as ax:
        results = ax.assess(a)
    names = [lp.name for lp in a.loops if lp.name]
    texts = [f.narrative for f in results.every_finding()]
    doubled = [
        text
        for text in texts
        for name in names
        if re.search(rf"(?<!“){re.escape(name)} {re.escape(name.split()[-1])}\b", text)
    ]
    assert doubled == []
    # The example has such names, so the test does test something.
    assert any("“" in text for text in texts)


def test_a_vocabulary_value_in_a_narrative_reads_as_its_label() -> None:
    # "records its decisions as: events" gave the reader the file's word, not its meaning.
    kb = builtin_kb()
    a = load_assessment(EXAMPLE, kb)
    with Assessor(kb) as ax:
        results = ax.assess(a)
    records = kb.vocabulary.decision_records
    texts = [
        f.narrative
        for f in results.every_finding()
        if f.rule in ("decisions-without-reason", "no-correlation-between-loops")
    ]
    assert len(texts) == 2
    for text in texts:
        assert any(str(label) in text for label in records.values()), text
        assert not re.search(r"[:,] (events|none|reasoned)[;.)]", text), text
