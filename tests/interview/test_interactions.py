"""The interview's behaviour, driven by keys: bad input is explained in place, nothing is
lost going back and forth, loops can be edited, duplicated and deleted, an engine crash is
a message, and reopening the file resumes where the user was."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Static

from expert.analysis.assess import Assessor, load_assessment
from expert.analysis.plainwords import plain
from expert.assessment.model import UNKNOWN
from expert.engine import process as engine_mod
from expert.engine.process import EngineProcess
from expert.knowledge import knowledgebase as knowledge
from expert.knowledge.knowledgebase import KnowledgeBase
from expert.render.formats import EXTENSIONS, FORMATS
from interview import resume
from interview.__main__ import main
from interview.flow import Step
from interview.screens.export import ExportDialog
from interview.screens.loop_dialog import LoopDialog
from interview.screens.results import ResultsScreen
from interview.session import Session
from interview.widgets.live_panel import LivePanel
from interview.widgets.question_card import QuestionCard

from .keyboard import Keyboard, make_app, settle

FIXTURE = Path(__file__).parent / "fixtures" / "four-loops.yaml"
PACK = Path(__file__).parent / "pack"


def copy_at(tmp_path: Path, step: str) -> Path:
    """The four-loop fixture, with the interview last seen at `step`."""
    path = tmp_path / "four.yaml"
    shutil.copy(FIXTURE, path)
    resume.save(path, resume.Position(step=step))
    return path


def hint(app: object) -> str:
    return str(app.screen.query_one("#hint", Static).content)  # type: ignore[attr-defined]


def question_key(loop: str, qid: str) -> str:
    return Step("question", "loop", loop, qid).key


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return knowledge.load([])


async def test_a_bad_timescale_is_explained_and_not_saved(tmp_path: Path) -> None:
    path = copy_at(tmp_path, question_key("replica-hpa", "loop-timescale"))
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        keys = Keyboard(pilot)
        await keys.type_into("soon")
        await keys.press("enter")
        assert "not a duration" in hint(app)
        assert app.interview.current.question == "loop-timescale"  # still here
        assert "timescale: 15s" in path.read_text()  # nothing saved
        await keys.type_into("2m")
        await keys.press("enter")
        await settle(pilot)
        assert app.interview.current.question != "loop-timescale"
    assert load_assessment(path, knowledge.load([])).loop("replica-hpa").timescale == "2m"


async def test_a_duplicate_loop_id_is_explained_in_the_dialog(tmp_path: Path) -> None:
    path = copy_at(tmp_path, Step("loops").key)
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        keys = Keyboard(pilot)
        await keys.choose_action("add-loop")
        assert isinstance(app.screen, LoopDialog)
        await keys.press("enter")  # from scratch
        await keys.type_into("Gateway timeout")  # its id is taken
        await keys.press("enter", "enter")
        error = str(app.screen.query_one("#dialog-error", Static).content)
        assert "already has the id 'gateway-timeout'" in error
        assert isinstance(app.screen, LoopDialog)  # still open, nothing saved
        await keys.type_into("Bad Id!")
        await keys.press("enter")
        assert "cannot be used as an id" in str(
            app.screen.query_one("#dialog-error", Static).content
        )
        await keys.type_into("gateway-timeout-eu")
        await keys.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, LoopDialog)
    ids = [lp.id for lp in load_assessment(path, knowledge.load([])).loops]
    assert ids.count("gateway-timeout") == 1 and "gateway-timeout-eu" in ids


async def test_back_skip_and_return_keep_what_was_typed(tmp_path: Path) -> None:
    path = copy_at(tmp_path, question_key("replica-hpa", "loop-owner"))
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        keys = Keyboard(pilot)
        await keys.type_into("Platform te")  # typed, not confirmed
        await keys.press("escape")  # back
        assert app.interview.current.question != "loop-owner"
        await keys.press("pagedown")  # forward again without answering
        assert app.interview.current.question == "loop-owner"
        assert app.screen.query_one("#answer", Input).value == "Platform te"
        await keys.press("pagedown")  # skip it: still remembered, not saved
        assert "owner" not in load_assessment(path, knowledge.load([])).loop(
            "replica-hpa"
        ).model_dump(exclude_none=True)
        await keys.press("escape")
        await keys.press(*"am", "enter")
        await settle(pilot)
    assert load_assessment(path, knowledge.load([])).loop("replica-hpa").owner == "Platform team"
    # Confirmed answers leave nothing pending behind.
    assert resume.load(path).pending == {}


async def test_an_earlier_answer_can_be_changed(tmp_path: Path) -> None:
    path = copy_at(tmp_path, question_key("gateway-timeout", "loop-target"))
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        keys = Keyboard(pilot)
        await keys.press("escape")  # back to the objective
        assert app.interview.current.question == "loop-objective"
        assert "Saved answer: Protect a component" in str(
            app.screen.query_one("#saved", Static).content
        )
        await keys.answer("availability")
        await settle(pilot)
        assert app.interview.current.question == "loop-target"
    loop = load_assessment(path, knowledge.load([])).loop("gateway-timeout")
    assert loop is not None and loop.objective == "availability"


async def test_loops_are_duplicated_and_deleted_from_the_outline(tmp_path: Path) -> None:
    path = copy_at(tmp_path, question_key("sdk-retries", "loop-layer"))
    app = make_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        keys = Keyboard(pilot)
        await keys.press("ctrl+o")  # the outline, on the current question
        await keys.press("c")  # duplicate the loop under the cursor
        assert isinstance(app.screen, LoopDialog)
        assert app.screen.query_one("#loop-id", Input).value == "sdk-retries-2"
        await keys.press("enter", "enter")
        await settle(pilot)
        saved = load_assessment(path, knowledge.load([]))
        assert saved.loop("sdk-retries-2") is not None
        assert saved.loop("sdk-retries-2").retry == saved.loop("sdk-retries").retry
        assert app.interview.current.target == "sdk-retries-2"

        await keys.press("ctrl+o", "x")  # delete the copy
        await keys.press("y")
        await settle(pilot)
        assert load_assessment(path, knowledge.load([])).loop("sdk-retries-2") is None
        assert app.interview.current.kind == "loops"


async def test_a_loop_command_typed_as_the_outline_opens_acts_on_the_entry_it_opens_on(
    tmp_path: Path,
) -> None:
    """The outline puts its cursor on the current question once its lines are laid out; a
    key typed before that (ctrl+o then x at once) acts on that entry, not on wherever the
    cursor was."""
    from textual.message import Message

    from interview.widgets.outline import Outline

    path = copy_at(tmp_path, question_key("sdk-retries", "loop-layer"))
    app = make_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        outline = app.interview.query_one(Outline)
        await settle(pilot)
        outline.move_cursor_to_line(0)  # the platform's entry: no loop
        assert outline.cursor_node is not None and outline.cursor_node.parent is outline.root
        commands: list[tuple[str, str]] = []
        post = outline.post_message

        def record(message: Message) -> bool:
            if isinstance(message, Outline.LoopCommand):
                commands.append((message.command, message.loop_id))
                return True
            return post(message)

        outline.post_message = record  # type: ignore[method-assign]
        outline.show_step(app.interview.current.key)
        outline.action_delete_loop()  # before the cursor has moved
        assert commands == [("delete", "sdk-retries")]


# How the engine's child can die, and what the interview must then say.
ENGINE_DEATHS = {
    "signal": (
        "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)",
        "SIGSEGV",
    ),
    # It never answers, and leaves once its input ends: a hung engine is killed, but the run
    # also closes its other worker, which would wait 2 s for each one still sleeping.
    "timeout": ("import sys; sys.stdin.readline(); sys.stdin.read()", "no answer within"),
    "out-of-memory": (
        "import sys; sys.stdin.readline(); chunks = []\n"
        "for _ in range(64): chunks.append(bytearray(32 * 1024**2))",
        "MemoryError",
    ),
}


@pytest.mark.parametrize("death", list(ENGINE_DEATHS))
async def test_an_engine_crash_is_a_message_and_answers_are_kept(
    tmp_path: Path, kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch, death: str
) -> None:
    code, says = ENGINE_DEATHS[death]
    # A 512 MB address-space limit stands in for the real 4 GB, so running out is quick.
    monkeypatch.setattr(engine_mod, "MEMORY_LIMIT_BYTES", 512 * 1024**2)
    command = [sys.executable, "-c", code]
    # Only the hang needs a short timeout to be seen; a crash or running out of memory ends
    # the child by itself, and a loaded machine must not turn it into a timeout instead.
    timeout_s = 1.0 if death == "timeout" else 60.0
    path = copy_at(tmp_path, question_key("replica-hpa", "loop-owner"))
    app = make_app(
        path,
        assessor_factory=lambda k: Assessor(k, EngineProcess(timeout_s=timeout_s, command=command)),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        keys = Keyboard(pilot)
        await settle(pilot)
        assert app.engine_error is not None and says in app.engine_error
        title = str(app.screen.query_one("#live-title", Static).content)
        assert "Engine problem" in title
        await keys.type_into("Platform team")
        await keys.press("enter")
        await settle(pilot)
        next_question = kb.questions[app.interview.current.key.rsplit(":", 1)[1]]
        await keys.press("ctrl+d")
        await settle(pilot)
        assert app.is_running
    loop = load_assessment(path, kb).loop("replica-hpa")
    assert loop is not None and loop.owner == "Platform team"
    # the don't-know given while the engine was down was kept too
    assert next_question.field and getattr(loop, next_question.field) == UNKNOWN


async def test_reopening_resumes_where_the_user_was(tmp_path: Path) -> None:
    path = copy_at(tmp_path, question_key("replica-hpa", "loop-timescale"))
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        keys = Keyboard(pilot)
        await keys.press("pagedown", "pagedown")
        where = app.interview.current.key
        await keys.type_into("typed but not confirmed")
        await keys.press("pagedown", "escape")  # leaving the step keeps the typing
    again = make_app(path)
    async with again.run_test(size=(80, 24)):
        assert again.interview.current.key == where
        widget = again.screen.query_one("#answer")
        if isinstance(widget, Input):
            assert widget.value == "typed but not confirmed"


async def test_a_file_without_position_opens_on_the_review(tmp_path: Path) -> None:
    path = tmp_path / "four.yaml"
    shutil.copy(FIXTURE, path)
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.interview.current.kind == "review"


async def until(pilot: Pilot, condition: Callable[[], bool]) -> None:
    """Wait for work done in a worker thread (reports are written in one), up to 30 s."""
    for _ in range(600):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("gave up waiting")


async def test_export_writes_every_format_next_to_the_file(tmp_path: Path) -> None:
    path = copy_at(tmp_path, Step("review").key)
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        keys = Keyboard(pilot)
        await settle(pilot)
        await keys.choose_action("export")
        assert isinstance(app.screen, ExportDialog)
        await keys.press("enter")
        await settle(pilot)
        await until(pilot, lambda: not isinstance(app.screen, ExportDialog))
    for fmt in FORMATS:
        report = tmp_path / f"four-report.{EXTENSIONS[fmt]}"
        assert report.is_file() and report.stat().st_size > 0, fmt
    data = json.loads((tmp_path / "four-report.json").read_text())
    assert "shutdown-vs-retry@inference-gateway" in [f["id"] for f in data["findings"]]
    # re-runs skip the deliverables; the export completes them
    assert data["economics"]["costs"] and data["inventory"]["layers"]
    assert data["audit_gaps"] and data["executive_summary"]


async def test_a_failing_export_is_a_message_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from interview import export

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a deliverables bug")

    monkeypatch.setattr(export, "complete", broken)
    path = copy_at(tmp_path, Step("review").key)
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        keys = Keyboard(pilot)
        await settle(pilot)
        await keys.choose_action("export")
        await keys.press("enter")
        error = app.screen.query_one("#dialog-error", Static)
        await until(pilot, lambda: "could not be worked out" in str(error.content))
        assert app.is_running and isinstance(app.screen, ExportDialog)
        assert "ZeroDivisionError" in str(error.content)
    assert not list(tmp_path.glob("four-report.*"))


async def test_the_command_palette_runs_the_interview_commands(tmp_path: Path) -> None:
    path = copy_at(tmp_path, question_key("replica-hpa", "loop-layer"))
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        keys = Keyboard(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in ("Results", "Export reports", "Add a control loop", "Delete this loop"):
            assert wanted in titles
        await keys.press("ctrl+p")
        await keys.press(*"Go to the review")
        await pilot.pause(0.3)  # the palette searches in the background
        await keys.press("enter")
        await settle(pilot)
        assert app.interview.current.kind == "review"


async def test_results_list_findings_and_explain_them(tmp_path: Path) -> None:
    path = copy_at(tmp_path, Step("review").key)
    app = make_app(path)
    async with app.run_test(size=(120, 40)) as pilot:
        keys = Keyboard(pilot)
        await settle(pilot)
        await keys.press("ctrl+r")
        assert isinstance(app.screen, ResultsScreen)
        shown = app.screen.shown
        severities = ["critical", "high", "medium", "low"]
        assert [severities.index(f.severity) for f in shown] == sorted(
            severities.index(f.severity) for f in shown
        )
        await keys.press("s")  # by kind
        kinds = ["incoherence", "symptom", "ghost-cost", "auditability"]
        assert [kinds.index(f.kind) for f in app.screen.shown] == sorted(
            kinds.index(f.kind) for f in app.screen.shown
        )
        possible = next((f for f in app.screen.shown if f.status == "possible"), None)
        assert possible is not None
        while app.screen.selected != possible.id:
            await keys.press("down")
        text = str(app.screen.query_one("#explanation", Static).content)
        assert "Possible, not confirmed" in text
        assert possible.narrative.split()[0] in text
        await keys.press("escape")
        assert not isinstance(app.screen, ResultsScreen)


async def test_follow_up_questions_say_which_finding_they_settle(tmp_path: Path) -> None:
    path = copy_at(tmp_path, Step("review").key)
    app = make_app(path)
    async with app.run_test(size=(120, 40)) as pilot:
        keys = Keyboard(pilot)
        await settle(pilot)
        open_questions = [q for q in app.results.open_questions if not q.answered_unknown]
        assert open_questions, "the fixture leaves possible findings to settle"
        listing = app.screen.query_one(LivePanel).query_one("#live-list", OptionList)
        labels = [str(listing.get_option_at_index(i).prompt) for i in range(listing.option_count)]
        assert any("about:" in label for label in labels)
        await keys.choose_action("follow-ups")
        first = open_questions[0]
        assert app.interview.current.key == question_key(first.loop, first.id)
        note = str(app.screen.query_one("#follow-up", Static).content)
        titles = {f.id: f.title for f in app.results.findings}
        assert titles[first.settles[0]] in note


async def test_every_question_shows_why_it_is_asked(tmp_path: Path, kb: KnowledgeBase) -> None:
    path = copy_at(tmp_path, Step("review").key)
    app = make_app(path)
    async with app.run_test(size=(80, 24)):
        for q in kb.questions.values():
            target = {"loop": "sdk-retries", "resource": "inference-gateway"}.get(q.about, "")
            # The card's texts are set once show() returns; drawing each of ~100 cards
            # (three quarters of this test's time) is left to the snapshot tests.
            await app.interview.show(Step("question", q.about, target, q.id))
            assert str(app.screen.query_one("#prompt", Static).content) == q.text
            assert str(app.screen.query_one("#help", Static).content) == q.help
            if q.example:  # in plain words: ids read as their labels
                shown = plain(kb, q.example)
                assert shown in str(app.screen.query_one("#example", Static).content)


async def test_a_template_prefills_the_loop(tmp_path: Path) -> None:
    path = copy_at(tmp_path, Step("loops").key)
    app = make_app(path, kb_dirs=[PACK])
    async with app.run_test(size=(80, 24)) as pilot:
        keys = Keyboard(pilot)
        await keys.choose_action("add-loop")
        templates = app.screen.query_one("#templates", OptionList)
        ids = [templates.get_option_at_index(i).id for i in range(templates.option_count)]
        await keys.highlight(templates, ids.index("test-pack-liveness-probe"))
        await keys.press("enter")
        assert app.screen.query_one("#name", Input).value == "Liveness probe restarts"
        await keys.press("enter", "enter")
        await settle(pilot)
        # The template's card proposes its values and says what to check ...
        assert app.interview.current.kind == "template"
        card = str(app.screen.query_one("#help", Static).content)
        assert "Check:\n\n• Probe timeouts shorter" in card
        assert "◦ What does it do when it acts? Restart an instance (proposed)" in card
        # ... which are not answers until confirmed,
        loop = load_assessment(path, knowledge.load([PACK])).loop("liveness-probe-restarts")
        assert loop is not None and loop.actuations is None
        # (no finding rests on what it does: only gaps in what is known about it)
        mine = [f for f in app.results.findings if "liveness-probe-restarts" in f.loops]
        assert not [f.id for f in mine if f.kind == "incoherence"]
        # at 80x24 the card is longer than its room: read it to the end, then one key
        # accepts them all
        card_widget = app.screen.query_one(QuestionCard)
        for _ in range(10):
            if card_widget.seen_to_end():
                break
            await keys.press("pagedown")
            await settle(pilot)
        await keys.press("enter")
        await settle(pilot)
        assert app.interview.current.kind != "template"
    loop = load_assessment(path, knowledge.load([PACK])).loop("liveness-probe-restarts")
    assert loop is not None
    assert loop.actuations == ["restart"] and loop.triggers == ["health_check"]


async def _add_from_template(pilot: Pilot, keys: Keyboard, pick: Callable[[str], bool]) -> str:
    """Add a loop from the first template `pick` accepts (its name and id as proposed) and
    return the new loop's id, with its template card on screen."""
    app = pilot.app
    await keys.choose_action("add-loop")
    templates = app.screen.query_one("#templates", OptionList)
    ids = [templates.get_option_at_index(i).id for i in range(templates.option_count)]
    await keys.highlight(templates, next(i for i, t in enumerate(ids) if t and pick(t)))
    await keys.press("enter", "enter", "enter")
    await settle(pilot)
    return str(app.interview.current.target)  # type: ignore[attr-defined]


