"""Diagnosis an operator can trust: findings rest on known structure, are counted once per
kind, carry an evidence score, and the weak ones are held back in a list to check.

Each test here failed on the code before these rules: an unknown actuation spawned possible
findings, every pair and every loop was its own finding, and nothing was held back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from expert.analysis.assess import Assessor
from expert.analysis.results import Results
from expert.assessment import model as assessment_mod
from expert.render.reports import render
from tests.helpers import builtin_kb, make

EXAMPLES = Path(__file__).resolve().parent.parent / "expert" / "examples"

KILLER = {
    "id": "gateway-timeout",
    "name": "Gateway timeout",
    "layer": "safety",
    "objective": "protection",
    "triggers": ["timeout"],
    "actuations": ["terminate"],
    "acts_on": ["api"],
}
RETRIER = {
    "id": "sdk-retries",
    "name": "SDK retries",
    "layer": "runtime",
    "triggers": ["failure"],
    "actuations": ["retry"],
    "acts_on": ["api"],
    "retry": {"max_retries": 2, "retries_on": ["transient", "timeout"]},
}


@pytest.fixture(scope="module")
def ax() -> Iterator[Assessor]:
    with Assessor(builtin_kb()) as assessor:
        yield assessor


def _assess(ax: Assessor, loops: list[dict[str, Any]], **extra: Any) -> Results:
    return ax.assess(make(loops, **extra))


def _plain(text: str) -> None:
    """No field name, vocabulary id or condition syntax in text meant for people."""
    vocab = builtin_kb().vocabulary
    ids = {t for table in ("actuations", "triggers", "signals") for t in vocab.terms(table)}
    technical = {t for t in ids if "_" in t} | {"acts_on", "decision_record", "same_as"}
    words = set(re.findall(r"[A-Za-z_]+(?:\.[A-Za-z_]+)*", text))
    assert not {w for w in words if w in technical or "_" in w or "." in w}, text
    assert "`" not in text and "{" not in text, text


# ------------------------------------------------------------------ unknown structure


def test_an_unknown_actuation_is_one_question_not_possible_findings(ax: Assessor) -> None:
    mystery = {"id": "mystery", "name": "Mystery controller", "acts_on": ["api"]}
    mystery |= {"triggers": ["timeout"], "actuations": "unknown"}
    r = _assess(ax, [mystery, RETRIER])
    assert not [f for f in r.findings if f.kind != "auditability" and "mystery" in f.loops]
    asked = [q for q in r.open_questions if q.loop == "mystery" and q.dimension == "acts"]
    assert len(asked) == 1
    q = asked[0]
    assert q.text == "What does Mystery controller do when it acts?"
    assert q.could_settle  # pattern titles, in plain words
    titles = {p.title for p in builtin_kb().patterns.values()}
    assert set(q.could_settle) <= titles
    _plain(q.text)
    for title in q.could_settle:
        _plain(title)


def test_an_unknown_detail_still_makes_a_possible_finding(ax: Assessor) -> None:
    retrier = {k: v for k, v in RETRIER.items() if k != "retry"}
    r = _assess(ax, [KILLER, retrier])
    found = [f for f in r.findings if f.rule == "shutdown-vs-retry"]
    assert [f.status for f in found] == ["possible"]
    assert found[0].evidence.missing == 1 and found[0].evidence.shown


# ------------------------------------------------------------------ counting


def test_pairs_of_one_pattern_on_one_resource_are_one_finding(ax: Assessor) -> None:
    proxy = KILLER | {"id": "proxy-timeout", "name": "Proxy timeout"}
    r = _assess(ax, [KILLER, proxy, RETRIER])
    found = [f for f in r.findings if f.rule == "shutdown-vs-retry"]
    assert len(found) == 1
    f = found[0]
    # Named by the resource, so the id holds while pairs join or leave the group.
    assert f.id == "shutdown-vs-retry@api"
    (single,) = [g for g in _assess(ax, [KILLER, RETRIER]).findings if g.rule == f.rule]
    assert single.id == f.id
    assert [m.loops for m in f.members] == [
        ["gateway-timeout", "sdk-retries"],
        ["proxy-timeout", "sdk-retries"],
    ]
    assert {m.resource for m in f.members} == {"api"}
    assert "Proxy timeout and SDK retries" in f.narrative
    # The same answers give the same ids, in the same order.
    assert [g.id for g in r.findings] == [
        g.id for g in _assess(ax, [KILLER, proxy, RETRIER]).findings
    ]


def test_pairs_on_different_resources_stay_apart(ax: Assessor) -> None:
    other = KILLER | {"id": "batch-timeout", "acts_on": ["batch"]}
    batch_retrier = RETRIER | {"id": "batch-retries", "acts_on": ["batch"]}
    r = _assess(ax, [KILLER, RETRIER, other, batch_retrier])
    assert len([f for f in r.findings if f.rule == "shutdown-vs-retry"]) == 2


def test_an_auditability_gap_is_reported_once_per_kind(ax: Assessor) -> None:
    loops = [
        {"id": f"loop-{i}", "decision_record": "none", "owner": "team", "objective": "protection"}
        for i in range(4)
    ]
    r = _assess(ax, loops)
    gaps = [f for f in r.findings if f.rule == "decisions-without-reason"]
    assert len(gaps) == 1
    assert gaps[0].id == "decisions-without-reason"  # one per kind: stable as loops join
    assert gaps[0].loops == [f"loop-{i}" for i in range(4)]
    assert len(gaps[0].members) == 4


def test_a_question_not_answered_yet_is_no_gap_until_someone_says_they_do_not_know(
    ax: Assessor,
) -> None:
    fresh = {"id": "sdk-retries", "name": "SDK retries"}  # named, nothing asked yet
    r = _assess(ax, [fresh])
    gaps = [f for f in r.every_finding() if f.kind == "auditability"]
    assert gaps and all(f.status == "possible" and not f.evidence.shown for f in gaps)
    assert all(f.id.endswith(":unanswered") for f in gaps)
    owner = next(f for f in gaps if f.rule == "unknown-owner")
    assert [b.unknown for b in owner.because] == [True]
    # Each waits in the list to check under the question that settles it.
    checks = {c.question: c.findings for c in r.to_check}
    assert checks["SDK retries: Which team owns its configuration?"] == [owner.id]
    # Once the respondent says nobody knows, it is a gap, shown and confirmed.
    said = _assess(ax, [fresh | {"owner": "unknown"}])
    (gap,) = [f for f in said.findings if f.rule == "unknown-owner"]
    assert (gap.id, gap.status, gap.evidence.shown) == ("unknown-owner", "confirmed", True)
    # A loop said unknown and one not asked yet make two findings, not one mixing both.
    both = _assess(ax, [fresh | {"owner": "unknown"}, {"id": "hpa", "name": "HPA"}])
    owners = {f.id: f.loops for f in both.findings if f.rule == "unknown-owner"}
    assert owners == {"unknown-owner": ["sdk-retries"], "unknown-owner:unanswered": ["hpa"]}


def test_a_gap_waiting_on_an_answer_leads_to_no_cost(ax: Assessor) -> None:
    # The conflict is confirmed, but nobody has been asked what the loops record.
    r = _assess(ax, [KILLER, RETRIER])
    assert "shutdown-vs-retry" in {f.rule for f in r.findings if f.status == "confirmed"}
    costs = {f.rule for f in r.effects if f.kind == "ghost-cost"}
    assert "engineering-time-on-non-root-causes" not in costs
    assert "decision-reconstruction-time" not in costs
    said = _assess(
        ax, [KILLER | {"decision_record": "unknown"}, RETRIER | {"decision_record": "none"}]
    )
    assert "engineering-time-on-non-root-causes" in {f.rule for f in said.effects}


def test_engineering_time_needs_a_confirmed_conflict_across_a_gap(ax: Assessor) -> None:
    nobody = {"id": "mystery", "owner": "unknown", "decision_record": "none"}
    alone = _assess(ax, [nobody])
    assert "engineering-time-on-non-root-causes" not in {f.rule for f in alone.every_finding()}
    killer = KILLER | {"decision_record": "events"}
    retrier = RETRIER | {"decision_record": "none"}
    crossed = _assess(ax, [killer, retrier])
    (cost,) = [f for f in crossed.effects if f.rule == "engineering-time-on-non-root-causes"]
    causes = {crossed.by_id()[c].rule for c in cost.derived_from}
    assert {"shutdown-vs-retry", "no-correlation-between-loops"} <= causes
    described = {"decision_record": "reasoned", "objective": "availability"}
    recorded = _assess(ax, [KILLER | described, RETRIER | described])
    assert "engineering-time-on-non-root-causes" not in {f.rule for f in recorded.every_finding()}


# ------------------------------------------------------------------ ranking


def _held_back_case(ax: Assessor) -> Results:
    """A possible finding missing two answers next to a confirmed one."""
    probe = {
        "id": "liveness-probe",
        "name": "Liveness probe restarts",
        "layer": "orchestration",
        "triggers": ["health_check"],
        "actuations": ["restart"],
        "acts_on": ["api"],
    }
    return _assess(ax, [KILLER, RETRIER, probe])


def test_every_finding_carries_its_evidence(ax: Assessor) -> None:
    r = _held_back_case(ax)
    for f in r.every_finding():
        e = f.evidence
        assert 0 <= e.score <= 1 and 0 <= e.known_share <= 1
        assert (e.missing == 0) == (f.status == "confirmed")
        # A gap is someone saying nobody knows: one waiting on an answer is held back.
        assert e.shown == (e.missing <= 1 and not e.waiting)
        assert e.waiting == f.id.endswith(":unanswered")
        if f.status == "confirmed" and f.kind != "symptom" and f.kind != "ghost-cost":
            assert e.known_share == 1.0


def test_weak_findings_are_held_back_and_grouped_by_question(ax: Assessor) -> None:
    r = _held_back_case(ax)
    held = [f for f in r.every_finding() if not f.evidence.shown]
    assert held, "the case needs a finding missing two answers"
    assert r.held_back == len(held)
    listed = [i for g in r.to_check for i in g.findings]
    assert sorted(listed) == sorted(f.id for f in held)
    for g in r.to_check:
        _plain(g.question)
    assert sum(r.counts().values()) == len(r.every_finding()) - len(held)
    # JSON keeps everything, marked.
    data = json.loads(r.model_dump_json())
    every = [*data["findings"], *data["effects"]]
    assert {f["id"] for f in every if not f["evidence"]["shown"]} == {f.id for f in held}


def test_reports_show_the_held_back_findings_apart(ax: Assessor) -> None:
    a = make(
        [
            KILLER,
            RETRIER,
            {
                "id": "liveness-probe",
                "name": "Liveness probe restarts",
                "triggers": ["health_check"],
                "actuations": ["restart"],
                "acts_on": ["api"],
            },
        ]
    )
    r = ax.assess(a)
    assert r.held_back
    md = render("markdown", r, a)
    summary = md.split("## Appendix A")[0]
    findings, effects = r.held_back_counts()
    assert findings + effects == r.held_back
    # Findings and their effects are counted apart here too.
    said = f"{findings} more possible finding" if findings else f"{effects} more symptom"
    assert said in summary
    if findings and effects:
        assert f"and {effects} symptom" in summary
    to_check = md.split("## Appendix C: To check")[1]
    held = [f for f in r.every_finding() if not f.evidence.shown]
    for f in held:
        assert f.title in to_check
    html = render("html", r, a)
    assert '<section id="to-check">' in html
    assert "<details" in html.split('<section id="to-check">')[1]  # collapsed by default
    top = {t.finding for t in r.executive_summary.top_risks} if r.executive_summary else set()
    assert not top & {f.id for f in held}


# ------------------------------------------------------------------ the examples


def _example(ax: Assessor, name: str) -> Results:
    kb = builtin_kb()
    return ax.assess(assessment_mod.load(EXAMPLES / f"{name}.yaml", kb.vocabulary))


def test_llm_platform_reports_each_auditability_gap_once(ax: Assessor) -> None:
    r = _example(ax, "llm-platform")
    gaps = [f.rule for f in r.findings if f.kind == "auditability"]
    assert len(gaps) == len(set(gaps)) <= 6


def test_the_seed_patterns_still_fire_on_the_examples(ax: Assessor) -> None:
    fired = {
        f.rule for name in ("llm-platform", "training-cluster") for f in _example(ax, name).findings
    }
    seed = {
        "shutdown-vs-retry",
        "throttling-vs-backfill",
        "load-shedding-vs-global-sync",
        "latency-vs-throughput",
    }
    assert seed <= fired


def test_held_back_counts_findings_and_effects_apart() -> None:
    from expert.analysis.plainwords import held_back_subject

    assert held_back_subject(1, 0) == ("1 more possible finding", False)
    assert held_back_subject(2, 1) == ("2 more possible findings and 1 symptom or cost", True)
    assert held_back_subject(0, 2) == ("2 more symptoms or costs", True)
    assert held_back_subject(2, 2, more=False) == (
        "2 possible findings and 2 symptoms or costs",
        True,
    )


def test_effects_are_counted_in_words() -> None:
    from expert.analysis.plainwords import effects_words

    assert effects_words(8, 2) == "8 symptoms and 2 ghost costs"
    assert effects_words(1, 0) == "1 symptom"
    assert effects_words(0, 0) == ""


def test_names_are_listed_as_a_reader_lists_them() -> None:
    """Top risks list each finding's loops: "A, B and C", never "A and B and C"."""
    from expert.analysis.plainwords import series

    assert series([]) == ""
    assert series(["Gateway timeout"]) == "Gateway timeout"
    assert series(["A", "B"]) == "A and B"
    assert series(["A", "B", "C", "D"]) == "A, B, C and D"


def test_counts_agree_with_their_number() -> None:
    from expert.analysis.plainwords import counted

    assert counted(1, "conflict between loops", "conflicts between loops") == (
        "1 conflict between loops"
    )
    assert counted(0, "ghost cost", "ghost costs") == "0 ghost costs"


def test_a_top_risk_found_confirmed_once_and_possible_once_says_so() -> None:
    """Top risks group a pattern's findings; "(high, confirmed)" over a possible one misled."""
    from expert.deliverables.execsummary import _statuses

    class F:
        def __init__(self, status: str) -> None:
            self.status = status

    assert _statuses([F("confirmed"), F("possible")]) == "1 confirmed, 1 possible"  # type: ignore[list-item]
    assert _statuses([F("possible"), F("possible")]) == "possible"  # type: ignore[list-item]
    assert _statuses([F("confirmed")]) == "confirmed"  # type: ignore[list-item]
