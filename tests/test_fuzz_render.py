"""Property: every report format renders any results without raising, and what it renders is
well-formed and keeps the user's text inert.

Two sources of results: (1) the real pipeline on generated assessments whose every free-text
field holds hostile text (markup, formula prefixes, template syntax, right-to-left marks,
very long strings); (2) synthetic Results objects with arbitrary text in every field, for the
renderers' robustness on anything the Results model admits.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any, ClassVar

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from expert.analysis.assess import Assessor
from expert.analysis.results import (
    AmplificationOut,
    Because,
    ConflictZone,
    CycleOut,
    Finding,
    OpenQuestion,
    Results,
    RiskEdge,
    RiskMap,
    RiskNode,
    SourceRef,
)
from expert.assessment.model import Assessment
from expert.deliverables import complete as deliverables
from expert.knowledge import knowledgebase as knowledge
from expert.knowledge.knowledgebase import KnowledgeBase
from expert.render import reports as render_mod
from tests.test_fuzz_engine import assessment_dicts, validated

SCRIPT = "<script>alert(1)</script>"
HOSTILE = [
    SCRIPT,
    '"><img src=x onerror=alert(1)>',
    "</textarea></style></svg><b>",
    '=HYPERLINK("http://evil.example","x")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "-2+3",
    "  =1+1",
    "`code` *bold* _em_ [link](javascript:alert(1)) ![i](x)",
    "# heading | a | b |",
    "{{ 7*7 }} {% raw %} {# c #}",
    "&amp; &lt; &#x3c;",
    "]]><!-- -->",
    "é 漢字 🙂 \u200fevil\u200e",  # direction marks are allowed; overrides are refused
    "line\nbreak\r\nand\ttab",
    "x" * 2000,
    "unknown",
]
HOSTILE_TEXT = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(
        st.characters(
            codec="utf-8",
            exclude_categories=("Cs", "Cc"),
            # bidi controls are refused by the loader (they reorder what a reader sees)
            exclude_characters="\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
        ),
        min_size=1,
        max_size=40,
    )
    .map(str.strip)
    .filter(bool),
)


@pytest.fixture(scope="module")
def assessor() -> Iterator[Assessor]:
    with Assessor(knowledge.load([])) as ax:
        yield ax


@pytest.fixture(scope="module", autouse=True)
def _templates_compiled_once() -> Iterator[None]:
    """render.py builds a new Jinja2 environment, and so recompiles its template, on every
    call (about 0.25 s); templates do not change during a test run, so compile them once."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(render_mod, "_env", functools.lru_cache(maxsize=None)(render_mod._env))
        yield


# ----------------------------------------------------------------------- per-format checks


class _Tags(HTMLParser):
    VOID: ClassVar[set[str]] = {
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr", "path", "circle", "rect", "line", "polyline", "polygon", "ellipse",
        "stop", "use",
    }  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1] if self.stack else ''}>")
            if tag in self.stack:  # recover like a browser would
                while self.stack and self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()


def check_html(text: str) -> None:
    parser = _Tags()
    parser.feed(text)
    parser.close()
    assert parser.problems == [], parser.problems[:5]
    assert parser.stack == [], f"unclosed: {parser.stack[-5:]}"
    names = [tag for tag, _ in parser.tags]
    assert "html" in names and "body" in names
    assert "script" not in names, "the report is documented as script-free"
    for tag, attrs in parser.tags:
        for name, value in attrs:
            assert not name.startswith("on"), f"<{tag} {name}={value!r}>"
            if name in ("href", "src", "xlink:href") and value:
                assert not value.strip().lower().startswith(("javascript:", "data:")), value
    assert SCRIPT not in text


_MD_SCRIPT_LINK = re.compile(r"(?<!\\)\]\(\s*javascript:", re.IGNORECASE)


def check_markdown(text: str) -> None:
    assert SCRIPT not in text
    assert not _MD_SCRIPT_LINK.search(text), "an unescaped javascript: link"


def check_json(text: str, results: Results) -> None:
    data = json.loads(text)
    assert [f["id"] for f in data["findings"]] == [f.id for f in results.findings]


def check_sarif(text: str, results: Results) -> None:
    data = json.loads(text)
    assert data["version"] == "2.1.0"
    (run,) = data["runs"]
    assert len(run["results"]) == len(results.findings)


def check_csv(text: str, results: Results) -> None:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == len(results.findings) + 1
    width = len(rows[0])
    for row in rows[1:]:
        assert len(row) == width
        for cell in row:
            assert not cell.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r")), cell


def render_all(results: Results, a: Assessment, kb: KnowledgeBase) -> dict[str, str]:
    if results.inventory is None:  # an assessor that does not complete them yet
        results = deliverables.complete(results, a, kb)
    out = {}
    for fmt in render_mod.FORMATS:
        text = render_mod.render(fmt, results, a)
        assert text.strip(), fmt
        out[fmt] = text
        check = {
            "html": lambda t: check_html(t),
            "markdown": lambda t: check_markdown(t),
            "json": lambda t: check_json(t, results),
            "sarif": lambda t: check_sarif(t, results),
            "csv": lambda t: check_csv(t, results),
        }.get(fmt)
        if check is not None:
            check(text)
    return out


# ----------------------------------------------------------------------- the properties


@st.composite
def hostile_assessments(draw: st.DrawFn, kb: KnowledgeBase) -> dict[str, Any]:
    data = draw(assessment_dicts(kb, max_loops=6))
    data["system"] = {
        "name": draw(HOSTILE_TEXT),
        "description": draw(HOSTILE_TEXT),
        "respondent": draw(HOSTILE_TEXT),
    }
    for loop in data["loops"]:
        for key in ("name", "owner", "target"):
            loop[key] = draw(HOSTILE_TEXT)
    for res in data.get("resources") or []:
        res["name"] = draw(HOSTILE_TEXT)
    return data


