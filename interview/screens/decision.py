"""Record what the team decided about a finding: accepted, mitigated, not applicable or a
false positive, with the reason and who decided. Saved to the assessment's `decisions`."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Select, Static

from expert.assessment.model import Decision

STATES = [
    ("Accepted: we take this risk knowingly", "accepted"),
    ("Mitigated: fixed in a way the answers do not show", "mitigated"),
    ("Not applicable to this platform", "not-applicable"),
    ("False positive: the finding is wrong", "false-positive"),
]


class DecisionDialog(ModalScreen[tuple[str, str, str] | None]):
    """Dismissed with (state, reason, who), or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, finding_id: str, title: str, current: Decision | None = None) -> None:
        super().__init__()
        self.finding_id = finding_id
        self.finding_title = title
        self.current = current

    def compose(self) -> ComposeResult:
        current = self.current
        with Vertical(id="dialog"):
            yield Static(Text(f"Decision on: {self.finding_title}"), classes="dialog-title")
            yield Static(
                Text(
                    "Accepted and not-applicable findings stop failing a --fail-on gate; "
                    "every decision is shown in the reports with its reason."
                ),
                classes="dialog-help",
            )
            yield Select(
                STATES,
                value=current.state if current else "accepted",
                allow_blank=False,
                id="decision-state",
            )
            yield Input(
                value=current.reason if current else "",
                placeholder="Why (required), e.g. the timeout is raised in the next release",
                id="decision-reason",
            )
            yield Input(
                value=(current.by or "") if current else "",
                placeholder="Who decided, e.g. Platform SRE",
                id="decision-by",
            )
            yield Static(id="decision-problem", classes="dialog-help")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", id="save", variant="primary", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#decision-reason", Input).focus()

    @on(Input.Submitted, "#decision-reason")
    def _next(self) -> None:
        self.query_one("#decision-by", Input).focus()

    @on(Input.Submitted, "#decision-by")
    @on(Button.Pressed, "#save")
    def _save(self) -> None:
        reason = self.query_one("#decision-reason", Input).value.strip()
        if not reason:
            self.query_one("#decision-problem", Static).update(
                Text("A decision needs a reason: say why, in a sentence.")
            )
            self.query_one("#decision-reason", Input).focus()
            return
        state = self.query_one("#decision-state", Select).value
        by = self.query_one("#decision-by", Input).value.strip()
        self.dismiss((str(state), reason, by))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
