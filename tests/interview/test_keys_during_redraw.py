"""Keys a terminal delivers while the next card is being drawn reach that card: a typist who
presses Enter and goes straight on typing loses nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual import events
from textual.widgets import Input

from interview.flow import Step

from .keyboard import make_app, settle
from .places import at


def post_keys(app: object, *keys: str) -> None:
    """Queue keys the way the terminal driver does: all at once, with no wait between."""
    for key in keys:
        char = key if len(key) == 1 else None
        app.post_message(events.Key(key, char))  # type: ignore[attr-defined]


@pytest.mark.xfail(
    strict=True,
    reason="keys that arrive after Enter, before the screen has handled the submission, go "
    "to the leaving card's Input (still focused) and are removed with it",
)
async def test_typing_sent_right_after_enter_reaches_the_next_field(tmp_path: Path) -> None:
    path = at(tmp_path, Step("question", "loop", "gateway-timeout", "loop-target"))
    app = make_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        first = app.interview.current
        post_keys(app, *"request duration", "enter", "ctrl+u", *"20s")
        await settle(pilot)
        await pilot.pause()
        assert app.interview.current != first
        field = app.screen.query_one("#answer", Input)
        assert field.value == "20s", (app.interview.current, field.value)
