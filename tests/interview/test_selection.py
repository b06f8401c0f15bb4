"""Pick-lists, as a person sees them: the highlight is always on screen, where the list
opens is where Enter would answer, and no key press stores an answer nobody looked at."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import OptionList

from expert.analysis.assess import load_assessment
from expert.assessment.model import UNKNOWN
from expert.knowledge import knowledgebase as knowledge
from interview import flow
from interview.flow import Step
from interview.screens.loop_dialog import LoopDialog
from interview.widgets.question_card import MARK

from .keyboard import Keyboard, make_app, settle
from .places import at


def screen_text(app: object, selector: str = "#answer") -> str:
    """A list as drawn, in characters only: what NO_COLOR or a screen reader gets."""
    widget = app.screen.query_one(selector, OptionList)  # type: ignore[attr-defined]
    return "\n".join(widget.render_line(y).text for y in range(widget.size.height))


async def test_an_unanswered_pick_list_opens_on_its_first_option(tmp_path: Path) -> None:
    path = at(tmp_path, Step("question", "loop", "sdk-retries", "guard-rate-limited"))
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        answer = app.screen.query_one("#answer", OptionList)
        assert answer.highlighted == 0
        assert f"{MARK} Yes" in screen_text(app)  # visible without colour


async def test_the_first_down_moves_to_the_second_option(tmp_path: Path) -> None:
    """↓ then Enter on an unanswered yes/no stores No, the option the user was looking at."""
    path = at(tmp_path, Step("question", "loop", "sdk-retries", "guard-rate-limited"))
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        keys = Keyboard(pilot)
        await keys.press("down")
        assert f"{MARK} No" in screen_text(app)
        await keys.press("enter")
        await settle(pilot)
    loop = load_assessment(path, knowledge.load([])).loop("sdk-retries")
    assert loop is not None and loop.guards.rate_limited == "no"


async def test_arrows_alone_store_nothing(tmp_path: Path) -> None:
    path = at(tmp_path, Step("question", "loop", "sdk-retries", "guard-rate-limited"))
    before = path.read_text()
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        keys = Keyboard(pilot)
        await keys.press("down", "down", "up")
        await settle(pilot)
        assert app.interview.current.question == "guard-rate-limited"
    assert path.read_text() == before


async def test_a_saved_answer_is_where_the_list_opens(tmp_path: Path) -> None:
    path = at(tmp_path, Step("question", "loop", "gateway-timeout", "loop-objective"))
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        answer = app.screen.query_one("#answer", OptionList)
        option = answer.highlighted_option
        assert option is not None and MARK + " Protect" in screen_text(app)


async def test_the_review_opens_on_see_the_findings(tmp_path: Path) -> None:
    path = at(tmp_path, Step("loop-done", "loop", "continuous-batching"))
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        keys = Keyboard(pilot)
        await settle(pilot)
        await keys.choose_action("goto:resources", "goto:economics")
        await settle(pilot)
        if app.interview.current.kind == "resources":
            await keys.choose_action("goto:economics")
            await settle(pilot)
        await keys.choose_action("goto:review")
        await settle(pilot)
        assert app.interview.current.kind == "review"
        actions = app.screen.query_one("#actions", OptionList)
        option = actions.highlighted_option
        assert option is not None and option.id == "results"
        assert f"{MARK} See the findings" in screen_text(app, "#actions")


async def test_the_template_list_shows_its_highlight_without_colour(tmp_path: Path) -> None:
    """The add-loop dialog's list is read the way the answers are: the highlighted template
    carries the mark, and it follows the arrows."""
    path = at(tmp_path, Step("loops"))
    app = make_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        keys = Keyboard(pilot)
        await keys.choose_action("add-loop")
        await settle(pilot)
        assert isinstance(app.screen, LoopDialog)
        assert f"{MARK} From scratch" in screen_text(app, "#templates")
        await keys.press("down")
        templates = app.screen.query_one("#templates", OptionList)
        option = templates.highlighted_option
        assert option is not None and option.id != "scratch"
        drawn = [line for line in screen_text(app, "#templates").splitlines() if MARK in line]
        assert len(drawn) == 1 and str(option.prompt).strip()[:30] in drawn[0]


async def test_nobody_knows_typed_as_the_owner_is_unknown(tmp_path: Path) -> None:
    path = at(tmp_path, Step("question", "loop", "replica-hpa", "loop-owner"))
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        keys = Keyboard(pilot)
        await keys.type_into("Nobody knows")
        await keys.press("enter")
        await settle(pilot)
    loop = load_assessment(path, knowledge.load([])).loop("replica-hpa")
    assert loop is not None and loop.owner == UNKNOWN


async def test_findings_arriving_while_the_review_opens_keep_its_highlight(
    tmp_path: Path,
) -> None:
    """The engine's results can land between leaving a card and drawing the review: the
    previous card's highlight ("Add another control loop") must not carry over."""
    path = at(tmp_path, Step("loop-done", "loop", "continuous-batching"))
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.interview
        actions = app.screen.query_one("#actions", OptionList)
        assert actions.highlighted_option is not None
        assert actions.highlighted_option.id == "add-loop"
        await asyncio.gather(screen.show(flow.REVIEW), screen.results_changed())
        await pilot.pause()
        option = app.screen.query_one("#actions", OptionList).highlighted_option
        assert option is not None and option.id == "results"
