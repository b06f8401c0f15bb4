"""The interview on a file `coherence import` wrote: what the configuration answered is shown
as answered, citing the line it came from, and going through the loops asks only the rest."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner
from textual.widgets import Static

from expert.assessment.provenance import source_of
from expert.cli.main import main as cli
from interview import flow, resume
from interview.flow import Step
from interview.questions import source_words
from interview.widgets.outline import Outline

from .keyboard import Keyboard, make_app, settle

EXAMPLE = Path(__file__).parents[2] / "examples" / "configs" / "inference-platform"
LIVENESS = "vllm-llama-liveness"
# A probe, a mesh retry policy and an autoscaler: three importers, and a walk short enough
# for the test suite.
WALKED = (LIVENESS, "vllm-llama-retries", "vllm-llama-hpa")


def imported(tmp_path: Path) -> Path:
    """The inference example as `coherence import` writes it, the interview on its loops."""
    path = tmp_path / "platform.yaml"
    result = CliRunner().invoke(cli, ["import", str(EXAMPLE), "-o", str(path)])
    assert result.exit_code == 0, result.output
    resume.save(path, resume.Position(step=flow.LOOPS.key))
    return path


def without_values(path: Path, tmp_path: Path) -> Path:
    """The same platform and loops, as a user who had only named them would have typed it."""
    data = yaml.safe_load(path.read_text())
    data["loops"] = [{"id": lp["id"], "name": lp["name"]} for lp in data["loops"]]
    assert set(WALKED) <= {lp["id"] for lp in data["loops"]}
    data.pop("resources", None)
    blank = tmp_path / "typed.yaml"
    blank.write_text(yaml.safe_dump(data, sort_keys=False))
    resume.save(blank, resume.Position(step=flow.LOOPS.key))
    return blank


async def walk_loops(keys: Keyboard) -> list[Step]:
    """Every question shown going through the WALKED loops, each from its entry on the
    loops card to its summary, skipping each question (Page Down) as it comes."""
    shown = []
    for loop_id in WALKED:
        await keys.interview.jump(flow.LOOPS.key)  # the outline's "Control loops" entry
        await keys.choose_action(f"goto:loop:{loop_id}")
        await keys.pilot.pause()
        while keys.interview.current.kind == "question":
            shown.append(keys.interview.current)
            await keys.press("pagedown")  # handled, the next card shown, when press returns
        assert keys.interview.current == Step("loop-done", "loop", loop_id)
    return shown


def listed(steps: list[Step], settled: frozenset[tuple[str, str, str]]) -> list[Step]:
    """The open questions of each WALKED loop before its summary in the interview's steps."""
    out = []
    for loop_id in WALKED:
        done = steps.index(Step("loop-done", "loop", loop_id))
        out += [
            s
            for s in steps[:done]
            if s.kind == "question" and s.target == loop_id
            if (s.scope, s.target, s.question) not in settled
        ]
    return out


async def questions_asked(
    path: Path, *, walk: bool
) -> tuple[list[Step], frozenset[tuple[str, str, str]]]:
    """The questions going through the WALKED loops would show, and the settled answers.
    With `walk`, by going through them by keyboard, which must show exactly the open ones in
    the interview's list of steps; without, read from that list (each Page Down draws a card:
    walking the typed file's three dozen questions took most of this test's time)."""
    app = make_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)  # the engine's follow-ups are in the steps before the walk
        settled = flow.settled(app.session)
        steps = listed(app.interview.steps, settled)
        if walk:
            assert await walk_loops(Keyboard(pilot)) == steps
        return steps, settled


async def test_going_through_an_imported_file_asks_only_what_is_missing(tmp_path: Path) -> None:
    path = imported(tmp_path)
    asked, answered = await questions_asked(path, walk=True)
    typed, none_settled = await questions_asked(without_values(path, tmp_path), walk=False)
    assert not none_settled  # a typed file keeps every question in the walk
    assert answered, "the import answered nothing"
    assert not [s for s in asked if (s.scope, s.target, s.question) in answered]
    assert len(asked) < len(typed)
    print(f"questions asked going through the loops: imported {len(asked)}, typed {len(typed)}")


