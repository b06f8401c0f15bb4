"""The four deliverables and the executive summary, computed from small assessments."""

from __future__ import annotations

from types import SimpleNamespace

from expert.analysis.results import ConflictZone, CycleOut, Finding, RiskEdge, RiskMap, RiskNode
from expert.deliverables import auditgap, execsummary, inventory
from expert.render import mermaid, svgmap
from tests.helpers import builtin_kb, make
from tests.test_reports_golden import assess_model, assessed


def _loops() -> list[dict]:  # type: ignore[type-arg]
    return [
        {
            "id": "timeout",
            "name": "Gateway timeout",
            "layer": "safety",
            "owner": "Edge",
            "objective": "protection",
            "target": "request duration",
            "timescale": "30s",
            "triggers": ["timeout"],
            "actuations": ["terminate"],
            "acts_on": ["api"],
            "decision_record": "events",
        },
        {
            "id": "retry",
            "name": "SDK retries",
            "layer": "runtime",
            "owner": "unknown",
            "timescale": "unknown",
            "triggers": ["failure"],
            "actuations": ["retry"],
            "acts_on": ["api"],
            "decision_record": "reasoned",
            "retry": {"max_retries": 2, "retries_on": ["timeout"]},
        },
        {"id": "bare"},
    ]


def test_inventory_groups_by_layer_and_marks_unknown_and_unanswered() -> None:
    a = make(_loops())
    inv = inventory.build(a, builtin_kb(), [])
    assert [g.layer for g in inv.layers] == ["runtime", "safety", "unknown"]
    retry = inv.layers[0].loops[0]
    assert retry.unknown == ["owner", "reaction timescale"]
    assert "target" not in retry.unknown and "optimisation target" in retry.unanswered
    assert retry.states["retry.max_retries"] == "given"
    assert any(d.label == "retries" and d.value == "2" for d in retry.details)
    bare = inv.layers[2].loops[0]
    assert bare.name == "bare" and bare.owner == "not answered"
    assert len(bare.unanswered) == 10 and inv.unanswered_count >= 10
    timeout = inv.layers[1].loops[0]
    assert timeout.decision_record.startswith("events (")
    # details not given at all are listed once, among the answers not given, not in details
    assert {d.field for d in timeout.details} == set()
    assert {"deadline", "propagates cancellation"} <= set(timeout.unanswered)


def test_audit_gaps_say_why_and_whom_to_ask() -> None:
    a = make(_loops())
    results = assess_model(a)
    report = results.audit_gaps
    assert report is not None
    gaps = {g.loop: g for g in report.loops}
    assert "events" in gaps["timeout"].record
    assert any("no correlation id" in r for r in gaps["timeout"].reasons)
    # reasoned, but nobody owns it and its speed is unknown
    assert any("owns it" in r for r in gaps["retry"].reasons)
    assert any("how fast it reacts" in r for r in gaps["retry"].reasons)
    assert report.reconstructable == 0
    conflict = next(c for c in report.chains if c.rule == "shutdown-vs-retry")
    assert conflict.gaps == ["Gateway timeout: logs events without reason or correlation id"]
    areas = [x.area for x in report.exposure]
    assert any(x.startswith("Compliance") for x in areas)
    # Whether record-keeping rules apply is not known, so it is never rated above medium.
    assert all(x.severity == "medium" for x in report.exposure if x.area.startswith("Compl"))
    assert any(x.startswith("Accountability") for x in areas)
    teams = {t.owner: t for t in report.teams}
    assert teams["No known owner"].known is False
    asked = [q.text for q in teams["No known owner"].questions]
    assert "Which team owns its configuration?" in asked
    assert any(q.startswith("When this loop and Gateway timeout act close together") for q in asked)
    assert [t.owner for t in report.teams][-1] == "No known owner"


def test_answers_nobody_could_give_are_named_by_their_labels() -> None:
    # The backfill scheduler of the example could not say whether it sees the throttles
    # that hold work back: the gap names that answer as the inventory does, by its label.
    results, _ = assessed("training-cluster")
    kb = builtin_kb()
    assert results.audit_gaps is not None
    gap = next(g for g in results.audit_gaps.loops if g.loop == "backfill-scheduler")
    label = kb.questions["backfill-sees-limits"].label
    assert label and gap.unknown == [label]
    assert any(r.endswith(f"1 more answer nobody could give: {label}") for r in gap.reasons)
    questions = {q.text for q in kb.questions.values()}
    assert not questions & {*gap.unknown, *(r.rsplit(": ", 1)[-1] for r in gap.reasons)}


