"""A value nobody gave reads as words that fit the sentence: "gives up after an unknown
time", "retries up to an unknown number of times", never "gives up after unknown" or
"retries up to not answered times". Known values keep the user's text ("60s", "1-121")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from expert.analysis.assess import Assessor, load_assessment
from expert.analysis.explain import unknown_words
from expert.analysis.results import Results
from expert.assessment.fields import spec
from expert.knowledge.casetest import case_assessment
from tests.helpers import builtin_kb, make

ROOT = Path(__file__).resolve().parent.parent
PLATFORMS = sorted((ROOT / "tests" / "incidents").glob("*/platform.yaml")) + sorted(
    (ROOT / "expert" / "examples").glob("*.yaml")
)
# An unknown value dropped where a duration, count or ratio belongs ("after unknown",
# "up to unknown times"), or set after a colon as a bare word ("(time between: unknown;").
UNGRAMMATICAL = re.compile(
    r"\b(after|than|every|takes|up to|by|for|within|over|of|gives \S+) (unknown|not answered)\b"
    # a vocabulary word nobody gave reads "not stated": only after a colon, as a label's value
    r"|\b(for|by|of|to|on|in) not stated\b"
    r"|\b(unknown|not answered) (times|retries|attempts|layers|restarts)\b"
    r"|: (unknown|not answered)[;.)]"
    # The phrases themselves in a slot that cannot take them: "every an unknown time", a
    # count phrase with no plural noun after it ("an unknown number of of them").
    r"|\bevery an unknown\b|\ban unknown number of (?![a-z]+s\b)"
)


def _narratives(results: Results) -> list[str]:
    return [f.narrative for f in results.every_finding()]


@pytest.fixture(scope="module")
def corpus() -> dict[str, list[str]]:
    kb = builtin_kb()
    out: dict[str, list[str]] = {}
    with Assessor(kb) as ax:
        for path in PLATFORMS:
            name = path.parent.name if path.name == "platform.yaml" else path.name
            out[name] = _narratives(ax.assess(load_assessment(path, kb)))
    return out


def test_no_incident_or_example_narrative_drops_unknown_into_a_slot(
    corpus: dict[str, list[str]],
) -> None:
    bad = [f"{name}: {text}" for name, texts in corpus.items() for text in texts]
    bad = [line for line in bad if UNGRAMMATICAL.search(line)]
    assert bad == []
    # The corpus has findings resting on unknown values, so the test does test something.
    every = [text for texts in corpus.values() for text in texts]
    assert any("an unknown time" in text for text in every)
    assert any("an unknown number of" in text for text in every)


def test_no_firing_case_narrative_drops_unknown_into_a_slot() -> None:
    # The knowledge base's own cases fire patterns the incidents do not, with unknowns.
    kb = builtin_kb()
    bad = []
    with Assessor(kb) as ax:
        for p in kb.active():
            casefile = kb.cases.get(p.id)
            for case in casefile.cases if casefile else []:
                if case.expect != "fires":
                    continue
                results = ax.assess(case_assessment(case, kb, case.name))
                bad += [
                    f"{p.id} ({case.name}): {f.narrative}"
                    for f in results.every_finding()
                    if f.rule == p.id and UNGRAMMATICAL.search(f.narrative)
                ]
    assert bad == []


def test_known_values_keep_the_users_text(corpus: dict[str, list[str]]) -> None:
    every = [text for texts in corpus.values() for text in texts]
    # A partly known product of retry counts stays as the range it is.
    assert any("up to 1-121 attempts" in text for text in every)
    # A stated window stays as typed beside a start-up time nobody gave.
    assert any(
        "when its check has failed for 50s, but starting" in text
        and "takes an unknown time" in text
        for text in every
    )


def test_a_resources_duration_reads_as_its_author_wrote_it() -> None:
    # "about 8m" (what the interview saves when a respondent types it) stays so, not
    # "5.3m-12m", the interval it means
    from expert.analysis.assess import Assessor
    from tests.helpers import builtin_kb, make

    kueue = {
        "id": "kueue",
        "triggers": ["priority_arrival"],
        "actuations": ["preempt"],
        "acts_on": ["job"],
        "deadline": "30s",
    }
    a = make([kueue], [{"id": "job", "kind": "job", "checkpoint_duration": "about 8m"}])
    with Assessor(builtin_kb()) as assessor:
        results = assessor.assess(a, deliverables=False)
    (grace,) = [f for f in results.findings if f.rule == "grace-period-shorter-than-checkpoint"]
    assert "a checkpoint of job takes about 8m" in grace.narrative


@pytest.mark.parametrize(
    ("kind", "field", "phrase"),
    [
        ("loop", "deadline", "an unknown time"),
        ("loop", "timescale", "an unknown time"),
        ("resource", "checkpoint_interval", "an unknown time"),
        ("loop", "retry.max_retries", "an unknown number of"),
        ("loop", "guards.give_up_after", "an unknown number of"),
        ("pair", "timescale_ratio", "an unknown factor"),
        ("loop", "decision_record", "not stated"),
        ("loop", "objective", "not stated"),
    ],
)
def test_the_phrase_for_an_unknown_value_follows_the_fields_type(
    kind: str, field: str, phrase: str
) -> None:
    assert unknown_words(spec(kind, field)) == phrase


@pytest.mark.parametrize(("kind", "field"), [("loop", "triggers"), ("loop", "retry.jitter")])
def test_sets_and_yes_no_fields_have_no_phrase(kind: str, field: str) -> None:
    # Sets read as "(and possibly more)" or their labels; no pattern puts a yes/no in text.
    assert unknown_words(spec(kind, field)) is None
    assert unknown_words(None) is None


def test_an_unanswered_and_a_dont_know_value_read_alike() -> None:
    kb = builtin_kb()
    loops = [
        {
            "id": "probe",
            "name": "Liveness probe",
            "triggers": ["health_check"],
            "actuations": ["restart"],
            "acts_on": ["model"],
        }
    ]
    texts = []
    for startup in (None, "unknown"):
        resource = {"id": "model", "name": "Model server", "kind": "model_replica"}
        if startup is not None:
            resource["startup_time"] = startup
        with Assessor(kb) as ax:
            results = ax.assess(make(loops, [resource]))
        texts += [
            f.narrative for f in results.every_finding() if f.rule == "liveness-kills-slow-start"
        ]
    assert len(texts) == 2
    for text in texts:
        assert (
            "has failed for an unknown time, but starting Model server takes an unknown time"
            in text
        )
