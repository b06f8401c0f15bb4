"""Drive the interview by keyboard alone, as a user reading the screen would.

The driver looks at what the screen shows (the step, the kind of input, the options) and
presses the keys a person would press: arrows, Space, Enter, ctrl+d, Page Down. It never
calls the app's methods to answer, so a test that passes here passes for a person too.
Answers are given per field (`objective`, `retry.max_retries`, `answers.<id>`), so
questions the knowledge base adds later are skipped with Page Down, as a user might.
"""

from __future__ import annotations

import atexit
import functools
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual.dom import DOMNode
from textual.pilot import Pilot
from textual.widgets import Input, OptionList

from expert.analysis.assess import Assessor
from expert.analysis.results import Results
from expert.assessment.model import UNKNOWN, Assessment
from expert.knowledge import knowledgebase as knowledge
from expert.knowledge.knowledgebase import KnowledgeBase
from interview.app import InterviewApp
from interview.questions import spec_for
from interview.screens.interview import InterviewScreen
from interview.session import Session

MAX_STEPS = 600


@functools.cache
def builtin_kb() -> KnowledgeBase:
    """The built-in knowledge base, loaded once per test process: nothing changes it."""
    return knowledge.load([])


class _Lent:
    """The test process's warm Assessor, lent to one app: the app closes its assessor when it
    exits, which for a lent one returns it. Runs are one at a time, as two apps of one test
    may assess at once and the engine's pipes carry one run at a time."""

    lock = threading.Lock()

    def __init__(self, assessor: Assessor) -> None:
        self._assessor = assessor

    def assess(self, assessment: Assessment, deliverables: bool = True) -> Results:
        with self.lock:
            return self._assessor.assess(assessment, deliverables=deliverables)

    def close(self) -> None:
        pass


@functools.cache
def _warm_assessor() -> Assessor:
    """One Assessor on the built-in knowledge base per test process, its engine processes
    kept warm across tests: a new one per app costs a compile and two engine processes,
    about half a second of CPU each time."""
    assessor = Assessor(builtin_kb())
    atexit.register(assessor.close)
    return assessor


def _lent(kb: KnowledgeBase) -> _Lent:
    assert kb is builtin_kb()
    return _Lent(_warm_assessor())


def make_app(path: Path, kb_dirs: list[Path] | None = None, **kwargs: Any) -> InterviewApp:
    """The interview on `path`. Its assessment runs in a thread of this process, on an
    assessor shared by the tests of this process (a pack gets its own), unless the test
    passes `assessor_factory`: the app's own child process (ProcessAssessor) costs a fresh
    interpreter per app, and the tests that run the app as a user starts it, or walk a
    whole interview (test_walkthrough), exercise that process."""
    kb = knowledge.load(kb_dirs) if kb_dirs else builtin_kb()
    kwargs.setdefault("assessor_factory", Assessor if kb_dirs else _lent)
    return InterviewApp(Session.open(path, kb), **kwargs)


# The pilot's pauses `settle` allows the app to come to rest in: one usually suffices and
# a card change takes a few. Counted in pauses, not seconds, so a slow machine waits longer.
SETTLE_ROUNDS = 500


def _name(node: DOMNode) -> str:
    return type(node).__name__ + (f"#{node.id}" if node.id else "")


def _unfinished(app: InterviewApp) -> list[str]:
    """What the app has still to do that could deliver a key or move the card on: an engine
    run, held keys, a worker, and, for the app and every node of its screens, messages
    queued, one taken ahead of the queue, one being handled, or callbacks to run after it or
    after the screen's refresh. Textual has public names for the queue and the workers
    only; the rest is read from its message pump (and an idle pump is the one waiting in
    its queue's get)."""
    pending = []
    if app.engine_busy:
        pending.append("the engine is running")
    if app.holding_keys:
        pending.append("typed keys are held for the next card")
    pending += [f"worker {w.name!r} is {w.state.name}" for w in app.workers if not w.is_finished]
    nodes: list[DOMNode] = [app]
    for screen in app.screen_stack:
        nodes += screen.walk_children(with_self=True)
        if screen._callbacks:
            pending.append(f"{_name(screen)} has {len(screen._callbacks)} after-refresh callbacks")
    for node in nodes:
        name = _name(node)
        if node.message_queue_size:
            pending.append(f"{name} has {node.message_queue_size} messages queued")
        if node._pending_message is not None:
            pending.append(f"{name} took {node._pending_message!r} ahead of its queue")
        if node._task is not None and not node._message_queue.ready_event._waiters:
            pending.append(f"{name} is handling a message")
        if node._next_callbacks:
            pending.append(f"{name} has {len(node._next_callbacks)} callbacks to run next")
    return pending


async def settle(pilot: Pilot) -> None:
    """Wait until the app has handled every key sent and the engine has caught up with the
    last answer: nothing queued, held or being handled anywhere in the app. Keys typed ahead
    wait while a card changes, and on a loaded machine the app can look idle to the pilot
    (little CPU used) with a key still queued: a test that stopped waiting then failed, or
    closed the app with the key still to come."""
    app: InterviewApp = pilot.app  # type: ignore[assignment]
    pending: list[str] = []
    for _ in range(SETTLE_ROUNDS):
        await app.workers.wait_for_complete()
        await pilot.pause()
        pending = _unfinished(app)
        if not pending:
            return
    raise AssertionError(
        f"the app did not come to rest in {SETTLE_ROUNDS} pauses; still pending: "
        + "; ".join(pending)
    )


