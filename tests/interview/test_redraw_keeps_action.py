"""A card redrawn because the findings changed keeps the action the user highlighted, even
when the redraw adds an action above it, and Enter runs that action."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import OptionList

from interview.flow import Step
from interview.screens.loop_dialog import LoopDialog

from .keyboard import Keyboard, make_app, settle
from .places import at

LOOP = "replica-hpa"  # not the last loop: its card opens on "Continue with the next loop"


def action_ids(app: object) -> list[str]:
    actions = app.screen.query_one("#actions", OptionList)  # type: ignore[attr-defined]
    return [str(actions.get_option_at_index(i).id) for i in range(actions.option_count)]


async def test_a_redraw_that_adds_an_action_keeps_the_highlighted_one(tmp_path: Path) -> None:
    path = at(tmp_path, Step("loop-done", "loop", LOOP))
    app = make_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        keys = Keyboard(pilot)
        await settle(pilot)
        kb = app.session.kb
        # Every detail answered: the card offers no "More about this loop" yet.
        app.session.answer(kb.questions["loop-changes"], LOOP, ["utilization_change"])
        await app.interview.results_changed()
        await pilot.pause()
        assert not any(a.startswith("goto:question") for a in action_ids(app))
        actions = app.screen.query_one("#actions", OptionList)
        await keys.highlight(actions, action_ids(app).index("add-loop"))
        before = action_ids(app).index("add-loop")

        # The detail is open again (as when the engine's results change what is asked):
        # the redrawn card gains "More about this loop" above "Add another control loop".
        app.session.answer(kb.questions["loop-changes"], LOOP, None)
        await app.interview.results_changed()
        await pilot.pause()
        ids = action_ids(app)
        assert any(a.startswith("goto:question") for a in ids), ids
        assert ids.index("add-loop") == before + 1  # the list did move under the highlight
        option = app.screen.query_one("#actions", OptionList).highlighted_option
        assert option is not None and option.id == "add-loop"

        await keys.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, LoopDialog)
