"""The tests' wait for the app (`settle`) returns only once every key sent has been handled,
however idle the app looks meanwhile."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual import events
from textual.widgets import Input

from interview.flow import Step

from . import keyboard
from .keyboard import make_app, settle
from .places import at

TARGET = Step("question", "loop", "gateway-timeout", "loop-target")


async def test_a_key_typed_while_the_app_waits_is_handled_once_settled(tmp_path: Path) -> None:
    # On a loaded machine the app can use no CPU for a while (the process not scheduled, or
    # waiting on a file or a child process) with keys still queued: a wait that took that for
    # idle returned, and the test went on, or closed the app, with the keys still to come.
    # Here the app waits without using the CPU, keys queued behind the wait, and starts
    # waiting only once the pilot's own pause has seen the queue through.
    app = make_app(at(tmp_path, TARGET))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        field = app.screen.query_one("#answer", Input)
        saved = field.value

        async def wait_while_keys_arrive() -> None:
            for key, char in (("end", None), ("x", "x")):
                app.post_message(events.Key(key, char))
            await asyncio.sleep(0.2)

        # Queued by a callback, the wait starts behind the pilot's own pause.
        app.call_later(app.call_later, wait_while_keys_arrive)
        await settle(pilot)
        assert field.value == saved + "x"


async def test_an_app_that_does_not_come_to_rest_fails_the_wait_saying_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keyboard, "SETTLE_ROUNDS", 3)
    app = make_app(at(tmp_path, TARGET))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        hold = app.hold_keys()  # as while a card changes, here for good
        app.post_message(events.Key("x", "x"))
        with pytest.raises(AssertionError, match="in 3 pauses") as failed:
            await settle(pilot)
        assert "typed keys are held for the next card" in str(failed.value)
        await app.release_keys(hold)
        await settle(pilot)
        assert app.screen.query_one("#answer", Input).value.endswith("x")