class _Added(NamedTuple):
    """A loop just added from a template, its card on screen: the app, its pilot and
    keyboard, the file it saves to, the loop's id and the answers the template proposes."""

    app: Any
    pilot: Pilot
    keys: Keyboard
    path: Path
    loop_id: str
    proposed: dict[str, Any]


@contextlib.asynccontextmanager
async def _added_from_template(
    tmp_path: Path, pick: Callable[[str], bool]
) -> AsyncIterator[_Added]:
    """The interview at 100x30 on a copy of the fixture, with a loop added from the first
    template `pick` accepts."""
    path = copy_at(tmp_path, Step("loops").key)
    app = make_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        keys = Keyboard(pilot)
        loop_id = await _add_from_template(pilot, keys, pick)
        yield _Added(app, pilot, keys, path, loop_id, dict(app.position.proposed[loop_id]))


async def test_going_through_a_templates_values_one_by_one_asks_and_saves_each(
    tmp_path: Path,
) -> None:
    """ "Go through them one by one" shows every proposed value in turn, and Enter on each
    saves it. (A confirmed value joins the loop's answered questions further on; the walk
    goes on from where it was, not from there.)"""
    async with _added_from_template(tmp_path, lambda t: "sdk" in t) as added:
        app, pilot, keys, path, loop_id, proposed = added
        assert len(proposed) > 10
        await keys.choose_action("next")
        await settle(pilot)
        shown, positions = [], []
        while app.interview.current.question in proposed:
            shown.append(app.interview.current.question)
            crumb = str(app.screen.query_one("#crumb", Static).content)
            positions.append(int(re.search(r" · (\d+)/\d+ · ", crumb).group(1)))  # type: ignore[union-attr]
            await keys.press("enter")
            await settle(pilot)
        # the first question after the walk counts the values confirmed in it as done
        crumb = str(app.screen.query_one("#crumb", Static).content)
        after = re.search(r" · (\d+)/\d+ · ", crumb)
        assert after is not None and int(after.group(1)) == len(shown) + 1, crumb
    assert sorted(shown) == sorted(proposed)
    # the position moves on as each value is confirmed (it read 1/21 on every one)
    assert positions == sorted(set(positions)) and positions[-1] > positions[0]
    loop = load_assessment(path, knowledge.load([])).loop(loop_id)
    assert loop is not None
    assert loop.actuations == ["retry"] and loop.retry is not None and loop.retry.max_retries == 2
    assert loop.objective == "availability" and loop.instances == "per_client"