def test_reasoned_owned_loop_has_no_gap() -> None:
    a = make(
        [
            {
                "id": "ok",
                "name": "Recorded loop",
                "layer": "model",
                "owner": "Inference",
                "objective": "throughput",
                "target": "tokens per second",
                "timescale": "1m",
                "triggers": ["schedule"],
                "actuations": ["checkpoint"],
                "acts_on": ["job"],
                "decision_record": "reasoned",
            }
        ]
    )
    report = auditgap.build(a, builtin_kb(), [], [])
    assert report.loops == [] and report.reconstructable == 1 and report.exposure == []


def _f(fid: str, severity: str = "high", clears: tuple[str, ...] = (), parents=()) -> Finding:  # type: ignore[no-untyped-def]
    return Finding(
        id=fid,
        rule=fid.split(":")[0],
        kind="symptom" if parents else "incoherence",
        title=f"T {fid.split(':')[0]}",
        status="confirmed",
        severity=severity,  # type: ignore[arg-type]
        loops=["a", "b"],
        because=[],
        derived_from=list(parents),
        narrative="n",
        would_clear_if=[*clears, "generic appended condition"],
    )


def test_actions_are_chosen_for_the_most_risk_removed() -> None:
    findings = [
        _f("p:1", "high", ("fix one", "shared budget")),
        _f("p:2", "high", ("fix two", "shared budget")),
        _f("q:1", "critical", ("fix q",)),
        _f("s:1", "medium", parents=("p:1", "p:2")),
    ]
    kb = SimpleNamespace(
        patterns={
            "p": SimpleNamespace(clears=["x", "y"]),
            "q": SimpleNamespace(clears=["x"]),
            "s": SimpleNamespace(clears=[]),
        }
    )
    actions = execsummary.choose_actions(findings, kb, None)  # type: ignore[arg-type]
    # the shared budget clears two highs and, with them, the symptom: 4 + 4 + 2 > 8
    assert [x.condition for x in actions] == ["shared budget", "fix q"]
    assert actions[0].clears == ["p:1", "p:2", "s:1"] and actions[0].weight == 10
    assert "generic appended condition" not in [x.condition for x in actions]


def test_executive_summary_of_an_example() -> None:
    results, _ = assessed("training-cluster")
    s = results.executive_summary
    assert s is not None and s.top_risks and s.actions
    assert s.top_risks[0].severity == "critical"
    assert s.exposure == results.economics.headline  # type: ignore[union-attr]
    assert len(s.actions) <= 3 and all(a.summary.startswith("Clears ") for a in s.actions)


def _map(n: int) -> RiskMap:
    nodes = [
        RiskNode(id=f"l{i}", name=f"Loop {i}", layer="runtime", owner="o", timescale="1s")
        for i in range(n)
    ]
    edges = [
        RiskEdge(source="l0", target="l1", signal="load_increase", resource="r", kind="influence"),
        RiskEdge(source="l0", target="l1", signal="rejection", resource="s", kind="feedback"),
        RiskEdge(
            source="l1",
            target="l0",
            signal="task_terminated",
            resource="r",
            kind="feedback",
            severity="high",
        ),
    ]
    return RiskMap(
        nodes=nodes,
        edges=edges,
        cycles=[CycleOut(loops=["l0", "l1"], amplifying=False)],
        amplification_paths=[],
        conflict_zones=[
            ConflictZone(finding="x", loops=["l0", "l1"], severity="high", status="confirmed")
        ],
    )


def test_edges_are_merged_per_pair() -> None:
    merged = svgmap.aggregate(_map(2))
    assert [(e.source, e.target) for e in merged] == [("l0", "l1"), ("l1", "l0")]
    assert merged[0].signals == ["load increase", "rejection"] and merged[0].kind == "feedback"
    assert merged[1].severity == "high"


def test_svg_layout_stays_inside_the_picture() -> None:
    m = svgmap.build(_map(6), [("runtime", "Runtime execution engine")])
    assert len(m.nodes) == 6 and m.bands[0].lines == ["Runtime execution", "engine"]
    for n in m.nodes:
        assert n.x >= 0 and n.x + n.w <= m.width and n.y >= 0 and n.y + n.h <= m.height
    assert {n.badge for n in m.nodes if n.id in ("l0", "l1")} == {"HIGH"}
    assert len(m.edges) == 2 and all(e.marker in {mk.id for mk in m.markers} for e in m.edges)


def test_svg_draws_at_most_max_drawn_loops() -> None:
    m = svgmap.build(_map(svgmap.MAX_DRAWN + 5), [("runtime", "Runtime")])
    assert len(m.nodes) == 2  # only loops that influence or conflict, when there are too many
    assert "tables list every loop" in m.note


