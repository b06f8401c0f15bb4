"""Keys a terminal delivers in one go reach the field the typist was looking at, in the
order they were typed: a ctrl+u followed at once by typing keeps the typing, and typing
sent as soon as the next card's field shows lands in that field."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.widgets import Input

from interview.flow import Step
from interview.screens.loop_dialog import LoopDialog

from .keyboard import Keyboard, make_app, settle
from .places import at

TARGET = Step("question", "loop", "gateway-timeout", "loop-target")  # then its timescale


def post_keys(app: object, *keys: str) -> None:
    """Queue keys the way the terminal driver does: all at once, with no wait between."""
    for key in keys:
        char = key if len(key) == 1 else None
        app.post_message(events.Key(key, char))  # type: ignore[attr-defined]


async def test_ctrl_u_then_typing_in_one_burst_keeps_the_typing(tmp_path: Path) -> None:
    app = make_app(at(tmp_path, TARGET))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        field = app.screen.query_one("#answer", Input)
        assert field.value  # the saved answer, which ctrl+u clears
        post_keys(app, "end", "ctrl+u", *"p99 latency")
        await settle(pilot)
        assert field.value == "p99 latency"


async def test_typing_sent_as_the_next_field_shows_reaches_it(tmp_path: Path) -> None:
    app = make_app(at(tmp_path, TARGET))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        old = app.screen.query_one("#answer", Input)
        post_keys(app, "enter")
        # Wait, as a typist watching the screen does, only until the next field is there.
        for _ in range(100_000):
            await asyncio.sleep(0)
            shown = app.screen.query("#answer")
            if shown and shown.first() is not old and shown.first().is_mounted:
                break
        else:
            raise AssertionError("the next question's field never appeared")
        post_keys(app, "end", "ctrl+u", *"20s")
        await settle(pilot)
        assert app.interview.current.question == "loop-timescale"
        assert app.screen.query_one("#answer", Input).value == "20s"


async def test_the_dialogs_id_field_keeps_typing_sent_after_ctrl_u(tmp_path: Path) -> None:
    app = make_app(at(tmp_path, Step("loops")))
    async with app.run_test(size=(100, 30)) as pilot:
        keys = Keyboard(pilot)
        await keys.choose_action("add-loop")
        await settle(pilot)
        assert isinstance(app.screen, LoopDialog)
        await keys.press("enter")  # "From scratch": on to the name
        await keys.type_into("Edge timeout")
        await keys.press("enter")  # on to the id
        post_keys(app, "end", "ctrl+u", *"edge-timeout")
        await settle(pilot)
        assert app.screen.query_one("#loop-id", Input).value == "edge-timeout"


async def test_a_name_typed_fast_gives_the_whole_name_as_id(tmp_path: Path) -> None:
    """Each character of the name sets the id field; typed fast, several of those changes are
    in flight at once, and none of them may count as the user editing the id. The order of
    the events is the one a fast typist produced (two names' changes handled before the id
    field reports the first of them); it is played to the dialog's handlers directly."""
    app = make_app(at(tmp_path, Step("loops")))
    async with app.run_test(size=(100, 30)) as pilot:
        keys = Keyboard(pilot)
        await keys.choose_action("add-loop")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, LoopDialog)
        name, loop_id = dialog.query_one("#name", Input), dialog.query_one("#loop-id", Input)
        for typed in ("Client SDK retri", "Client SDK retrie"):
            dialog._name_changed(Input.Changed(name, typed))
        for slug in ("client-sdk-retri", "client-sdk-retrie"):
            dialog._id_changed(Input.Changed(loop_id, slug))
        dialog._name_changed(Input.Changed(name, "Client SDK retries"))
        assert loop_id.value == "client-sdk-retries"
        # An id the user types is theirs: the name no longer changes it.
        dialog._id_changed(Input.Changed(loop_id, "sdk"))
        dialog._name_changed(Input.Changed(name, "Client SDK retries!"))
        assert loop_id.value == "client-sdk-retries"  # not re-derived from the name


