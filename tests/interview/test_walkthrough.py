"""A whole interview from an empty file, by keyboard alone: the saved YAML is what
`coherence assess` reads, and the findings appear in the app as they do in the report."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from textual.widgets import DataTable, Static

from expert.analysis.assess import load_assessment
from expert.assessment.model import UNKNOWN
from expert.cli.main import main as cli
from expert.knowledge import knowledgebase as knowledge
from interview.assessproc import ProcessAssessor
from interview.screens.results import ResultsScreen

from .keyboard import Keyboard, LoopPlan, Plan, make_app, settle

CONFLICT = "shutdown-vs-retry@gw"

# Two loops on one gateway: a timeout that kills slow requests and client retries that
# retry timeouts. Short answers keep the keyboard walk quick; every kind of input is used.
PLAN = Plan(
    system={"name": "Chat API", "description": "Chat for staff.", "respondent": UNKNOWN},
    loops=[
        LoopPlan(
            "gateway-timeout",
            "Gateway timeout",
            {
                "layer": "safety",
                "owner": "Edge",
                "objective": "protection",
                "target": "latency",
                "timescale": "60s",
                "triggers": ["timeout"],
                "actuations": ["terminate"],
                "acts_on": ["gw"],
                "decision_record": "events",
                "deadline": "60s",
                "propagates_cancellation": "no",
            },
        ),
        LoopPlan(
            "sdk-retries",
            "SDK retries",
            {
                "layer": "runtime",
                "owner": UNKNOWN,
                "objective": "availability",
                "target": "errors",
                "timescale": "1s-8s",
                "triggers": ["failure"],
                "actuations": ["retry"],
                "acts_on": ["gw"],
                "decision_record": "none",
                # (how many act: jitter matters only for a stated population of clients)
                "instances": "per_client",
                "retry.max_retries": 3,
                "retry.retries_on": ["transient", "timeout"],
                "retry.jitter": "no",
                "retry.budget": "no",
            },
        ),
    ],
    economics={"accelerator_count": 64},
)


def _get(obj: object, dotted: str) -> object:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


async def test_complete_interview_by_keyboard(tmp_path: Path) -> None:
    path = tmp_path / "platform.yaml"
    # The assessment in its own process, as `coherence interview` runs it: the one pilot
    # test that walks the whole interview through that process.
    app = make_app(path, assessor_factory=ProcessAssessor)
    async with app.run_test(size=(80, 24)) as pilot:
        keys = Keyboard(pilot)
        await keys.run(PLAN)
        await keys.choose_action("results")
        await settle(pilot)
        assert isinstance(app.screen, ResultsScreen)
        table = app.screen.query_one("#findings", DataTable)
        rows = [key.value for key in table.rows]
        assert CONFLICT in rows
        # Walk the list with the arrow keys to the conflict; its explanation follows.
        while app.screen.selected != CONFLICT:
            await pilot.press("down")
        text = str(app.screen.query_one("#explanation", Static).content)
        assert "Competing shutdown vs retry logic" in text
        assert "Gateway timeout" in text and "SDK retries" in text
        assert "What would clear it" in text
        assert "Leads to:" in text  # the chain on to symptoms and costs

    # The file is the assessment `coherence assess` reads, with exactly these answers.
    kb = knowledge.load([])
    saved = load_assessment(path, kb)
    assert saved.system.name == PLAN.system["name"]
    assert saved.system.respondent == UNKNOWN
    assert [lp.id for lp in saved.loops] == [lp.id for lp in PLAN.loops]
    for planned in PLAN.loops:
        loop = saved.loop(planned.id)
        assert loop is not None and loop.name == planned.name
        for name, value in planned.answers.items():
            stored = _get(loop, name)
            if isinstance(value, list):  # lists are kept in the vocabulary's order
                assert sorted(stored) == sorted(value), (planned.id, name)  # type: ignore[arg-type]
            else:
                assert stored == value, (planned.id, name)
    assert saved.economics is not None
    assert saved.economics.accelerator_count == 64

    result = CliRunner().invoke(cli, ["assess", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert CONFLICT in [f["id"] for f in report["findings"]]