def test_wrap_cuts_long_names() -> None:
    lines = svgmap._wrap("x" * 200, 100)
    assert len(lines) == 2 and lines[-1].endswith("…")


def test_mermaid_flowchart_structure() -> None:
    text = mermaid.flowchart(_map(2), [("runtime", "Runtime & co")])
    assert text.startswith("flowchart TB\n")
    assert 'subgraph L0["Runtime & co"]' in text
    assert 'n0 -.->|"load increase, rejection"| n1' in text
    assert "linkStyle 1 stroke:#e8710a" in text
    assert "class n0,n1 sev_high" in text
    assert mermaid.label('a"b<c>#') == "a#quot;b#lt;c#gt;#35;"
    # Plain text stays plain: GitHub shows entity codes for & and · as written.
    assert mermaid.label("Cluster & batch · 5m…") == "Cluster & batch · 5m…"
    assert mermaid.flowchart(_map(0), []) == ""


def test_every_format_renders_an_empty_assessment() -> None:
    from expert.render.formats import FORMATS
    from expert.render.reports import render

    a = make([])
    results = assess_model(a)
    for fmt in FORMATS:
        assert render(fmt, results, a)
    assert results.economics is not None and results.economics.costs == []
    assert results.economics.headline.startswith("No ghost cost was found")
    assert mermaid.flowchart(results.risk_map, []) == ""


def test_a_team_question_names_a_few_partners_and_counts_the_rest() -> None:
    # Ten timeouts all stopping work a retrying loop re-sends: the retry loop's team is asked
    # about five of them by name and told how many more, not handed a list of ten.
    loops = [
        {
            "id": f"timeout-{i}",
            "name": f"Timeout {i}",
            "owner": "Edge",
            "objective": "protection",
            "actuations": ["terminate"],
            "acts_on": ["api"],
            "decision_record": "events",
        }
        for i in range(10)
    ]
    loops.append(
        {
            "id": "retry",
            "name": "SDK retries",
            "owner": "Client",
            "triggers": ["failure"],
            "actuations": ["retry"],
            "acts_on": ["api"],
            "retry": {"retries_on": ["timeout"]},
        }
    )
    report = assess_model(make(loops)).audit_gaps
    assert report is not None
    client = next(t for t in report.teams if t.owner == "Client")
    question = next(q for q in client.questions if q.text.startswith("When this loop and"))
    assert question.text.count("Timeout ") == auditgap.MAX_NAMED - 1
    assert question.text.startswith("When this loop and one of Timeout 0, ")
    assert f"and {10 - auditgap.MAX_NAMED + 1} other loops act close together" in question.text
    assert question.why.count(";") <= auditgap.MAX_NAMED


def test_the_inventory_shows_a_timescale_as_the_user_wrote_it() -> None:
    """The example writes the gateway's timescale as 60s: the inventory says 60s, not 1m."""
    results, _ = assessed("llm-platform")
    assert results.inventory is not None
    rows = {lp.id: lp for layer in results.inventory.layers for lp in layer.loops}
    assert rows["gateway-timeout"].timescale == "60s"
    assert rows["tenant-rate-limit"].timescale == "1m"


def test_engineering_time_is_charged_only_on_loops_that_cannot_be_followed_back() -> None:
    """A reaction with no link to the stop it reacts to is a gap at the reacting loop that
    records nothing; the loops that stopped the work log events naming what they stopped, so
    an investigation can follow them back, and they are not charged as untraceable."""
    results, a = assessed("llm-platform")
    economics = results.economics
    assert economics is not None
    record = {lp.id: lp.decision_record for lp in a.loops}
    line = next(c for c in economics.costs if c.rule == "engineering-time-on-non-root-causes")
    gap = [c for c in line.contributions if c.pattern == "no-correlation-between-loops"]
    assert [c.loop for c in gap] == ["sdk-retries"]
    assert all(record[c.loop] not in ("events", "reasoned") for c in gap)
    assert "(2 conflicts + 1 untraceable loop) x 12 h" in " ".join(line.steps)


def test_the_audit_counts_say_which_loops_can_be_followed_back() -> None:
    """The audit report counts loops that can be followed back by the economics' own test,
    and says in words what each count means."""
    results, a = assessed("llm-platform")
    report = results.audit_gaps
    assert report is not None
    followed = [lp for lp in a.loops if lp.decision_record in ("events", "reasoned")]
    assert report.followed_back == len(followed) == 6
    assert report.counts.startswith(
        "6 of 9 control loops record their decisions so that they can be followed back"
    )
    assert "the decisions of 0 of 9 can be reconstructed in full" in report.counts