async def test_a_proposal_answered_differently_drops_the_words_that_described_it(
    tmp_path: Path,
) -> None:
    """The HPA template's metric in words ("CPU utilisation ...") rides on its metric choice;
    choosing another metric in the walk must not save the CPU words nobody was shown."""
    async with _added_from_template(tmp_path, lambda t: t == "kubernetes-hpa") as added:
        app, pilot, keys, path, loop_id, proposed = added
        assert proposed["scaler-metric"] == "cpu_utilization" and "loop-target" in proposed
        await keys.choose_action("next")
        await settle(pilot)
        while app.interview.current.question in proposed:
            if app.interview.current.question == "scaler-metric":
                await keys.press("down", "down")
            await keys.press("enter")
            await settle(pilot)
    loop = load_assessment(path, knowledge.load([])).loop(loop_id)
    assert loop is not None
    assert loop.answers["scaler-metric"] not in (None, "cpu_utilization")
    assert loop.target is None, loop.target


async def test_a_resource_id_like_a_known_one_is_asked_about_once(tmp_path: Path) -> None:
    """A typo ("inference-gatway") would add a resource nobody has and hide the findings on
    the real one: the card names the known id; Enter again keeps what was typed."""
    path = copy_at(tmp_path, question_key("sdk-retries", "loop-acts-on"))
    app = make_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        keys = Keyboard(pilot)
        await keys.type_into("inference-gatway")
        await keys.press("enter")
        await settle(pilot)
        assert app.interview.current.question == "loop-acts-on"  # not saved yet
        error = str(app.screen.query_one("#hint", Static).content)
        assert "did you mean inference-gateway?" in error
        await keys.press("enter")
        await settle(pilot)
        assert app.interview.current.question != "loop-acts-on"
    loop = load_assessment(path, knowledge.load([])).loop("sdk-retries")
    assert loop is not None and loop.acts_on == ["inference-gatway"]