# A quarter of the profile's examples: each runs the engine and renders five reports.
@settings(max_examples=max(10, settings.default.max_examples // 4))
@given(data=st.data())
def test_every_format_renders_real_results(assessor: Assessor, data: st.DataObject) -> None:
    kb = assessor.kb
    a = validated(data.draw(hostile_assessments(kb)), kb)
    results = assessor.assess(a)
    event(f"findings: {min(len(results.findings), 10)}")
    out = render_all(results, a, kb)
    # The user's own names reach the reports (escaped), so the report is about their system.
    for loop in a.loops:
        if loop.name and loop.name.isalnum() and any(loop.id in f.loops for f in results.findings):
            assert loop.name in out["html"]


ANY_TEXT = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30))


@st.composite
def synthetic_results(draw: st.DrawFn, a: Assessment) -> Results:
    loop_ids = [lp.id for lp in a.loops]
    some_loops = st.lists(st.sampled_from(loop_ids), unique=True, max_size=3)
    # Cycles and amplification paths join at least two loops (graph.py never makes shorter).
    chain = st.lists(st.sampled_from(loop_ids), min_size=2, max_size=4)
    findings = []
    for i in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["incoherence", "symptom", "ghost-cost", "auditability"]))
        findings.append(
            Finding(
                id=f"f{i}-{draw(st.text('abc:+-', max_size=6))}",
                rule=draw(st.sampled_from(["shutdown-vs-retry", "sla-drift", "x-y", "unknown"])),
                kind=kind,
                title=draw(ANY_TEXT),
                status=draw(st.sampled_from(["confirmed", "possible"])),
                severity=draw(st.sampled_from(["critical", "high", "medium", "low"])),
                severity_reason=draw(ANY_TEXT),
                loops=draw(some_loops),
                because=[
                    Because(
                        loop=draw(st.one_of(st.none(), st.sampled_from(loop_ids))),
                        field=draw(ANY_TEXT),
                        value=draw(ANY_TEXT),
                        unknown=draw(st.booleans()),
                    )
                    for _ in range(draw(st.integers(0, 3)))
                ],
                narrative=draw(ANY_TEXT),
                would_clear_if=draw(st.lists(ANY_TEXT, max_size=2)),
                summary=draw(ANY_TEXT),
                mechanism=draw(ANY_TEXT),
                sources=[
                    SourceRef(
                        title=draw(ANY_TEXT),
                        url=draw(
                            st.sampled_from(
                                [
                                    "https://example.org/a?b=1&c=<2>",
                                    "javascript:alert(1)",
                                    "data:text/html,x",
                                    "",
                                ]
                            )
                        ),
                    )
                    for _ in range(draw(st.integers(0, 2)))
                ],
            )
        )
    ids = [f.id for f in findings]
    for f in findings:
        f.derived_from = draw(st.lists(st.sampled_from(ids), max_size=2)) if ids else []
        f.leads_to = draw(st.lists(st.sampled_from(ids), max_size=2)) if ids else []
    pairs = st.tuples(st.sampled_from(loop_ids), st.sampled_from(loop_ids))
    risk_map = RiskMap(
        nodes=[
            RiskNode(
                id=lp.id,
                name=lp.name if lp.name not in (None, "unknown") else lp.id,
                layer=lp.layer or "unknown",
                owner=lp.owner or "unknown",
                timescale=lp.timescale or "unknown",
            )
            for lp in a.loops
        ],
        edges=[
            RiskEdge(
                source=s,
                target=t,
                signal=draw(ANY_TEXT),
                resource=draw(ANY_TEXT),
                kind=draw(st.sampled_from(["influence", "feedback", "amplification"])),
                severity=draw(st.sampled_from([None, "critical", "high", "medium", "low"])),
            )
            for s, t in draw(st.lists(pairs, max_size=6))
        ],
        cycles=[
            CycleOut(loops=draw(chain), amplifying=draw(st.booleans()))
            for _ in range(draw(st.integers(0, 2)))
        ],
        amplification_paths=[
            AmplificationOut(
                loops=draw(chain), factor_low=1, factor_high=draw(st.integers(1, 10**6))
            )
            for _ in range(draw(st.integers(0, 2)))
        ],
        conflict_zones=[
            ConflictZone(finding=fid, loops=draw(some_loops), severity="high", status="possible")
            for fid in draw(st.lists(st.sampled_from(ids), max_size=2) if ids else st.just([]))
        ],
    )
    questions = [
        OpenQuestion(
            id=draw(st.text("abc-", min_size=1, max_size=8)),
            loop=draw(st.sampled_from(loop_ids)),
            text=draw(ANY_TEXT),
            help=draw(ANY_TEXT),
            field=draw(ANY_TEXT),
            settles=draw(st.lists(st.sampled_from(ids), max_size=2)) if ids else [],
            answered_unknown=draw(st.booleans()),
        )
        for _ in range(draw(st.integers(0, 3)))
    ]
    return Results(
        tool={"name": "control-coherence", "version": "0"},
        knowledge_base={"version": "x", "patterns": 0, "packs": ["built-in"], "disabled": {}},
        system={"name": a.system.name},
        findings=findings,
        risk_map=risk_map,
        open_questions=questions,
    )


@given(data=st.data())
def test_every_format_renders_synthetic_results(assessor: Assessor, data: st.DataObject) -> None:
    kb = assessor.kb
    a = validated(data.draw(hostile_assessments(kb)), kb)
    results = data.draw(synthetic_results(a))
    render_all(results, a, kb)
