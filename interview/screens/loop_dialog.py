"""Adding, duplicating or renaming a control loop: template, name and id in one dialog.

Typing while the template list has the focus narrows it to the templates whose title,
product, layer or description hold every word typed (Backspace takes a letter back, Esc
clears it); the arrows, Enter and Tab keep their meaning.

The id is made from the name as it is typed (until the user edits it) and checked in place:
a bad slug or an id already taken is explained under the field and nothing is saved.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Literal

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from expert.errors import InputError
from expert.knowledge.templates import LoopTemplate
from interview.questions import slugify
from interview.widgets.question_card import MarkedList, TypedInput, marked

Mode = Literal["add", "duplicate", "rename"]
SCRATCH = "scratch"
FILTER_HINT = "Type to narrow the list, for example: retries, vLLM, Kueue."
# Commit the loop: (template or None, id, name); raises InputError if it cannot be saved.
Commit = Callable[[LoopTemplate | None, str, str], None]


class LoopDialog(ModalScreen[str | None]):
    """Returns the id of the loop added or changed, or None if cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        mode: Mode,
        commit: Commit,
        check_id: Callable[[str], str | None],
        templates: list[LoopTemplate] | None = None,
        name: str = "",
        loop_id: str = "",
        layer_order: list[str] | None = None,
        layer_labels: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.mode = mode
        self.commit = commit
        self.check_id = check_id
        order = {layer: i for i, layer in enumerate(layer_order or [])}
        self.templates = sorted(
            templates or [],
            key=lambda t: (order.get(str(t.loop.get("layer")), len(order)), t.title.lower()),
        )
        self.layer_labels = layer_labels or {}
        self.initial_name = name
        self.initial_id = loop_id
        self._id_edited = bool(loop_id)
        # The ids this dialog wrote into the id field whose Changed events have not arrived
        # yet: typing fast puts several in flight, and each is ours, not the user's edit.
        self._ids_set: list[str] = []
        self._filter = ""  # typed while the template list has the focus

    def compose(self) -> ComposeResult:
        title = {
            "add": "Add a control loop",
            "duplicate": "Duplicate a control loop",
            "rename": "Rename a control loop",
        }[self.mode]
        with Vertical(id="dialog"):
            yield Static(Text(title), classes="dialog-title")
            if self.mode == "add":
                yield Static(
                    Text(
                        "Start from a template for a loop you recognise (its answers are "
                        "pre-filled for you to check), or from scratch."
                    ),
                    classes="dialog-help",
                )
                # Marked: the highlighted template shows without colour too (NO_COLOR)
                yield MarkedList(*self._template_options(), id="templates")
                yield Static(Text(FILTER_HINT), id="template-filter", classes="dialog-help")
                yield Static(id="template-help", classes="dialog-help")
            yield Label("Name (what your teams call it)")
            yield TypedInput(
                value=self.initial_name, placeholder="e.g. API gateway request timeout", id="name"
            )
            yield Label("Id (short, lower-case; used in the file and the reports)")
            yield TypedInput(
                value=self.initial_id, placeholder="e.g. gateway-timeout", id="loop-id"
            )
            yield Static(id="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK ⏎", id="ok", variant="primary", compact=True)
                yield Button("Cancel Esc", id="cancel", compact=True)

    def _template_options(self) -> list[Option]:
        """Scratch first, then the templates (those the filter keeps) under a heading per
        layer."""
        options = [Option(marked("From scratch: a blank loop"), id=SCRATCH)]
        layer = None
        words = self._filter.lower().split()
        for t in self.templates:
            layer_label = self.layer_labels.get(str(t.loop.get("layer")), "")
            searchable = f"{t.title} {t.product or ''} {layer_label} {t.description}".lower()
            if not all(word in searchable for word in words):
                continue
            if t.loop.get("layer") != layer:
                layer = t.loop.get("layer")
                label = self.layer_labels.get(str(layer), "Other loops")
                options.append(Option(Text(f"── {label}", style="bold"), disabled=True))
            product = f" · {t.product}" if t.product and t.product not in t.title else ""
            options.append(Option(Text(f"  {t.title}{product}"), id=t.id))
        return options

    def on_key(self, event: events.Key) -> None:
        """Letters typed on the template list narrow it; Backspace takes one back."""
        if self.mode != "add" or self.focused is not self.query_one("#templates"):
            return
        if event.key == "backspace" and self._filter:
            self._set_filter(self._filter[:-1])
        elif event.character and event.is_printable and (self._filter or event.character != " "):
            self._set_filter(self._filter + event.character)
        else:
            return
        event.stop()
        event.prevent_default()

    def _set_filter(self, text: str) -> None:
        self._filter = text
        listing = self.query_one("#templates", OptionList)
        options = self._template_options()
        listing.set_options(options)
        # The first template kept, or scratch when none is (or nothing is typed).
        kept = [n for n, o in enumerate(options) if o.id not in (None, SCRATCH)]
        listing.highlighted = kept[0] if text and kept else 0
        hint = FILTER_HINT
        if text:
            found = f"{len(kept)} template{'s' if len(kept) != 1 else ''}" if kept else "none"
            hint = f"Filter: {text} ({found}; Backspace or Esc to change it)"
        self.query_one("#template-filter", Static).update(Text(hint))

    def on_mount(self) -> None:
        if self.mode == "add":
            self.query_one("#templates", OptionList).highlighted = 0
            self.query_one("#templates").focus()
        else:
            self.query_one("#name").focus()

    def _template(self, template_id: str | None) -> LoopTemplate | None:
        return next((t for t in self.templates if t.id == template_id), None)

    @on(OptionList.OptionHighlighted, "#templates")
    def _describe(self, event: OptionList.OptionHighlighted) -> None:
        template = self._template(event.option.id)
        text = (
            template.description
            if template
            else "Every question starts empty; you answer each one (don't know is fine)."
        )
        self.query_one("#template-help", Static).update(Text(text))

    @on(OptionList.OptionSelected, "#templates")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        template = self._template(event.option.id)
        name = self.query_one("#name", Input)
        if template is not None and not name.value.strip():
            name.value = template.title
        self.set_focus(name)  # at once: a deferred focus() would run after keys already sent

    @on(Input.Changed, "#name")
    def _name_changed(self, event: Input.Changed) -> None:
        field = self.query_one("#loop-id", Input)
        slug = slugify(event.value)
        if not self._id_edited and field.value != slug:
            self._ids_set.append(slug)
            field.value = slug

    @on(Input.Changed, "#loop-id")
    def _id_changed(self, event: Input.Changed) -> None:
        if event.value in self._ids_set:
            self._ids_set.remove(event.value)
        else:
            self._id_edited = True
        problem = self.check_id(event.value.strip()) if event.value.strip() else None
        self._error(problem or "")

    @on(Input.Submitted, "#name")
    def _name_done(self, event: Input.Submitted) -> None:
        event.stop()
        self.set_focus(self.query_one("#loop-id"))

    @on(Input.Submitted, "#loop-id")
    def _id_done(self, event: Input.Submitted) -> None:
        event.stop()
        self._confirm()

    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        self._confirm()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.dismiss(None)

    def action_cancel(self) -> None:
        """Esc clears a filter typed on the template list first, then closes the dialog."""
        if self._filter and self.focused is self.query_one("#templates"):
            self._set_filter("")
            return
        self.dismiss(None)

    def _error(self, message: str) -> None:
        error = self.query_one("#dialog-error", Static)
        error.update(Text(f"✗ {message}" if message else ""))
        error.display = bool(message)

    def _confirm(self) -> None:
        name = self.query_one("#name", Input).value.strip()
        loop_id = self.query_one("#loop-id", Input).value.strip()
        if not name:
            self._error("Give the loop a name: what your teams call it.")
            self.query_one("#name").focus()
            return
        problem = self.check_id(loop_id)
        if problem:
            self._error(problem)
            self.query_one("#loop-id").focus()
            return
        template = None
        if self.mode == "add":
            option = self.query_one("#templates", OptionList).highlighted_option
            template = self._template(option.id if option else None)
        try:
            self.commit(template, loop_id, name)
        except InputError as exc:
            self._error(
                "; ".join(p.message + (f" ({p.fix})" if p.fix else "") for p in exc.problems)
            )
            return
        self.dismiss(loop_id)