async def test_dont_know_is_stored_as_unknown(tmp_path: Path) -> None:
    path = copy_at(tmp_path, question_key("replica-hpa", "loop-instances"))
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await Keyboard(pilot).press("ctrl+d")
        await settle(pilot)
    assert load_assessment(path, knowledge.load([])).loop("replica-hpa").instances == UNKNOWN


def test_an_invalid_file_is_reported_without_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("schema_version: 1\nsystem: {name: x}\nloops:\n- {id: a, timescale: soon}\n")
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert "broken.yaml" in err and "soon" in err and "Traceback" not in err
    assert Session  # the module under test opened nothing: the file is untouched
    assert "timescale: soon" in path.read_text()


async def test_the_mouse_works_too(tmp_path: Path) -> None:
    path = copy_at(tmp_path, question_key("replica-hpa", "loop-objective"))
    app = make_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)  # the live panel's first update changes the layout
        choices = app.screen.query_one("#answer", OptionList)
        labels = [str(choices.get_option_at_index(i).prompt).strip() for i in range(3)]
        assert labels[2] == "Minimise cost"
        await pilot.click(choices, offset=(3, 2))  # the third option
        await settle(pilot)
        assert app.interview.current.question == "loop-target"
        await pilot.click("#back")
        await pilot.pause()
        assert app.interview.current.question == "loop-objective"
        await pilot.click("#next")  # confirms the highlighted (saved) answer
        await settle(pilot)
        assert app.interview.current.question == "loop-target"
    assert load_assessment(path, knowledge.load([])).loop("replica-hpa").objective == "cost"


