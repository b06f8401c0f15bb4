"""The outline on the left: every section, loop and question, with what is answered.

Selecting an entry jumps there, so anything already answered can be edited. With a loop
selected, keys add, duplicate, rename or delete loops.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from expert.assessment.model import UNKNOWN
from interview import flow
from interview.flow import Step
from interview.session import Session

ANSWERED, UNKNOWN_MARK, OPEN, PROPOSED = "✓", "?", "·", "◦"


def short_label(session: Session, question_id: str) -> str:
    """A compact name for a question: its field ('retry max retries') or its id."""
    q = session.kb.questions.get(question_id)
    if q is None:
        return question_id
    name = q.field or q.id
    return name.replace(".", ": ").replace("_", " ").replace("-", " ")


def mark(value: object) -> str:
    if value is None:
        return OPEN
    return UNKNOWN_MARK if value == UNKNOWN else ANSWERED


class Outline(Tree[str]):
    """Sections, loops and questions; node data is the key of the step it opens."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add_loop", "Add loop"),
        Binding("c", "duplicate_loop", "Duplicate"),
        Binding("r", "rename_loop", "Rename"),
        Binding("delete,x", "delete_loop", "Delete"),
    ]

    class Jump(Message):
        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    class LoopCommand(Message):
        """add / duplicate / rename / delete, for a loop (empty for add)."""

        def __init__(self, command: str, loop_id: str) -> None:
            super().__init__()
            self.command = command
            self.loop_id = loop_id

    def __init__(self, **kwargs: object) -> None:
        super().__init__("Assessment", **kwargs)  # type: ignore[arg-type]
        self.show_root = False
        self.guide_depth = 2
        self._shape: tuple[object, ...] = ()
        # The entry show_step() is about to put the cursor on (it waits for the tree's lines).
        self._showing: str | None = None

    def rebuild(self, session: Session, steps: list[Step], current: Step) -> None:
        """Redraw from the steps, expanding where the user is; keep the cursor's entry.

        When only labels changed (an answer was given) they are updated in place, which
        keeps the tree's scroll position and is much cheaper than rebuilding it.
        """
        shape = (
            tuple(s.key for s in steps),
            current.scope,
            current.target if current.scope == "loop" else "",
            tuple(lp.id for lp in session.assessment.loops) if session.assessment else (),
        )
        if shape == self._shape:
            self._relabel(session, steps)
            if not self.has_focus:
                self.show_step(current.key)
            return
        self._shape = shape
        previous = self.cursor_node.data if self.cursor_node is not None else None
        self.clear()
        root = self.root
        loops = session.assessment.loops if session.assessment else []

        def leaf(parent: TreeNode[str], step: Step) -> None:
            parent.add_leaf(self._leaf_label(session, step), data=step.key)

        answered, total = flow.progress(session, steps, "system")
        system = root.add(
            Text(f"Platform {answered}/{total}"),
            data=flow.WELCOME.key,
            expand=current.scope == "system" or current.kind == "welcome",
        )
        for step in steps:
            if step.kind == "question" and step.scope == "system":
                leaf(system, step)
        loops_node = root.add(Text(f"Control loops ({len(loops)})"), data=flow.LOOPS.key)
        loops_node.expand()
        each = flow.progress_of_each(session, steps, "loop")
        for loop in loops:
            answered, total = each.get(loop.id, (0, 0))
            node = loops_node.add(
                Text(f"{session.loop_name(loop.id)} {answered}/{total}"),
                data=f"loop:{loop.id}",
                expand=current.target == loop.id and current.scope == "loop",
            )
            mine = [s for s in steps if s.kind == "question" and s.scope == "loop"]
            mine = [s for s in mine if s.target == loop.id]
            for step in flow.in_question_order(session, mine):
                leaf(node, step)
        loops_node.add_leaf(Text("+ Add a control loop"), data="add-loop")
        resource_steps = [s for s in steps if s.scope == "resource"]
        if resource_steps:
            res_node = root.add(
                Text("Resources"), data=flow.RESOURCES.key, expand=current.scope == "resource"
            )
            for step in flow.in_question_order(session, resource_steps):
                leaf(res_node, step)
        answered, total = flow.progress(session, steps, "economics")
        econ = root.add(
            Text(f"Economic figures {answered}/{total}"),
            data=flow.ECONOMICS.key,
            expand=current.scope == "economics",
        )
        for step in steps:
            if step.kind == "question" and step.scope == "economics":
                leaf(econ, step)
        root.add_leaf(Text("Review and results"), data=flow.REVIEW.key)
        self.show_step(previous if self.has_focus and previous else current.key)

    def _relabel(self, session: Session, steps: list[Step]) -> None:
        labels = self._labels(session, steps)

        def walk(node: TreeNode[str]) -> None:
            for child in node.children:
                label = labels.get(child.data or "")
                if label is not None and label.plain != str(child.label):
                    child.set_label(label)
                walk(child)

        walk(self.root)

    def _labels(self, session: Session, steps: list[Step]) -> dict[str, Text]:
        """Labels of the entries whose text depends on the answers."""
        out: dict[str, Text] = {}
        for step in steps:
            if step.kind == "question":
                out[step.key] = self._leaf_label(session, step)
        answered, total = flow.progress(session, steps, "system")
        out[flow.WELCOME.key] = Text(f"Platform {answered}/{total}")
        answered, total = flow.progress(session, steps, "economics")
        out[flow.ECONOMICS.key] = Text(f"Economic figures {answered}/{total}")
        each = flow.progress_of_each(session, steps, "loop")
        for loop in session.assessment.loops if session.assessment else []:
            answered, total = each.get(loop.id, (0, 0))
            out[f"loop:{loop.id}"] = Text(f"{session.loop_name(loop.id)} {answered}/{total}")
        return out

    def _leaf_label(self, session: Session, step: Step) -> Text:
        q = session.kb.questions.get(step.question)
        value = session.value(q, step.target) if q else None
        sign = mark(value)
        if value is None and step.question in self._proposed(step):
            sign = PROPOSED  # a template's value, not an answer until confirmed
        if step.scope == "resource":
            label = Text(f"{sign} {step.target}: {short_label(session, step.question)}")
        else:
            label = Text(f"{sign} {short_label(session, step.question)}")
        if step.follow_up:
            label.append(" (follow-up)", style="italic")
        cited = flow.source(session, step, short=True)
        if cited:  # the full path and any default are on the question's card
            label.append(f" {cited}", style="dim")
        return label

    def _proposed(self, step: Step) -> dict[str, object]:
        """The values a template proposed for the step's loop, not confirmed yet."""
        position = getattr(self.app, "position", None)
        if step.scope != "loop" or position is None:
            return {}
        return position.proposed.get(step.target, {})

    def show_step(self, key: str) -> None:
        """Put the cursor on the entry of a step (once the tree has laid out its lines)."""
        # Kept only while the move is still to come: if it cannot be scheduled (the outline is
        # closing), a later command must not act on an entry the cursor never reached.
        scheduled = self.call_after_refresh(self._restore_cursor, key)
        self._showing = key if scheduled else None

    def _restore_cursor(self, key: str | None) -> None:
        if self._showing == key:
            self._showing = None
        node = self._entry(key) if key else None
        if node is not None:
            self.move_cursor(node, animate=False)

    def _entry(self, key: str) -> TreeNode[str] | None:
        def walk(node: TreeNode[str]) -> TreeNode[str] | None:
            for child in node.children:
                if child.data == key:
                    return child
                found = walk(child)
                if found is not None:
                    return found
            return None

        return walk(self.root)

    def _loop_of_cursor(self) -> str:
        # A key typed straight after the outline opens can come before the cursor reaches the
        # entry it opens on: it acts on that entry, as the user sees it a moment later.
        node = (self._entry(self._showing) if self._showing else None) or self.cursor_node
        while node is not None:
            data = node.data or ""
            if data.startswith("loop:"):
                return data[len("loop:") :]
            node = node.parent
        return ""

    @on(Tree.NodeSelected)
    def _selected(self, event: Tree.NodeSelected[str]) -> None:
        event.stop()
        data = event.node.data or ""
        if data == "add-loop":
            self.post_message(self.LoopCommand("add", ""))
        elif data:
            self.post_message(self.Jump(data))

    def action_add_loop(self) -> None:
        self.post_message(self.LoopCommand("add", ""))

    def _loop_command(self, command: str) -> None:
        loop_id = self._loop_of_cursor()
        if loop_id:
            self.post_message(self.LoopCommand(command, loop_id))
        else:
            self.notify("Move to a loop first (under Control loops).", severity="warning")

    def action_duplicate_loop(self) -> None:
        self._loop_command("duplicate")

    def action_rename_loop(self) -> None:
        self._loop_command("rename")

    def action_delete_loop(self) -> None:
        self._loop_command("delete")
