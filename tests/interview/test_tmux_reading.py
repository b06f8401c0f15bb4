"""The tmux run reads the screen the way a person does: it acts on a card only once the
terminal shows it.

The interview records the step on screen in its position file as soon as the card is built,
a moment before the terminal is repainted. A run that acted on the step file alone read the
previous card's highlight, pressed ↓ on the new card, then saw the new card's first picture
(its highlight not yet moved by that ↓) and pressed Enter: the screen showed "Add another
control loop" while the app ran the next action, "Go on to the resources". Here the terminal
is a fake whose picture follows the app's state a few captures late.
"""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks.tmux_four_loops import Run

LAG = 5  # captures before a change of the app's state shows on the fake terminal


class LateTerminal(Run):
    """The app's state changes at once when a key arrives; its picture, LAG captures later."""

    def __init__(self, path: Path, step: str, heading: str, options: list[str], at: int) -> None:
        super().__init__(path)
        self.reads = 0
        self.history: list[tuple[int, str]] = []  # (capture count at the change, picture)
        self.chosen: list[str] = []
        self.torn: set[int] = set()  # captures that catch a repaint halfway: no mark shows
        self.show_card(step, heading, options, at)
        self.reads = LAG  # the first card is on screen from the start

    def show_card(self, step: str, heading: str, options: list[str], at: int) -> None:
        self.current = step
        self.title, self.options, self.at = heading, options, at
        self._changed()

    def _changed(self) -> None:
        lines = [" ⭘ Control coherence interview", f"▶ Platform  ▕ {self.title}", "        ▕"]
        for i, label in enumerate(self.options):
            lines.append(f"        ▕ ▌{'▸' if i == self.at else ' '} {label}")
        self.history.append((self.reads, "\n".join(lines)))

    def step(self) -> str:
        return self.current

    def screen(self) -> str:
        self.reads += 1
        shown = [picture for at, picture in self.history if at <= self.reads - LAG]
        picture = shown[-1] if shown else self.history[0][1]
        return picture.replace("▸", " ") if self.reads in self.torn else picture

    def press(self, *keys: str) -> None:
        for key in keys:
            self.keys += 1
            if key in ("Down", "Up"):
                step = 1 if key == "Down" else -1
                self.at = min(max(self.at + step, 0), len(self.options) - 1)
                self._changed()
            elif key == "Enter":
                self.chosen.append(self.options[self.at])


def test_an_action_is_chosen_from_the_card_on_screen_not_the_one_before(tmp_path: Path) -> None:
    question = "question:loop:hpa:loop-drains"
    term = LateTerminal(
        tmp_path / "a.yaml",
        question,
        "Loop 4/4: HPA · 9/9 · guards on its actions",
        ["Yes", "No", "Don't know"],
        at=2,
    )
    term.wait_step("")  # the question card, seen
    term.show_card(
        "loop-done:loop:hpa:",
        "Loop 4 of 4: done",
        ["More about this loop", "Add another control loop", "Go on to the resources"],
        at=1,
    )
    term.wait_step(question)
    term.choose("Add a")
    assert term.chosen == ["Add another control loop"]
    assert term.keys == 1  # Enter alone: the highlight was already there


def test_a_capture_caught_mid_repaint_is_not_read_as_the_highlight(tmp_path: Path) -> None:
    term = LateTerminal(
        tmp_path / "a.yaml",
        "loop-done:loop:sdk-retries:",
        "Loop 2 of 2: done",
        ["More about this loop", "Add another control loop", "Go on to the resources"],
        at=1,
    )
    term.wait_step("")
    term.torn = {term.reads + 1}  # the next capture shows the list with no mark
    term.choose("Add a")
    assert term.chosen == ["Add another control loop"]
    assert term.keys == 1  # Enter alone: the highlight was already there


class StillScreen(Run):
    """One fixed picture: a duration card whose hint wraps onto a second line."""

    def __init__(self, path: Path, picture: str) -> None:
        super().__init__(path)
        self.picture = picture

    def screen(self) -> str:
        return self.picture


def test_the_answer_field_is_found_under_a_hint_that_wraps(tmp_path: Path) -> None:
    # A field that may not apply says so in its hint, which then wraps: the line under
    # "then Enter." is the hint's end, not the field, and the run waited on it for ever.
    card = [
        "        ▕ Type a duration (30s, about 5m, a few seconds, 10s-2m), then Enter. Type",
        "        ▕ n/a if it does not apply.",
        "        ▕ ▌ {}",
        "        ▕  Next ⏎   Don't know ^d   Skip PgDn   Back Esc",
    ]
    empty = StillScreen(tmp_path / "a.yaml", "\n".join(card).format("e.g. 8m"))
    assert empty.field().strip().endswith("▌ e.g. 8m")
    full = StillScreen(tmp_path / "a.yaml", "\n".join(card).format("10s"))
    assert full.field().strip().endswith("▌ 10s")
