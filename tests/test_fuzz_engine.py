"""Property: for any valid assessment the contained engine finds exactly what a brute-force
evaluation of the knowledge base finds (tests/oracle.py), with the same statuses.

Assessments are generated over the whole vocabulary with unknowns everywhere a user may say
"don't know", shared resources with call paths, retries, deadlines and answers to every
knowledge-base question. Besides the built-in knowledge base, a fuzz pack (written to a
temporary directory below) adds patterns for the constructs the built-in patterns use
little or not at all: 2-fact joins in both orders, joins led by a derived fact, strict terms,
interval comparisons on every derived fact kind, `in` on ids, two unjoined facts of one kind,
answer fields of every type, and symptoms and costs that test the platform fact.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import event, given, settings
from hypothesis import strategies as st

from expert.analysis import facts as facts_mod
from expert.analysis import graph
from expert.analysis.assess import Assessor, check_answers, engine_facts
from expert.assessment import model as assessment_mod
from expert.knowledge import knowledgebase as knowledge
from expert.knowledge.knowledgebase import KnowledgeBase
from tests import oracle
from tests.benchmarks.generate import TEMPLATES

UNKNOWN = "unknown"

# ----------------------------------------------------------------------- the fuzz pack


def _pattern(pid: str, kind: str, match: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": pid,
        "kind": kind,
        "title": f"Fuzz pattern {pid}",
        "summary": "Exercises the rule compiler and the engine.",
        "mechanism": "None; generated assessments are checked against a brute-force oracle.",
        "severity": "low",
        "match": match,
        "narrative": "Fuzz finding.",
        **extra,
    }


def _m(fact: str, *where: dict[str, Any]) -> dict[str, Any]:
    return {"fact": fact, "where": list(where)}


FUZZ_PATTERNS = [
    # 2-fact join: loop first, then the pair that names it.
    _pattern(
        "fz-loop-pair",
        "incoherence",
        {
            "x": _m("loop", {"field": "layer", "in": ["runtime", "safety", "model"]}),
            "p": _m(
                "pair",
                {"field": "a", "same_as": "x.id"},
                {"field": "timescale_ratio", "at_most": 10},
                {"field": "same_layer", "is": "no"},
            ),
        },
        feeds=["fz-symptom"],
    ),
    # 2-fact join led by a derived fact; strict terms on the resource.
    _pattern(
        "fz-acts-resource",
        "incoherence",
        {
            "a": _m("acts", {"field": "timescale_vs_startup", "below": 1}),
            "r": _m(
                "resource",
                {"field": "id", "same_as": "a.resource"},
                {"field": "synchronized", "is": "yes", "strict": True},
                {"field": "kind", "in": ["job", "gpu_pool", "node"]},
            ),
        },
        feeds=["fz-symptom"],
    ),
    # Nesting joined to its outer loop; duration comparison.
    _pattern(
        "fz-nesting",
        "incoherence",
        {
            "n": _m("nesting", {"field": "inverted", "is": "yes"}),
            "o": _m(
                "loop",
                {"field": "id", "same_as": "n.outer"},
                {"field": "deadline", "above": "1s"},
            ),
        },
    ),
    # Amplification path joined to its first loop, strict yes/no and count comparisons.
    _pattern(
        "fz-amplification",
        "incoherence",
        {
            "amp": _m("amplification", {"field": "factor", "at_least": 9}),
            "l": _m(
                "loop",
                {"field": "id", "same_as": "amp.first"},
                {"field": "retry.budget", "is": "no", "strict": True},
            ),
        },
        feeds=["fz-cost"],
    ),
    # One derived fact alone.
    _pattern(
        "fz-cycle",
        "incoherence",
        {"c": _m("cycle", {"field": "amplifying", "is": "yes"}, {"field": "length", "at_most": 3})},
        feeds=["fz-cost"],
    ),
    # `in` on an id (one engine rule per value) and `lacks` on a set.
    _pattern(
        "fz-ident-in",
        "auditability",
        {
            "l": _m(
                "loop",
                {"field": "id", "in": ["l0", "l1", "l3"]},
                {"field": "triggers", "lacks": "schedule"},
            )
        },
    ),
    # 3-fact join led by the edge, loops joined to its two ends.
    _pattern(
        "fz-edge-ends",
        "incoherence",
        {
            "e": _m("edge", {"field": "signal", "in": ["load_increase", "task_terminated"]}),
            "s": _m(
                "loop",
                {"field": "id", "same_as": "e.source"},
                {"field": "timescale", "below": "10s"},
            ),
            "t": _m(
                "loop",
                {"field": "id", "same_as": "e.target"},
                {"field": "retry.max_retries", "at_least": 2},
                {"field": "reacts", "has_any": ["load_increase", "task_terminated"]},
            ),
        },
        feeds=["fz-symptom"],
    ),
    # Two facts of one kind with no join at all: ordered pairs of distinct loops.
    _pattern(
        "fz-unjoined",
        "incoherence",
        {
            "a": _m("loop", {"field": "objective", "in": ["latency"]}),
            "b": _m("loop", {"field": "layer", "in": ["model", "scheduler"]}),
        },
    ),
    # Answer fields of every type, strict and not; not_in, known and `is unknown`.
    _pattern(
        "fz-answers",
        "auditability",
        {
            "l": _m(
                "loop",
                {"field": "answers.fz-knob", "is": "yes"},
                {"field": "answers.fz-count", "at_least": 3},
                {"field": "answers.fz-mode", "in": ["fast", "3"]},
                {"field": "answers.fz-flags", "has_any": ["a", "c"]},
                {"field": "objective", "not_in": ["cost"], "strict": True},
                {"field": "owner", "is": "known"},
            )
        },
        unknown_is_evidence=False,
    ),
    _pattern(
        "fz-unknowns",
        "auditability",
        {
            "l": _m(
                "loop",
                {"field": "decision_record", "is": "unknown"},
                {"field": "deadline", "is": "unknown"},
                {"field": "actuations", "has": "retry"},
            )
        },
        unknown_is_evidence=True,
        feeds=["fz-cost"],
    ),
    # Stage 2 and 3, gated by the platform fact.
    _pattern(
        "fz-symptom",
        "symptom",
        {"platform": _m("platform", {"field": "trains_models", "is": "yes"})},
        feeds=["fz-cost"],
    ),
    _pattern("fz-cost", "ghost-cost", {}),
]

FUZZ_QUESTIONS = [
    {"id": "fz-knob", "about": "loop", "answer": "yesno", "text": "Knob?", "help": "h"},
    {"id": "fz-count", "about": "loop", "answer": "number", "text": "How many?", "help": "h"},
    {
        "id": "fz-mode",
        "about": "loop",
        "answer": "category",
        "text": "Mode?",
        "help": "h",
        "choices": [
            {"value": "fast", "label": "Fast"},
            {"value": "slow", "label": "Slow"},
            {"value": 3, "label": "Three"},
        ],
    },
    {
        "id": "fz-flags",
        "about": "loop",
        "answer": "set",
        "text": "Flags?",
        "help": "h",
        "choices": [{"value": v, "label": v.upper()} for v in ("a", "b", "c")],
    },
]


def write_fuzz_pack(root: Path, disable: Sequence[str] = ()) -> Path:
    """The fuzz pack, as data files (packs never hold code). `disable` switches patterns off
    (the built-in ones, so the pack's rules are compiled on their own: the engine's alpha
    stack has room for only so many rules per ruleset)."""
    pack = root / "fuzz-pack"
    (pack / "patterns").mkdir(parents=True)
    (pack / "questions").mkdir()
    for p in FUZZ_PATTERNS:
        (pack / "patterns" / f"{p['id']}.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    (pack / "questions" / "fuzz.yaml").write_text(yaml.safe_dump(FUZZ_QUESTIONS, sort_keys=False))
    if disable:
        reasons = dict.fromkeys(disable, "the fuzz pack tests its own patterns")
        (pack / "disabled.yaml").write_text(yaml.safe_dump(reasons))
    return pack


# ----------------------------------------------------------------------- strategies
# Each strategy is built once and reused (functools.cache, tuples for word lists): Hypothesis
# validates and labels every new strategy object, which cost more than half the time of the
# properties when these were rebuilt on every draw.


@functools.cache
def durations() -> st.SearchStrategy[str | None]:
    exact = st.builds(
        lambda n, unit: f"{n}{unit}",
        st.integers(1, 600),
        st.sampled_from(["ms", "s", "m", "h"]),
    )
    ranged = st.builds(
        lambda a, b, unit: f"{min(a, b)}{unit}-{max(a, b)}{unit}",
        st.integers(1, 120),
        st.integers(1, 120),
        st.sampled_from(["ms", "s", "m"]),
    )
    band = st.sampled_from(["milliseconds", "seconds", "minutes", "hours"])
    return st.one_of(st.none(), st.just(UNKNOWN), exact, exact, ranged, band)


@functools.cache
def tri() -> st.SearchStrategy[str | None]:
    return st.sampled_from([None, "yes", "no", UNKNOWN])


def term(words: Sequence[str]) -> st.SearchStrategy[str | None]:
    return _term(tuple(words))


@functools.cache
def _term(words: tuple[str, ...]) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), st.just(UNKNOWN), st.sampled_from(words))


def term_list(words: Sequence[str], max_size: int = 3) -> st.SearchStrategy[Any]:
    """A list of terms, unknown, unanswered, or a partial list ending in unknown."""
    return _term_list(tuple(words), max_size)


@functools.cache
def _term_list(words: tuple[str, ...], max_size: int) -> st.SearchStrategy[Any]:
    items = st.lists(st.sampled_from(words), unique=True, max_size=max_size)
    return st.one_of(
        st.none(),
        st.just(UNKNOWN),
        items,
        items,
        items.map(lambda xs: [*xs, UNKNOWN]),
    )


TEXT = st.one_of(
    st.none(),
    st.just(UNKNOWN),
    st.text(
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
        min_size=1,
        max_size=20,
    ).filter(lambda s: s.strip() != ""),
)


def answer_value(q: Any) -> st.SearchStrategy[Any]:
    return _answer_value(q.answer, tuple(c.value for c in q.choices))


@functools.cache
def _answer_value(answer: str, choices: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    if answer == "yesno":
        return st.sampled_from(["yes", "no", UNKNOWN])
    if answer == "category":
        return st.sampled_from([*choices, UNKNOWN])
    if answer == "set":
        return st.one_of(
            st.just(UNKNOWN), st.lists(st.sampled_from(choices), unique=True, max_size=3)
        )
    if answer == "number":
        return st.one_of(st.just(UNKNOWN), st.integers(0, 12))
    return st.text("abc xyz", min_size=1, max_size=10).filter(str.strip)


@st.composite
def from_template(draw: st.DrawFn, kb: KnowledgeBase) -> dict[str, Any]:
    """Fields of a loop real platforms run (the benchmark's templates), each kept with
    probability 3/4, so the combinations the knowledge base looks for actually occur."""
    t = draw(st.sampled_from(TEMPLATES))
    fields: dict[str, Any] = {}
    for key in ("layer", "objective", "triggers", "actuations", "instances", "observes"):
        if key in t:
            fields[key] = t[key]
    for key in ("changes", "decision_record"):
        if key in t:
            fields[key] = t[key]
    fields["timescale"] = draw(st.sampled_from(t["timescale"]))
    if "deadline" in t:
        fields["deadline"] = draw(st.sampled_from(t["deadline"]))
    if t.get("retry"):
        fields["retry"] = {
            "max_retries": draw(st.integers(0, 5)),
            "budget": draw(st.sampled_from(["yes", "no"])),
            "retries_on": draw(
                st.lists(
                    st.sampled_from(kb.vocabulary.terms("failure_classes")),
                    unique=True,
                    min_size=1,
                    max_size=3,
                )
            ),
        }
    return {
        key: (list(value) if isinstance(value, list) else value)
        for key, value in fields.items()
        if draw(st.integers(0, 3))
    }


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


@st.composite
def assessment_dicts(draw: st.DrawFn, kb: KnowledgeBase, max_loops: int = 7) -> dict[str, Any]:
    """A valid assessment (as data), small enough for the brute-force oracle."""
    v = kb.vocabulary
    n_res = draw(st.sampled_from([0, 1, 1, 2, 2, 3, 4, 5]))
    declared = n_res == 0 or draw(st.integers(0, 4)) > 0  # mostly declared resources
    res_ids = [f"r{i}" for i in range(max(n_res, 1))]
    resources = []
    if declared:
        for i, rid in enumerate(res_ids[:n_res]):
            # Calls go to later resources only, so call paths never loop.
            later = res_ids[i + 1 : n_res]
            calls = draw(st.lists(st.sampled_from(later), unique=True, max_size=2)) if later else []
            resources.append(
                _clean(
                    {
                        "id": rid,
                        "kind": draw(term(v.terms("resource_kinds"))),
                        "name": draw(TEXT),
                        "synchronized": draw(tri()),
                        "calls": calls or None,
                        "startup_time": draw(durations()),
                        "checkpoint_interval": draw(durations()),
                        "checkpoint_duration": draw(durations()),
                    }
                )
            )
    targets = res_ids[:n_res] if declared else res_ids[:3]
    questions = sorted(
        (q for q in kb.questions.values() if q.about == "loop" and q.answer),
        key=lambda q: q.id,
    )
    n_loops = draw(st.integers(1, max_loops))
    ids = [
        f"l{i}"
        if draw(st.integers(0, 4))
        else f"l{i}{draw(st.from_regex(r'[a-z0-9_-]{1,6}', fullmatch=True))}"
        for i in range(n_loops)
    ]
    loops = []
    for lid in ids:
        acts_on: Any = None
        if targets:
            acts_on = draw(
                st.one_of(
                    st.lists(st.sampled_from(targets), unique=True, min_size=1, max_size=2),
                    st.lists(st.sampled_from(targets), unique=True, min_size=1, max_size=2),
                    st.just(UNKNOWN),
                    st.none(),
                )
            )
        retry = None
        if draw(st.booleans()):
            retry = _clean(
                {
                    "max_retries": draw(st.one_of(st.none(), st.just(UNKNOWN), st.integers(0, 6))),
                    "backoff": draw(term(v.terms("backoff_kinds"))),
                    "jitter": draw(tri()),
                    "budget": draw(tri()),
                    "retries_on": draw(term_list(v.terms("failure_classes"))),
                }
            )
        guards = None
        if draw(st.integers(0, 3)) == 0:
            guards = _clean(
                {
                    "exemptions": draw(tri()),
                    "rate_limited": draw(tri()),
                    "give_up_after": draw(
                        st.one_of(st.none(), st.just(UNKNOWN), st.integers(0, 9))
                    ),
                }
            )
        answers = {}
        for q in questions:
            if draw(st.integers(0, 2)) == 0:
                answers[q.id] = draw(answer_value(q))
        loop = _clean(
            {
                "id": lid,
                "name": draw(TEXT),
                "layer": draw(term(v.terms("layers"))),
                "owner": draw(TEXT),
                "objective": draw(term(v.terms("objectives"))),
                "target": draw(TEXT),
                "timescale": draw(durations()),
                "triggers": draw(term_list(v.terms("triggers"))),
                "actuations": draw(term_list(v.terms("actuations"))),
                "acts_on": acts_on,
                "observes": draw(term_list(v.terms("signals"), 2)),
                "changes": draw(term_list(v.terms("signals"), 2)),
                "decision_record": draw(term(v.terms("decision_records"))),
                "instances": draw(term(v.terms("instances"))),
                "retry": retry,
                "deadline": draw(durations()),
                "propagates_cancellation": draw(tri()),
                "guards": guards,
                "controls": draw(st.lists(st.sampled_from(ids), unique=True, max_size=2)) or None,
                "answers": answers or None,
            }
        )
        if draw(st.integers(0, 4)) < 3:
            loop.update(draw(from_template(kb)))
        loops.append(loop)
    data: dict[str, Any] = {"schema_version": 1, "system": {"name": "fuzz"}, "loops": loops}
    if declared:
        data["resources"] = resources
    if draw(st.booleans()):
        data["economics"] = _clean(
            {
                "accelerator_count": draw(
                    st.one_of(st.none(), st.just(UNKNOWN), st.integers(0, 512))
                ),
                "monthly_tokens": draw(
                    st.one_of(st.none(), st.just(UNKNOWN), st.integers(0, 10**9))
                ),
                "engineer_hour_cost": draw(st.one_of(st.none(), st.floats(0, 500))),
            }
        )
    return data


def validated(data: dict[str, Any], kb: KnowledgeBase) -> assessment_mod.Assessment:
    """The generator only makes valid assessments; a problem here is a generator bug."""
    a = assessment_mod.validate(data, kb.vocabulary, "<generated>")
    problems = check_answers(a, kb, "<generated>")
    assert not problems, problems
    return a


# ----------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def fuzz_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    builtin = sorted(knowledge.load([]).patterns)
    return knowledge.load([write_fuzz_pack(tmp_path_factory.mktemp("kb"), builtin)])


@pytest.fixture(scope="module")
def assessor() -> Iterator[Assessor]:
    """The built-in knowledge base, as users run it."""
    with Assessor(knowledge.load([])) as ax:
        yield ax


@pytest.fixture(scope="module")
def fuzz_assessor(fuzz_kb: KnowledgeBase) -> Iterator[Assessor]:
    """The fuzz pack's patterns alone (built-in vocabulary and questions, its own rules)."""
    with Assessor(fuzz_kb) as ax:
        yield ax


# ----------------------------------------------------------------------- the properties


def _firing_bindings(ax: Assessor, a: assessment_mod.Assessment) -> dict[str, set[Any]]:
    """What the engine matched at stage 1: pattern -> {frozenset((variable, fact id))}."""
    structure = graph.derive(a, ax.kb.vocabulary)
    base = facts_mod.build(a, structure, ax.kb.vocabulary, "a", ax.kb.answer_fields())
    firings, errors = ax.engine.run(ax.compiled, engine_facts(base, ax.compiled), base.loops_of)
    assert errors == []
    out: dict[str, set[Any]] = {}
    for f in firings:
        if f["stage"] != 1:
            continue
        meta = ax.compiled.meta[f["rule"]]
        binding = frozenset(
            (var, f["bound"][ev]) for var, ev in zip(meta.vars, meta.engine_vars, strict=True)
        )
        out.setdefault(f["pattern"], set()).add(binding)
    return out


def check_against_oracle(ax: Assessor, a: assessment_mod.Assessment) -> oracle.Expected:
    results = ax.assess(a)
    assert results.engine_errors == []
    structure = graph.derive(a, ax.kb.vocabulary)
    base = facts_mod.build(a, structure, ax.kb.vocabulary, "a", ax.kb.answer_fields())
    want = oracle.expected(ax.kb, base, a)
    got = {f.id: f.status for f in results.every_finding()}
    assert got == want.status
    assert {f.id: f.rule for f in results.every_finding()} == want.rule
    assert _firing_bindings(ax, a) == want.bindings
    return want


def _engine_equals_brute_force(ax: Assessor, data: st.DataObject) -> None:
    a = validated(data.draw(assessment_dicts(ax.kb)), ax.kb)
    want = check_against_oracle(ax, a)
    event(f"findings: {min(len(want.status), 10)}{'+' if len(want.status) >= 10 else ''}")
    for rule in sorted(set(want.rule.values())):
        event(f"fires {rule}")


@given(data=st.data())
def test_engine_equals_brute_force(assessor: Assessor, data: st.DataObject) -> None:
    _engine_equals_brute_force(assessor, data)


@settings(max_examples=max(10, settings.default.max_examples // 2))
@given(data=st.data())
def test_fuzz_pack_engine_equals_brute_force(fuzz_assessor: Assessor, data: st.DataObject) -> None:
    _engine_equals_brute_force(fuzz_assessor, data)


def _cases(kb: KnowledgeBase) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for pid, case_file in sorted(kb.cases.items()):
        for case in case_file.cases:
            out.append((f"{pid}: {case.name}", {"schema_version": 1, **case.assessment}))
    return out


def test_examples_and_case_files_equal_brute_force(assessor: Assessor) -> None:
    """Every built-in example and every knowledge-base case assessment, checked the same way."""
    kb = assessor.kb
    checked = 0
    fired: set[str] = set()
    for example in sorted(Path("expert/examples").glob("*.yaml")):
        want = check_against_oracle(assessor, assessment_mod.load(example, kb.vocabulary))
        fired |= set(want.rule.values())
        checked += 1
    for _name, data in _cases(kb):
        want = check_against_oracle(assessor, validated(data, kb))
        fired |= set(want.rule.values())
        checked += 1
    assert checked > 10
    # Every built-in stage-1 pattern has a firing case, so the oracle must see each fire.
    assert {p.id for p in kb.active() if p.stage == 1} <= fired


def test_set_answer_loads(fuzz_kb: KnowledgeBase) -> None:
    """A `set` question's answer is a list of its choices (found by this fuzzer, now fixed)."""
    data = {
        "schema_version": 1,
        "system": {"name": "s"},
        "loops": [{"id": "a", "answers": {"fz-flags": ["a", "c"]}}],
    }
    a = validated(data, fuzz_kb)
    assert a.loops[0].answers["fz-flags"] == ["a", "c"]


def test_cost_resting_on_an_unknown_platform_is_possible(assessor: Assessor) -> None:
    """token-burn applies where the platform serves inference; with no resource kinds given
    and no token figures, nobody said it does, so the cost can only be possible (explain.py
    once took the status from the causes alone)."""
    kb = assessor.kb
    a = validated(
        {
            "schema_version": 1,
            "system": {"name": "s"},
            "loops": [
                {
                    "id": "killer",
                    "objective": "protection",
                    "triggers": ["timeout"],
                    "actuations": ["terminate"],
                    "acts_on": ["api"],
                },
                {
                    "id": "retrier",
                    "objective": "availability",
                    "triggers": ["failure"],
                    "actuations": ["retry"],
                    "acts_on": ["api"],
                    "retry": {"max_retries": 3, "retries_on": ["timeout"], "budget": "no"},
                },
            ],
        },
        kb,
    )
    results = assessor.assess(a)
    cause = next(f for f in results.every_finding() if f.rule == "shutdown-vs-retry")
    assert cause.status == "confirmed"
    burn = next(f for f in results.every_finding() if f.rule == "token-burn-without-delivery")
    assert any(b.field == "platform.serves_inference" and b.unknown for b in burn.because)
    assert burn.status == "possible"


def test_derived_finding_ids_stay_short(assessor: Assessor) -> None:
    """A symptom's id once joined every loop behind it, and every cause listed it under
    leads_to: at 1,000 loops the Markdown report was 396 MB."""
    kb = assessor.kb
    loops = [{"id": f"owner-unknown-loop-{i:03d}", "owner": "unknown"} for i in range(120)]
    a = validated({"schema_version": 1, "system": {"name": "s"}, "loops": loops}, kb)
    results = assessor.assess(a)
    assert results.findings
    assert max(len(f.id) for f in results.every_finding()) <= 200


def test_unjoined_facts_of_one_kind_bind_distinct_loops(fuzz_assessor: Assessor) -> None:
    """The oracle never binds one fact to two variables; the engine must agree. fz-unjoined
    matches a latency loop and a model-layer loop with no join between them."""
    assessor = fuzz_assessor
    kb = assessor.kb
    both = {"objective": "latency", "layer": "model"}
    one = validated(
        {"schema_version": 1, "system": {"name": "s"}, "loops": [{"id": "a", **both}]}, kb
    )
    assert "fz-unjoined" not in {f.rule for f in assessor.assess(one).findings}
    two = validated(
        {
            "schema_version": 1,
            "system": {"name": "s"},
            "loops": [{"id": "a", **both}, {"id": "b", **both}],
        },
        kb,
    )
    check_against_oracle(assessor, two)
    assert _firing_bindings(assessor, two)["fz-unjoined"] == {
        frozenset({("a", "loop:a"), ("b", "loop:b")}),
        frozenset({("a", "loop:b"), ("b", "loop:a")}),
    }
