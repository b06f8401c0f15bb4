"""Help scrolls with the keyboard at 80x24, the footer says how to change an answer, and
focus shows without colour."""

from __future__ import annotations

from pathlib import Path

from textual.containers import VerticalScroll
from textual.widgets import Input, OptionList

from interview.flow import Step
from interview.screens.help import HelpScreen

from .keyboard import make_app, settle
from .places import at


async def test_help_scrolls_with_the_keyboard_to_its_last_key(tmp_path: Path) -> None:
    app = make_app(at(tmp_path, Step("review")))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.query_one("#help-text", VerticalScroll)
        assert text.max_scroll_y > 0  # longer than the screen: it must scroll
        await pilot.press("down")
        assert text.scroll_y > 0
        await pilot.press("pagedown", "pagedown", "pagedown", "pagedown")
        await pilot.pause()
        assert text.scroll_y == text.max_scroll_y
        await pilot.press("pageup")
        assert text.scroll_y < text.max_scroll_y
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


def footer_text(app: object) -> str:
    screen = app.screen  # type: ignore[attr-defined]
    return " ".join(
        binding.description
        for binding in (b for _, b, enabled, _ in screen.active_bindings.values() if enabled)
        if binding.show
    )


async def test_the_footer_says_how_to_change_an_answer(tmp_path: Path) -> None:
    app = make_app(at(tmp_path, Step("question", "loop", "gateway-timeout", "loop-objective")))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "Edit answers" in footer_text(app)
        shown = str(app.screen.query_one("#saved").content)
        assert "answer again to change it" in shown
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert app.screen.query_one("#outline").has_focus


async def test_focus_shows_as_a_bar_not_only_a_colour(tmp_path: Path) -> None:
    app = make_app(at(tmp_path, Step("question", "loop", "replica-hpa", "loop-owner")))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        box = app.screen.query_one("#answer", Input)
        assert box.has_focus
        assert box.styles.border_left[0] == "outer"
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert not box.has_focus
        assert box.styles.border_left[0] in ("", "none", "blank", "hidden")


async def test_focus_bar_on_a_pick_list(tmp_path: Path) -> None:
    app = make_app(at(tmp_path, Step("question", "loop", "gateway-timeout", "loop-objective")))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        answer = app.screen.query_one("#answer", OptionList)
        assert answer.styles.border_left[0] == "outer"
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert answer.styles.border_left[0] != "outer"
