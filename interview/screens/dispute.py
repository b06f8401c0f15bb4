"""Settle what respondents disagree about: a merged file (`coherence merge`) keeps each
disputed answer with who gave it, and the field itself unknown. This dialog shows who said
what and lets the user take one respondent's answer, or go back to the question to give
their own (which settles it too)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from interview.widgets.question_card import MarkedList, marked

OWN = -1  # dismissed with this: the user answers the question themselves


def who_said(said: list[tuple[str, str]]) -> str:
    """'Platform SRE says: no · Inference team says: yes' (answers already in plain words)."""
    return " · ".join(f"{who} says: {answer}" for who, answer in said)


class DisputeDialog(ModalScreen[int | None]):
    """Dismissed with the index of the respondent whose answer is taken, OWN to answer the
    question anew, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, prompt: str, said: list[tuple[str, str]]) -> None:
        super().__init__()
        self.prompt = prompt
        self.said = said

    def compose(self) -> ComposeResult:
        options = [
            Option(marked(Text(f"Take {who}'s answer: {answer}")), id=f"take-{i}")
            for i, (who, answer) in enumerate(self.said)
        ]
        options.append(Option(marked("Give my own answer to the question"), id="own"))
        with Vertical(id="dialog"):
            yield Static(Text("Respondents disagree"), classes="dialog-title")
            yield Static(Text(self.prompt), classes="dialog-help")
            yield Static(Text(who_said(self.said)), id="dispute-said", classes="dialog-help")
            yield Static(
                Text(
                    "Until it is settled the answer counts as don't know, and the report "
                    "names the disagreement. Esc leaves it open."
                ),
                classes="dialog-help",
            )
            yield MarkedList(*options, id="dispute-choices")

    def on_mount(self) -> None:
        self.query_one("#dispute-choices", OptionList).focus()

    @on(OptionList.OptionSelected, "#dispute-choices")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        chosen = event.option.id or ""
        self.dismiss(OWN if chosen == "own" else int(chosen.removeprefix("take-")))

    def action_cancel(self) -> None:
        self.dismiss(None)
