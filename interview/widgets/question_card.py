"""The card in the middle of the interview: one question, or one decision, at a time.

A question card shows why the question is asked (help), an example, the saved answer (and,
for an imported one, the configuration line it came from), which possible finding it would
settle, and an input that fits the answer: a text box, a list to
pick one from, or a list to tick several in. Decision cards (welcome, loops, review ...)
show a short text and a list of actions.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.console import RenderableType
from rich.segment import Segment
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

from expert.assessment.model import UNKNOWN
from interview import flow
from interview.flow import Step
from interview.questions import (
    NOT_APPLICABLE,
    NOT_APPLICABLE_LABEL,
    UNKNOWN_LABEL,
    AnswerSpec,
    as_text,
    duration_reading,
)
from interview.session import Session


@dataclass
class QuestionView:
    key: str  # the step shown: answers carry it, so none can land on a later step
    crumb: str
    prompt: str
    help: str
    example: str
    spec: AnswerSpec
    value: Any  # the stored answer (None: not answered yet)
    saved: str  # the stored answer as the user reads it
    pending: str | None = None  # typed earlier but not confirmed
    follow_up: str = ""
    notes: list[str] = field(default_factory=list)
    # `value` is what a template proposed, not a saved answer: it counts once confirmed.
    proposed: bool = False


@dataclass
class InfoView:
    key: str
    crumb: str
    title: str
    body: str | Content | Text
    actions: list[tuple[str, str]]
    highlight: str | None = None
    table: RenderableType | None = None


MARK = "▸"
NOTHING_PICKED = "Pick an answer with ↑ ↓ first (or ctrl+d: don't know; Page Down: skip)."


def marked(label: str | Text) -> Text:
    """An option's prompt with the column its highlight mark is drawn in."""
    return Text.assemble("  ", label)


class TypedInput(Input):
    """A text field whose own editing keys (ctrl+u, End, Enter...) take effect in the order
    they were typed.

    Textual runs a focused widget's key bindings only once the key has bubbled back up to
    the app, while typed characters go in at once: when the terminal delivered ctrl+u and
    the typing after it together (a busy app reads them in one go), the ctrl+u ran last and
    cleared the typing, and the Enter that followed found the field empty.
    """

    async def _on_key(self, event: events.Key) -> None:
        for key in event.aliases:
            bindings = self._bindings.key_to_bindings.get(key)
            if bindings:
                event.stop()
                event.prevent_default()
                await self.run_action(bindings[0].action)
                return
        await super()._on_key(event)


class CardText(VerticalScroll):
    """The card's text. When it is longer than the room it has, a line under it says so
    (a one-column scrollbar alone went unnoticed: a newcomer accepted a template's answers
    without seeing the last of them)."""

    # Page Down scrolls only a card without a question (on a question it skips), so only
    # there does the line offer it.
    info = False
    # Whether the end of this card's text has been on screen (reset with each card).
    reached_end = False

    def below(self) -> int:
        """Lines of text not shown yet, below the visible part."""
        return max(0, round(self.max_scroll_y - self.scroll_y))

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self._tell()

    def on_resize(self) -> None:
        self.call_after_refresh(self._tell)

    def _tell(self) -> None:
        more = self.screen.query("#more") if self.is_mounted else None
        if not more:
            return
        if not self.below():
            self.reached_end = True
        n = self.below() if self.info else 0
        line = f"↓ {n} more line{'s' if n != 1 else ''} below: Page Down scrolls" if n else ""
        widget = more.first(Static)
        widget.update(line)
        widget.display = bool(n)


class MarkedList(OptionList):
    """An option list whose highlighted option carries a ▸ in its first column, so the
    highlight shows without colour (NO_COLOR, a monochrome terminal) as well as with it.
    Prompts are made with `marked`, which leaves that column blank."""

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        try:
            index, offset = self._lines[self.scroll_offset.y + y]
        except IndexError:
            return strip
        if index != self.highlighted or offset or strip.cell_length < 2:
            return strip
        first = next(iter(strip), None)
        return Strip([Segment(MARK, first.style if first else None), *strip.crop(1)])


class ChoiceList(MarkedList):
    """Pick one answer: arrows to move, Enter to confirm.

    The list opens on the saved answer, or on the first option, drawn highlighted: the
    first ↓ moves to the second option, and Enter confirms only what is on screen.
    """

    class NothingPicked(Message):
        pass

    def action_select(self) -> None:
        if self.highlighted is None:
            self.post_message(self.NothingPicked())
        else:
            super().action_select()