async def test_typing_on_the_template_list_narrows_it_and_enter_picks_the_first_kept(
    tmp_path: Path,
) -> None:
    path = copy_at(tmp_path, Step("loops").key)
    app = make_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        keys = Keyboard(pilot)
        await keys.choose_action("add-loop")
        templates = app.screen.query_one("#templates", OptionList)
        everything = templates.option_count
        await keys.press(*"kueue")
        kept = [templates.get_option_at_index(i) for i in range(templates.option_count)]
        ids = [o.id for o in kept if o.id not in (None, "scratch")]
        assert ids and all("kueue" in i for i in ids) and templates.option_count < everything
        assert "Filter: kueue" in str(app.screen.query_one("#template-filter", Static).content)
        assert templates.highlighted_option is not None
        assert templates.highlighted_option.id == ids[0]
        # Backspace takes a letter back; Esc clears the filter and keeps the dialog open.
        await keys.press("backspace")
        assert "Filter: kueu" in str(app.screen.query_one("#template-filter", Static).content)
        await keys.press("escape")
        assert templates.option_count == everything and app.screen.query("#templates")
        # Words match in any order, across title, product and layer.
        await keys.press(*"retries sdk")
        first = templates.highlighted_option
        assert first is not None and first.id is not None and "sdk" in first.id
        dialog = app.screen
        assert isinstance(dialog, LoopDialog)
        title = next(t.title for t in dialog.templates if t.id == first.id)
        await keys.press("enter")
        assert dialog.query_one("#name", Input).value == title