@dataclass
class LoopPlan:
    id: str
    name: str
    answers: dict[str, Any]
    template: str | None = None


@dataclass
class Plan:
    system: dict[str, Any]
    loops: list[LoopPlan]
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    economics: dict[str, Any] = field(default_factory=dict)


class Keyboard:
    def __init__(self, pilot: Pilot) -> None:
        self.pilot = pilot
        self.app: InterviewApp = pilot.app  # type: ignore[assignment]
        self.keys = 0  # keys pressed so far
        self.questions = 0  # question screens met by `run` (answered or skipped)

    @property
    def interview(self) -> InterviewScreen:
        return self.app.interview

    async def press(self, *keys: str) -> None:
        self.keys += len(keys)
        await self.pilot.press(*keys)

    async def highlight(self, widget: OptionList, index: int) -> None:
        while widget.highlighted != index:
            current = widget.highlighted if widget.highlighted is not None else -1
            await self.press("down" if current < index else "up")

    async def choose_action(self, *choices: str) -> None:
        """Pick the first of `choices` offered on a decision card (welcome, loops ...)."""
        actions = self.app.screen.query_one("#actions", OptionList)
        ids = [actions.get_option_at_index(i).id for i in range(actions.option_count)]
        matches = [
            i
            for action in choices
            for i, option_id in enumerate(ids)
            if option_id and option_id.startswith(action)
        ]
        assert matches, f"none of {choices} on this card; it offers {ids}"
        await self.highlight(actions, matches[0])
        await self.press("enter")

    async def type_into(self, text: str) -> None:
        await self.press("end", "ctrl+u", *text)

    async def answer(self, value: Any) -> None:
        """Answer the question on screen the way a user would."""
        step = self.interview.current
        session = self.app.session
        q = session.kb.questions[step.question]
        spec = spec_for(q, session.kb, session.assessment, step.target)
        if value == UNKNOWN:
            await self.press("ctrl+d")
            return
        widget = self.app.screen.query_one("#answer")
        if isinstance(widget, Input):
            text = ", ".join(value) if isinstance(value, list) else str(value)
            await self.type_into(text)
            await self.press("enter")
        elif spec.kind == "single":
            index = [str(c.value) for c in spec.choices].index(str(value))
            await self.highlight(widget, index)  # type: ignore[arg-type]
            await self.press("enter")
        else:
            values = [str(c.value) for c in spec.choices]
            for item in value:
                await self.highlight(widget, values.index(str(item)))  # type: ignore[arg-type]
                await self.press("space")
            await self.press("enter")
            if not value:
                await self.press("enter")  # confirm "none of these"

    async def add_loop(self, loop: LoopPlan) -> None:
        """In the add-loop dialog: pick the template (or scratch), name, id, Enter."""
        templates = self.app.screen.query_one("#templates", OptionList)
        ids = [templates.get_option_at_index(i).id for i in range(templates.option_count)]
        await self.highlight(templates, ids.index(loop.template or "scratch"))
        await self.press("enter")
        await self.type_into(loop.name)
        await self.press("enter")
        if self.app.screen.query_one("#loop-id", Input).value != loop.id:
            await self.type_into(loop.id)
        await self.press("enter")
        await settle(self.pilot)

    def _field(self, question_id: str) -> str:
        q = self.app.session.kb.questions[question_id]
        return q.field or f"answers.{q.id}"

    async def run(self, plan: Plan) -> None:
        """Walk the interview from wherever it is to the review, following the plan."""
        added = (
            {lp.id for lp in self.app.session.assessment.loops}
            if self.app.session.assessment
            else set()
        )
        pending = [lp for lp in plan.loops if lp.id not in added]
        by_id = {lp.id: lp for lp in plan.loops}
        for _ in range(MAX_STEPS):
            step = self.interview.current
            if step.kind == "review":
                return
            if step.kind == "welcome":
                await self.choose_action("next")
            elif step.kind in ("loops", "loop-done"):
                if pending:
                    await self.choose_action("add-loop")
                    await self.add_loop(pending.pop(0))
                elif step.kind == "loop-done" and step.target != plan.loops[-1].id:
                    await self.choose_action("goto:loop:")
                else:
                    await self.choose_action("goto:resources", "goto:economics")
            elif step.kind == "template":
                await self.choose_action("accept", "next")
            elif step.kind == "resources":
                await self.choose_action("next" if plan.resources else "goto:economics")
            elif step.kind == "economics":
                await self.choose_action("next" if plan.economics else "goto:review")
            else:
                self.questions += 1
                name = self._field(step.question)
                if step.scope == "system":
                    wanted = plan.system
                elif step.scope == "loop":
                    wanted = by_id[step.target].answers if step.target in by_id else {}
                    if name == "name":
                        wanted = {"name": by_id[step.target].name}
                elif step.scope == "resource":
                    wanted = plan.resources.get(step.target, {})
                else:
                    wanted = plan.economics
                if name in wanted:
                    await self.answer(wanted[name])
                else:
                    await self.press("pagedown")
            await settle(self.pilot)
        raise AssertionError(f"the interview did not reach the review in {MAX_STEPS} steps")
