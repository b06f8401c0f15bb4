"""Export the reports: choose formats and a directory (the assessment's, by default)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from expert.errors import InputError
from interview.export import report_path
from interview.widgets.question_card import MultiChoice

# Writes the reports: (directory, formats) -> paths written; raises InputError.
Write = Callable[[Path, list[str]], Awaitable[list[Path]]]


class ExportDialog(ModalScreen[list[Path] | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, assessment_path: Path, formats: list[str], write: Write) -> None:
        super().__init__()
        self.assessment_path = assessment_path
        self.formats = formats
        self.write = write

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text("Export the reports"), classes="dialog-title")
            yield Static(
                Text("Space ticks or unticks a format; Enter exports."),
                classes="dialog-help",
            )
            yield MultiChoice(self.formats, set(range(len(self.formats))), id="formats")
            yield Label("Directory")
            yield Input(str(self.assessment_path.parent.resolve()), id="directory")
            yield Static(id="export-names", classes="dialog-help")
            yield Static(id="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Export ⏎", id="export", variant="primary", compact=True)
                yield Button("Close Esc", id="close", compact=True)

    def on_mount(self) -> None:
        self._names()
        self.query_one("#directory").focus()

    def _chosen(self) -> list[str]:
        ticked = self.query_one("#formats", MultiChoice).ticked
        return [fmt for i, fmt in enumerate(self.formats) if i in ticked]

    @on(MultiChoice.Toggled)
    @on(Input.Changed, "#directory")
    def _names(self) -> None:
        directory = Path(self.query_one("#directory", Input).value.strip() or ".")
        names = [report_path(self.assessment_path, directory, f).name for f in self._chosen()]
        self.query_one("#export-names", Static).update(
            Text("Files: " + (", ".join(names) or "none"))
        )

    @on(Input.Submitted, "#directory")
    @on(MultiChoice.Confirmed)
    @on(Button.Pressed, "#export")
    async def _export(self) -> None:
        directory = Path(self.query_one("#directory", Input).value.strip() or ".").expanduser()
        error = self.query_one("#dialog-error", Static)
        error.update(Text("Writing…"))
        try:
            written = await self.write(directory, self._chosen())
        except InputError as exc:
            error.update(Text("✗ " + "; ".join(f"{p.source}: {p.message}" for p in exc.problems)))
            return
        self.dismiss(written)

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)