async def test_a_template_walk_saves_nothing_the_user_was_not_shown(tmp_path: Path) -> None:
    """The cluster-autoscaler template proposes a drain grace period (deadline) and a target
    whose questions the interview would not ask such a loop on its own: they are listed,
    walked and saved like the rest, never written with the first value confirmed."""
    async with _added_from_template(tmp_path, lambda t: t == "cluster-autoscaler") as added:
        app, pilot, keys, path, loop_id, proposed = added
        # the deadline is its drain grace period, asked as such (not as a timeout)
        assert {"loop-target", "loop-grace-period"} <= set(proposed)
        assert "loop-deadline" not in proposed
        card = str(app.screen.query_one("#help", Static).content)
        assert f"The template proposes {len(proposed)} answers" in card
        assert "between its notice and the kill (grace period)? 10m (proposed)" in card
        assert "(proposed, saved with “Which metric does this autoscaler scale on?”)" in card
        await keys.choose_action("next")
        await settle(pilot)
        first = app.interview.current.question
        await keys.press("enter")
        await settle(pilot)
        saved = load_assessment(path, knowledge.load([])).loop(loop_id)
        assert saved is not None
        assert saved.deadline is None and saved.target is None, "saved before it was shown"
        shown = [first]
        while app.interview.current.question in proposed:
            shown.append(app.interview.current.question)
            await keys.press("enter")
            await settle(pilot)
    # Its metric in words rides with the metric it scales on (listed so on the card).
    assert sorted(shown) == sorted(set(proposed) - {"loop-target"})
    saved = load_assessment(path, knowledge.load([])).loop(loop_id)
    assert saved is not None and str(saved.deadline) == "10m" and saved.target