class MultiChoice(MarkedList):
    """Tick several answers: Space (or a click) ticks, Enter confirms the ticked set.

    Ticks are drawn as [x] and [ ], so they read the same without colour (NO_COLOR).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "tick", "Tick", show=False),
        Binding("enter", "confirm", "Confirm", show=False),
    ]

    class Confirmed(Message):
        pass

    class Toggled(Message):
        pass

    def __init__(self, labels: list[str], ticked: set[int], **kwargs: Any) -> None:
        self.labels = labels
        self.ticked = set(ticked)
        super().__init__(
            *[Option(self._prompt(i), id=f"c{i}") for i in range(len(labels))], **kwargs
        )

    def _prompt(self, index: int) -> Text:
        if index in self.ticked:
            return marked(Text.assemble(("[x] ", "bold"), (self.labels[index], "bold")))
        return marked("[ ] " + self.labels[index])

    def toggle(self, index: int) -> None:
        self.ticked ^= {index}
        self.replace_option_prompt_at_index(index, self._prompt(index))
        self.post_message(self.Toggled())

    # Not action_toggle: DOMNode already has one (toggling a named attribute).
    def action_tick(self) -> None:
        if self.highlighted is not None:
            self.toggle(self.highlighted)

    def action_confirm(self) -> None:
        self.post_message(self.Confirmed())

    @on(OptionList.OptionSelected)
    def _clicked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.toggle(event.option_index)


class QuestionCard(Vertical):
    """Shows one step of the interview and reports what the user chose."""

    class Answered(Message):
        """The user confirmed an answer: text to parse (typed) or a chosen value."""

        def __init__(self, key: str, value: Any, typed: bool) -> None:
            super().__init__()
            self.key = key
            self.value = value
            self.typed = typed

    class ActionChosen(Message):
        def __init__(self, key: str, action: str) -> None:
            super().__init__()
            self.key = key
            self.action = action

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.view: QuestionView | InfoView | None = None
        self._choices: list[Any] = []
        # Answers and engine results both redraw the card; one drawing at a time, or two
        # could interleave and mount two inputs (or carry one card's highlight to the next).
        self._drawing = asyncio.Lock()

    def compose(self) -> ComposeResult:
        yield Static(id="crumb")
        yield Static(id="prompt")
        yield Static(id="follow-up")
        with CardText(id="card-text"):
            yield Static(id="help")
            yield Static(id="example")
            yield Static(id="saved")
            yield Static(id="info-table")
        yield Static(id="more")
        yield Static(id="how")
        yield Vertical(id="answer-area")
        yield Static(id="hint")
        with Horizontal(id="card-buttons"):
            yield Button("Next ⏎", id="next", compact=True, variant="primary")
            yield Button("Don't know ^d", id="unknown", compact=True)
            yield Button("Skip PgDn", id="skip", compact=True)
            yield Button("Back Esc", id="back", compact=True)

    # ------------------------------------------------------------ showing

    async def show_question(self, view: QuestionView) -> None:
        async with self._drawing:
            await self._show_question(view)

    async def show_info(self, view: InfoView) -> None:
        async with self._drawing:
            await self._show_info(view)

    async def _show_question(self, view: QuestionView) -> None:
        self.view = view
        spec = view.spec
        self._text("#crumb", view.crumb)
        self._text("#prompt", view.prompt)
        self._text("#help", view.help)
        self._text("#example", f"Example: {view.example}" if view.example else "")
        if view.proposed:
            notes = [f"Proposed by the template: {view.saved}. Enter accepts it; or change it."]
        elif view.value is not None:
            notes = [f"Saved answer: {view.saved} (answer again to change it)"]
        else:
            notes = []
        source = self._source(view)
        if source:
            notes.append(f"Already answered by the import, {source}.")
        notes += view.notes
        self._text("#saved", "\n".join(notes))
        self.query_one("#saved").display = bool(notes)
        self.query_one("#info-table").display = False
        self._text("#follow-up", view.follow_up)
        self.query_one("#follow-up").display = bool(view.follow_up)
        self.query_one("#example").display = bool(view.example)
        self.query_one("#help").display = bool(view.help)
        self.query_one("#prompt").display = True
        self.query_one("#card-buttons").display = True
        self.query_one("#unknown").display = spec.allows_unknown
        self.query_one("#skip").display = True
        self.query_one("#next").display = True
        widget = self._answer_widget(view)
        await self._replace_answer(widget)
        self._text("#how", spec.how)
        self.query_one("#how").display = True
        self.set_hint("")
        self._text_home()

    async def _show_info(self, view: InfoView) -> None:
        self.view = view
        self._choices = []
        self._text("#crumb", view.crumb)
        self._text("#prompt", view.title)
        help_widget = self.query_one("#help", Static)
        help_widget.update(view.body)
        help_widget.display = True
        self._text("#example", "")
        self.query_one("#example").display = False
        self._text("#saved", "")
        self.query_one("#saved").display = False
        self._text("#follow-up", "")
        self.query_one("#follow-up").display = False
        self.query_one("#card-buttons").display = True
        for button in ("#unknown", "#skip", "#next"):
            self.query_one(button).display = False
        # A table (the review's inventory) scrolls with the text: the actions stay in view.
        table = self.query_one("#info-table", Static)
        table.update(view.table if view.table is not None else "")
        table.display = view.table is not None
        ids = [a for a, _ in view.actions]
        options = [Option(marked(label), id=action) for action, label in view.actions]
        shown = self.query("#actions")
        redrawn = bool(shown) and shown.first().name == view.key
        if redrawn:
            # The same card redrawn (its counts follow the findings): replace the options in
            # place, with no await between, so a key pressed meanwhile cannot reach a list
            # whose highlight has not been restored yet.
            actions = shown.first(MarkedList)
            current = actions.highlighted_option.id if actions.highlighted_option else None
            actions.clear_options()
            actions.add_options(options)
            keep = view.highlight if view.highlight in ids else current
            actions.highlighted = ids.index(keep) if keep in ids else (0 if ids else None)
        else:
            actions = MarkedList(
                *options,
                id="actions",
                name=view.key,  # whose actions these are: a redraw keeps only its own highlight
            )
            # Set before the list is shown: its first picture already marks the right action,
            # and a key that arrives as it appears moves from there.
            if view.highlight is not None:
                if view.highlight in ids:
                    actions.highlighted = ids.index(view.highlight)
            elif view.actions:
                actions.highlighted = 0
            await self._replace_answer(actions)
        self._text("#how", "Pick with the arrow keys and press Enter.")
        self.query_one("#how").display = True
        self.set_hint("")
        if redrawn:
            # The same card redrawn as findings change: the reader keeps their place, and
            # what they have read stays read.
            text = self.query_one("#card-text", CardText)
            self.call_after_refresh(text._tell)
        else:
            self._text_home()
        if self.screen.focused is not actions:
            self.screen.set_focus(actions)

    def _text_home(self) -> None:
        text = self.query_one("#card-text", CardText)
        text.info = not isinstance(self.view, QuestionView)
        text.reached_end = False
        text.scroll_home(animate=False)
        self.call_after_refresh(text._tell)

    def unseen(self) -> int:
        """Lines of the card's text below what is shown."""
        return self.query_one("#card-text", CardText).below()

    def seen_to_end(self) -> bool:
        """Whether the end of the card's text has been on screen since it was shown (paging
        back up to reread does not hide what was already read)."""
        text = self.query_one("#card-text", CardText)
        return text.reached_end or not text.below()

    def page_text(self, down: bool = True) -> bool:
        """Scroll the card's text a page; False when there is nothing more that way."""
        text = self.query_one("#card-text", CardText)
        if (text.below() if down else round(text.scroll_y)) <= 0:
            return False
        if down:
            text.scroll_page_down(animate=False)
        else:
            text.scroll_page_up(animate=False)
        return True

    async def _replace_answer(self, widget: Widget) -> None:
        """Put `widget` in the answer area, in place of what is there, with the focus.

        Keys are held from before the old widget goes until the new one has the focus
        (given at once: `focus()` would wait behind keys already queued), so typing sent as
        soon as the new field shows reaches it rather than the card's text.
        """
        hold = getattr(self.app, "hold_keys", None)
        token = hold() if hold is not None else None
        try:
            area = self.query_one("#answer-area")
            await area.remove_children()
            await area.mount(widget)
            self.screen.set_focus(widget)
        finally:
            release = getattr(self.app, "release_keys", None)
            if release is not None:
                await release(token)

    def _source(self, view: QuestionView) -> str:
        """Where the shown value was imported from, in plain words ("" if it was not)."""
        # The card is drawn inside the interview app, whose session holds the file's
        # `sources`; the step key says which loop or resource and which question.
        session = getattr(self.app, "session", None)
        step = Step.from_key(view.key)
        if not isinstance(session, Session) or step is None:
            return ""
        return flow.source(session, step)

    def _text(self, selector: str, text: str) -> None:
        # Plain Text: what the knowledge base and the user wrote is never read as markup.
        self.query_one(selector, Static).update(Text(text))

    def _answer_widget(self, view: QuestionView) -> Widget:
        spec = view.spec
        if spec.kind == "single":
            options = [Option(marked(c.label), id=f"c{i}") for i, c in enumerate(spec.choices)]
            self._choices = [c.value for c in spec.choices]
            if spec.allows_unknown:
                options.append(Option(marked(UNKNOWN_LABEL), id="unknown"))
            if spec.allows_not_applicable:
                options.append(Option(marked(NOT_APPLICABLE_LABEL), id="not-applicable"))
            widget = ChoiceList(*options, id="answer")
            current = view.value
            ids = [o.id for o in options]
            if current == UNKNOWN and spec.allows_unknown:
                widget.highlighted = ids.index("unknown")
            elif current == NOT_APPLICABLE and spec.allows_not_applicable:
                widget.highlighted = ids.index("not-applicable")
            else:
                found = [i for i, c in enumerate(spec.choices) if str(c.value) == str(current)]
                widget.highlighted = found[0] if found else 0
            return widget
        if spec.kind == "multi":
            ticked = {str(v) for v in view.value} if isinstance(view.value, list) else set()
            self._choices = [c.value for c in spec.choices]
            return MultiChoice(
                [c.label for c in spec.choices],
                {i for i, c in enumerate(spec.choices) if str(c.value) in ticked},
                id="answer",
            )
        self._choices = []
        text = view.pending if view.pending is not None else as_text(spec, view.value)
        placeholder = f"e.g. {view.example}" if view.example else ""
        return TypedInput(value=text, placeholder=placeholder, id="answer", select_on_focus=False)

    # ------------------------------------------------------------ feedback

    def set_hint(self, text: str, error: bool = False) -> None:
        hint = self.query_one("#hint", Static)
        hint.update(Text(("✗ " if error else "") + text))
        hint.set_class(error, "error")
        hint.set_class(not text, "-empty")

    def show_error(self, message: str) -> None:
        self.set_hint(message, error=True)

    def set_crumb(self, text: str) -> None:
        self._text("#crumb", text)

    def set_follow_up(self, text: str) -> None:
        widget = self.query_one("#follow-up", Static)
        widget.update(Text(text))
        widget.display = bool(text)

    def current_answer(self) -> tuple[Any, bool] | None:
        """What Next would confirm: (value, typed) or None when nothing can be confirmed."""
        view = self.view
        if not isinstance(view, QuestionView):
            return None
        widget = self.query_one("#answer")
        if isinstance(widget, Input):
            return widget.value, True
        if isinstance(widget, MultiChoice):
            return [self._choices[i] for i in sorted(widget.ticked)], False
        if isinstance(widget, ChoiceList):
            option = widget.highlighted_option
            if option is None:
                self.show_error(NOTHING_PICKED)
                return None
            return self._option_value(option), False
        return None

    def _option_value(self, option: Option) -> Any:
        if option.id == "unknown":
            return UNKNOWN
        if option.id == "not-applicable":
            return NOT_APPLICABLE
        return self._choices[int((option.id or "c0")[1:])]

    # ------------------------------------------------------------ events

    def _answer(self, value: Any, typed: bool) -> None:
        if self.view is not None:
            self.post_message(self.Answered(self.view.key, value, typed))

    @on(Input.Submitted, "#answer")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._answer(event.value, typed=True)

    @on(Input.Changed, "#answer")
    def _typed(self, event: Input.Changed) -> None:
        view = self.view
        if isinstance(view, QuestionView) and view.spec.kind == "duration":
            reading = duration_reading(event.value)
            self.set_hint(reading, error=bool(reading) and not reading.startswith("reads as"))

    @on(OptionList.OptionSelected, "#answer")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._answer(self._option_value(event.option), typed=False)

    @on(OptionList.OptionHighlighted, "#answer")
    def _choice_help(self, event: OptionList.OptionHighlighted) -> None:
        view = self.view
        if isinstance(view, QuestionView) and event.option.id == "not-applicable":
            self.set_hint(
                "Does not apply: this loop has no such thing, so no finding rests on it and "
                "the question is not asked again."
            )
            return
        if not isinstance(view, QuestionView) or event.option.id == "unknown":
            if isinstance(view, QuestionView):
                self.set_hint(
                    "Don't know is a valid answer: findings that need it become possible "
                    "(where not knowing is itself a gap, such as an owner, it is recorded)."
                )
            return
        index = int((event.option.id or "c0")[1:])
        choice = view.spec.choices[index] if index < len(view.spec.choices) else None
        self.set_hint(choice.help if choice else "")

    @on(ChoiceList.NothingPicked)
    async def _nothing_picked(self, event: ChoiceList.NothingPicked) -> None:
        event.stop()
        self.show_error(NOTHING_PICKED)
        handled = getattr(self.app, "answer_handled", None)
        if handled is not None:  # no answer follows this Enter: the keys after it go here
            await handled()

    @on(MultiChoice.Confirmed)
    def _ticked(self, event: MultiChoice.Confirmed) -> None:
        event.stop()
        answer = self.current_answer()
        if answer is not None:
            self._answer(answer[0], typed=False)

    @on(OptionList.OptionSelected, "#actions")
    def _action(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id and self.view is not None:
            self.post_message(self.ActionChosen(self.view.key, event.option.id))