@pytest.mark.parametrize(
    ("question", "first", "then_on"),
    [
        ("loop-target", "request duration", "loop-timescale"),  # taken: the next card
        ("loop-timescale", "soon", "loop-timescale"),  # refused, no duration: the same card
    ],
)
async def test_typing_sent_before_the_next_card_shows_reaches_it(
    tmp_path: Path, question: str, first: str, then_on: str
) -> None:
    app = make_app(at(tmp_path, Step("question", "loop", "gateway-timeout", question)))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        post_keys(app, "end", "ctrl+u", *first, "enter", "ctrl+u", *"20s")
        await settle(pilot)
        assert app.interview.current.question == then_on
        assert app.screen.query_one("#answer", Input).value == "20s"


async def test_answers_typed_ahead_each_reach_their_own_card(tmp_path: Path) -> None:
    app = make_app(at(tmp_path, TARGET))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        post_keys(app, "end", "ctrl+u", *"queue depth", "enter", "ctrl+u", *"45s", "enter")
        post_keys(app, *"x")
        await settle(pilot)
        loop = app.session.assessment.loop("gateway-timeout")  # type: ignore[union-attr]
        assert loop is not None
        assert (loop.target, loop.timescale) == ("queue depth", "45s")
        # The key after the second Enter waits for the third card, whatever it is.
        assert app.interview.current.question not in ("loop-target", "loop-timescale")


@pytest.mark.parametrize("handed_back", [False, True])
async def test_a_key_still_queued_when_the_interview_closes_is_dropped(
    tmp_path: Path, handed_back: bool
) -> None:
    # On a loaded machine a key typed ahead was still queued when the app closed, and
    # reached it once its screens were gone: looking up the key's binding raised. A key a
    # widget did not use comes back to the app marked as forwarded, and must be dropped too.
    app = make_app(at(tmp_path, TARGET))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
    assert not app.screen_stack
    key = events.Key("x", "x")
    if handed_back:
        key._set_forwarded()
        assert key.is_forwarded
    await app.on_event(key)  # delivered after the screens are gone


async def test_keys_typed_ahead_wait_for_an_answer_however_long_it_takes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On a loaded machine, saving an answer and drawing the next card took longer than the
    # limit on held keys: released then, they reached the card being left. Here the limit
    # runs out while each answer is handled, on a fake clock: its timers fire when the
    # screen starts to move on, whatever the machine's speed.
    from interview import app as app_module
    from interview.screens.interview import InterviewScreen

    app = make_app(at(tmp_path, TARGET))
    limits: list[Callable[[], Awaitable[None]]] = []
    set_timer = app.set_timer

    def fake_timer(delay: float, callback: Any = None, **kwargs: Any) -> Any:
        if delay == app_module.ANSWER_HOLD_LIMIT_S:
            limits.append(callback)
        return set_timer(delay * 1000, callback, **kwargs)  # never within the test

    go = InterviewScreen.go

    async def go_after_the_limit(self: InterviewScreen, delta: int) -> None:
        while limits:
            await limits.pop(0)()
        for _ in range(200):  # the card being left takes what the limit released to it
            await asyncio.sleep(0)
        await go(self, delta)

    monkeypatch.setattr(app, "set_timer", fake_timer)
    monkeypatch.setattr(InterviewScreen, "go", go_after_the_limit)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        post_keys(app, "end", "ctrl+u", *"queue depth", "enter", "ctrl+u", *"45s", "enter")
        await settle(pilot)
        loop = app.session.assessment.loop("gateway-timeout")  # type: ignore[union-attr]
        assert loop is not None
        assert (loop.target, loop.timescale) == ("queue depth", "45s")


async def test_enter_pressed_twice_confirms_one_card(tmp_path: Path) -> None:
    app = make_app(at(tmp_path, TARGET))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        post_keys(app, "end", "ctrl+u", *"p99 latency", "enter", "enter")
        await settle(pilot)
        assert app.interview.current.question == "loop-timescale"