async def test_accepting_a_templates_answers_needs_every_one_of_them_shown(
    tmp_path: Path,
) -> None:
    """At 100x30 the vLLM template's card is longer than its room. Enter on "Accept" saved
    two answers the respondent never saw (and a confirmed HIGH finding rested on one): now
    a line says how much is below, and Accept scrolls to it first."""
    path = copy_at(tmp_path, Step("loops").key)
    app = make_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        keys = Keyboard(pilot)
        loop_id = await _add_from_template(pilot, keys, lambda t: "vllm" in t)
        await settle(pilot)
        card = app.screen.query_one(QuestionCard)
        assert card.unseen() > 0
        more = app.screen.query_one("#more", Static)
        assert more.display and "more line" in str(more.content)
        await keys.press("enter")  # Accept, with answers still below: it scrolls instead
        await settle(pilot)
        assert app.interview.current.kind == "template"
        assert loop_id in app.position.proposed
        assert "read them (Page Down)" in str(app.screen.query_one("#hint", Static).content)
        for _ in range(10):  # then Page Down (or Enter) until the end is shown
            if not card.unseen():
                break
            await keys.press("pagedown")
            await settle(pilot)
        assert card.unseen() == 0 and not app.screen.query_one("#more", Static).display
        assert app.interview.current.kind == "template"  # Page Down scrolled, did not skip
        # The same card shown again (as the engine's first result for the new loop can
        # make it): the reader keeps their place (it jumped back to the top and forgot what
        # was read, so Accept scrolled again in a tmux run)
        await app.interview.show(app.interview.current)  # type: ignore[attr-defined]
        await settle(pilot)
        assert card.unseen() == 0 and card.seen_to_end()
        await keys.press("pagedown")  # at the end it stays: the card's actions decide
        await settle(pilot)
        assert app.interview.current.kind == "template"
        await keys.press("pageup")  # rereading the top does not hide what was read
        await settle(pilot)
        await keys.press("enter")
        await settle(pilot)
        assert app.interview.current.kind != "template"
        assert loop_id not in app.position.proposed


async def test_skipping_through_a_loops_details_never_walks_back_over_its_answers(
    tmp_path: Path,
) -> None:
    """Page Down from a detail asked on demand went on through the loop's answered
    questions (17/18, then 14/18) and only ctrl+f got out. It now comes back to the loop's
    closing card, and Page Down there goes on to the next loop."""
    path = copy_at(tmp_path, Step("loop-done", "loop", "replica-hpa").key)
    app = make_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        keys = Keyboard(pilot)
        await settle(pilot)
        await keys.choose_action("goto:question")  # More about this loop
        await settle(pilot)
        detail = app.interview.current
        assert detail.kind == "question" and detail.target == "replica-hpa"
        await keys.press("pagedown")
        await settle(pilot)
        assert app.interview.current == Step("loop-done", "loop", "replica-hpa")
        await keys.press("pagedown")
        await settle(pilot)
        now = app.interview.current
        assert now.target == "continuous-batching", now