async def test_an_imported_answer_is_shown_answered_with_its_line(tmp_path: Path) -> None:
    path = imported(tmp_path)
    app = make_app(path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        session = app.session
        loop = session.assessment.loop(LIVENESS)
        cited = source_of(loop, "timescale")
        assert cited and cited.startswith(f"{EXAMPLE.relative_to(Path.cwd())}/vllm.yaml:")
        key = Step("question", "loop", LIVENESS, "loop-timescale").key

        outline = app.screen.query_one(Outline)
        node = next(n for n in _nodes(outline.root) if n.data == key)
        line = cited.split(":")[-1]
        assert str(node.label).startswith("✓ timescale")  # answered before anything is typed
        assert str(node.label).endswith(f"from vllm.yaml:{line}")

        outline.focus()
        node.parent.expand()
        await pilot.pause()
        outline.move_cursor(node, animate=False)
        await pilot.press("enter")
        await pilot.pause()
        assert app.interview.current.key == key
        saved = str(app.screen.query_one("#saved", Static).render())
        assert f"Saved answer: {loop.timescale}" in saved
        assert f"Already answered by the import, from {cited}." in saved

        # A value the file leaves to its documented default says so.
        await app.interview.jump(Step("question", "loop", LIVENESS, "loop-deadline").key)
        await pilot.pause()
        saved = str(app.screen.query_one("#saved", Static).render())
        assert "the documented default (the file does not set it)." in saved
        assert source_words(source_of(loop, "deadline") or "") in saved


async def test_answering_on_an_imported_loop_goes_on_to_its_next_open_question(
    tmp_path: Path,
) -> None:
    """An answer given now is not one the import gave: the walk goes on from it, not past
    the rest of the loop's open questions."""
    path = imported(tmp_path)
    app = make_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        keys = Keyboard(pilot)
        await keys.choose_action(f"goto:loop:{LIVENESS}")
        await pilot.pause()
        first = app.interview.current
        mine = [s for s in app.interview.steps if s.target == LIVENESS and s.kind == "question"]
        expected = mine[mine.index(first) + 1]
        await keys.press("ctrl+d")
        await settle(pilot)
        assert app.interview.current == expected
        q = app.session.kb.questions[first.question]
        assert app.session.value(q, LIVENESS) == "unknown"


def test_source_words() -> None:
    assert source_words("cfg/hpa.yaml:14") == "from cfg/hpa.yaml:14"
    assert source_words("cfg/hpa.yaml:14", short=True) == "from hpa.yaml:14"
    assert source_words("cfg/vllm.yaml:35 (default)") == (
        "from cfg/vllm.yaml:35, the documented default (the file does not set it)"
    )
    assert source_words("cfg/gw.yaml:31 (Istio default 2^32-1: no cap)") == (
        "from cfg/gw.yaml:31 (Istio default 2^32-1: no cap)"
    )
    assert source_words("cfg/gw.yaml:31 (Istio default 2)", short=True) == (
        "from gw.yaml:31, default"
    )


def _nodes(node):  # type: ignore[no-untyped-def]
    for child in node.children:
        yield child
        yield from _nodes(child)


def test_answering_an_imported_question_drops_its_source(tmp_path: Path) -> None:
    """The user's own answer is no longer what the import found in a file."""
    from expert.knowledge.knowledgebase import load
    from interview.session import Session

    path = tmp_path / "imported.yaml"
    data = {
        "schema_version": 1,
        "system": {"name": "imported"},
        "loops": [
            {
                "id": "hpa",
                "timescale": "15s-5m",
                "acts_on": ["api"],
                "sources": {"timescale": "hpa.yaml:14", "acts_on": "hpa.yaml:9"},
            }
        ],
    }
    path.write_text(yaml.safe_dump(data))
    kb = load([])
    session = Session.open(path, kb)
    q = next(q for q in kb.questions.values() if q.about == "loop" and q.field == "timescale")
    session.answer(q, "hpa", "30s")
    saved = yaml.safe_load(path.read_text())["loops"][0]
    assert saved["timescale"] == "30s"
    assert saved["sources"] == {"acts_on": "hpa.yaml:9"}