async def test_page_up_on_a_question_is_the_lists_own_key(tmp_path: Path) -> None:
    """Page Up scrolls a card without a question; on a question it must still move the
    highlight of a long list (the screen's binding took it from every list)."""
    path = copy_at(tmp_path, question_key("replica-hpa", "loop-objective"))
    app = make_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        keys = Keyboard(pilot)
        await settle(pilot)
        options = app.screen.query_one("#answer-area OptionList", OptionList)
        assert options.option_count > 3
        await keys.press("end")
        last = options.highlighted
        await keys.press("pageup")
        assert options.highlighted is not None and last is not None
        assert options.highlighted < last


JOB_AND_PREEMPTION = """\
schema_version: 1
system: {name: Training cluster}
resources:
  - {id: pretrain, kind: job, name: Pretraining run, synchronized: "yes", interrupted_every: 6h}
loops:
  - id: kueue
    name: Kueue priority preemption
    layer: scheduler
    owner: platform
    objective: fairness
    timescale: 10s
    triggers: [priority_arrival]
    actuations: [preempt]
    acts_on: [pretrain]
    instances: once
    decision_record: reasoned
"""


async def test_a_follow_up_about_a_resource_opens_the_resources_question(tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(JOB_AND_PREEMPTION, encoding="utf-8")
    resume.save(path, resume.Position(step=Step("review").key))
    app = make_app(path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        listing = app.screen.query_one(LivePanel).query_one("#live-list", OptionList)
        ids = [listing.get_option_at_index(i).id or "" for i in range(listing.option_count)]
        wanted = "q:resource:pretrain:resource-checkpoint-interval"
        assert wanted in ids, ids
        label = str(listing.get_option_at_index(ids.index(wanted)).prompt)
        assert label.startswith("? Pretraining run: How often does it save its progress")
        listing.focus()
        listing.highlighted = ids.index(wanted)
        listing.action_select()
        await settle(pilot)
        key = Step("question", "resource", "pretrain", "resource-checkpoint-interval").key
        assert app.interview.current.key == key


async def test_the_follow_up_walk_goes_from_one_open_question_to_the_next(tmp_path: Path) -> None:
    # "Answer the open follow-up questions" walks those questions, whichever loop each is
    # about, and ends at the review: not on into the loop's other (answered) questions.
    path = copy_at(tmp_path, Step("review").key)
    app = make_app(path)
    async with app.run_test(size=(120, 40)) as pilot:
        keys = Keyboard(pilot)
        await settle(pilot)
        open_keys = [
            Step("question", q.scope, q.target, q.id).key
            for q in app.results.open_questions
            if not q.answered_unknown
        ]
        assert len(open_keys) >= 2, "the fixture leaves several follow-ups open"
        await keys.choose_action("follow-ups")
        shown = [app.interview.current.key]
        for _ in open_keys[1:]:
            await keys.press("pagedown")  # go on without answering
            await settle(pilot)
            shown.append(app.interview.current.key)
        assert shown == open_keys
        await keys.press("pagedown")
        await settle(pilot)
        assert app.interview.current.key == Step("review").key


TWO_INTERRUPTERS = """\
schema_version: 1
system: {name: Training cluster}
resources:
  - {id: pretrain, kind: job, name: Pretraining run, checkpoint_duration: 10m}
loops:
  - id: kueue
    name: Kueue preemption
    triggers: [priority_arrival]
    actuations: [preempt]
    acts_on: [pretrain]
    deadline: 30s
  - id: spot
    name: Spot reclaim
    triggers: [schedule]
    actuations: [scale_in]
    acts_on: [pretrain]
    deadline: 2m
"""


async def test_one_finding_title_on_several_loops_names_the_loops_in_the_panel(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(TWO_INTERRUPTERS, encoding="utf-8")
    resume.save(path, resume.Position(step=Step("review").key))
    app = make_app(path)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        listing = app.screen.query_one(LivePanel).query_one("#live-list", OptionList)
        labels = [str(listing.get_option_at_index(i).prompt) for i in range(listing.option_count)]
        notice = [label for label in labels if "notice shorter than a checkpoint" in label]
        assert len(notice) == 2, labels
        assert any("(Kueue preemption)" in label for label in notice)
        assert any("(Spot reclaim)" in label for label in notice)
