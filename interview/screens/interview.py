"""The interview: outline on the left, one question at a time, live findings beside it.

Confirming an answer validates it, saves the file, starts an engine re-run in the
background and moves on; an answer that cannot be stored is explained under the input and
nothing changes. Going back, skipping and jumping never discard what was typed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Button, Footer, Header, Input

from expert.analysis.plainwords import plain
from expert.analysis.ranking import waits_on_answers
from expert.analysis.results import Finding
from expert.assessment.model import UNKNOWN
from expert.errors import InputError
from expert.knowledge.patterns import QUESTION_SECTIONS
from expert.knowledge.templates import LoopTemplate
from interview import flow
from interview.flow import Step
from interview.questions import (
    AnswerError,
    AnswerSpec,
    as_text,
    close_to_known,
    describe,
    parse_typed,
    spec_for,
)
from interview.screens.confirm import ConfirmDialog
from interview.screens.dispute import OWN, DisputeDialog, who_said
from interview.screens.loop_dialog import LoopDialog
from interview.session import SECTIONS_OF, Session, disputed_field
from interview.widgets.live_panel import LivePanel, counts_line
from interview.widgets.outline import Outline
from interview.widgets.question_card import InfoView, QuestionCard, QuestionView

if TYPE_CHECKING:
    from interview.app import InterviewApp

TYPING_SAVE_DELAY_S = 0.4  # after the last keystroke, unconfirmed typing is saved

# The five dimensions every loop is described by (the method's core).
DIMENSIONS = {
    "objective": "objective",
    "target": "optimisation target",
    "timescale": "reaction timescale",
    "triggers": "trigger conditions",
    "actuations": "actuation mechanism",
}


def _rank(kb: Any) -> Any:
    """Sort key for question ids: the order the knowledge base asks them in."""
    order = {q.id: i for i, q in enumerate(flow.ordered(kb, "loop"))}
    return lambda qid: order.get(qid, len(order))


def problems_text(exc: InputError) -> str:
    return " ".join(
        p.message[:1].upper() + p.message[1:] + (f" ({p.fix})" if p.fix else "") + "."
        for p in exc.problems
    )


def follow_up_text(findings: list[Finding]) -> str:
    """What answering a question does to the findings that asked for it. A gap waiting on
    it is recorded by a don't know; a confirmed gap (someone said nobody knows) an answer
    can clear; a possible finding an answer settles."""
    waiting = list(dict.fromkeys(f.title for f in findings if waits_on_answers(f)))
    possible = list(
        dict.fromkeys(
            f.title for f in findings if f.status == "possible" and not waits_on_answers(f)
        )
    )
    confirmed = list(dict.fromkeys(f.title for f in findings if f.status == "confirmed"))
    parts = []
    if waiting:  # a gap is recorded only once someone says nobody knows
        noun = "gap" if len(waiting) == 1 else "gaps"
        parts.append(f"don't know here records the {noun} “{'; '.join(waiting)}”")
    if possible:
        noun = "finding" if len(possible) == 1 else "findings"
        parts.append(f"settles the possible {noun} “{'; '.join(possible)}”")
    if confirmed:
        noun = "finding" if len(confirmed) == 1 else "findings"
        parts.append(
            f"an answer other than don't know can clear the {noun} “{'; '.join(confirmed)}”"
        )
    return "Follow-up: " + "; ".join(parts) if parts else ""


class InterviewScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+d", "dont_know", "Don't know", priority=True),
        # Back and Skip are on the card's buttons, which name their keys; the footer keeps
        # room for the rest at 80 columns.
        Binding("escape", "back", "Back", show=False),
        Binding("pagedown", "skip", "Skip", priority=True, show=False),
        # On a card without a question (a template's proposals, a summary) Page Up and Down
        # scroll its text; Page Down skips the card once its end is shown.
        Binding("pageup", "page_up", show=False, priority=True),
        Binding("ctrl+f", "finish_loop", "Finish loop"),
        # Shown only on a question respondents disagree about (a merged file).
        Binding("ctrl+t", "settle", "Settle disagreement"),
        Binding("ctrl+r", "app.results", "Results"),
        # Changing an answer is done through the outline: the footer says so.
        Binding("ctrl+o", "outline", "Edit answers"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.current: Step = flow.WELCOME
        self.steps: list[Step] = []
        self._fresh_loop = ""  # a loop just added: its template notes are shown once
        self._empty_confirm = ""  # a multi-choice confirmed with nothing ticked, once
        # While the user walks the open follow-ups ("Answer the open follow-up questions"):
        # the ones shown so far, so going on leads to the next one open, never back.
        self._follow_up_walk: set[str] | None = None
        self._new_id_confirm: tuple[str, Any] | None = None  # an id like a known one, once
        self._typing_timer: Timer | None = None

    @property
    def interview_app(self) -> InterviewApp:
        return self.app  # type: ignore[return-value]

    @property
    def session(self) -> Session:
        return self.interview_app.session

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="body"):
            yield Outline(id="outline")
            with Container(id="work"):
                yield QuestionCard(id="card")
                yield LivePanel(id="live")
        yield Footer(compact=True)

    async def on_mount(self) -> None:
        self.steps = self._build()
        await self.show(self._resume_step())
        self.refresh_live()
        self.interview_app.request_assessment()

    # ------------------------------------------------------------ steps

    def _build(self) -> list[Step]:
        results = self.interview_app.results
        return flow.build(
            self.session, results.open_questions if results else [], self._proposals()
        )

    def _proposals(self) -> dict[str, flow.Proposal]:
        """Per loop started from a template: what it proposed, and what is unconfirmed."""
        out = {}
        for loop_id in self.interview_app.position.templates:
            found = self._proposal(loop_id)
            if found is not None:
                out[loop_id] = found
        return out

    def _proposal(self, loop_id: str) -> flow.Proposal | None:
        position = self.interview_app.position
        template_id = position.templates.get(loop_id)
        if template_id is None:
            return None
        return flow.proposal(self.session, template_id, position.proposed.get(loop_id, {}))

    def _unconfirmed(self, loop_id: str) -> dict[str, Any]:
        return self.interview_app.position.proposed.get(loop_id, {})

    def _resume_step(self) -> Step:
        key = self.interview_app.position.step
        step = Step.from_key(key) if key else None
        if step is not None and self._valid(step):
            return step
        a = self.session.assessment
        if a is None:
            return flow.WELCOME
        if a.loops:
            return flow.REVIEW
        return flow.first_unanswered(self.session, self.steps) or flow.LOOPS

    def _valid(self, step: Step) -> bool:
        """Whether a step can be shown (its loop and question still exist)."""
        if flow.index_of(self.steps, step.key) is not None:
            return True
        a = self.session.assessment
        if step.kind == "question" and step.question in self.session.kb.questions:
            return step.scope == "loop" and a is not None and a.loop(step.target) is not None
        return False

    def _neighbour(self, step: Step, delta: int) -> Step | None:
        steps = self.steps
        i = flow.index_of(steps, step.key)
        if i is None and step.scope == "loop":
            # A follow-up no longer open: move relative to its loop's closing step.
            done = flow.index_of(steps, Step("loop-done", "loop", step.target).key)
            if done is not None:
                return steps[done] if delta > 0 else steps[max(done - 1, 0)]
        if i is None:
            return flow.REVIEW if delta > 0 else flow.LOOPS
        j = i + delta
        return steps[j] if 0 <= j < len(steps) else None

    def loop_first_step(self, loop_id: str, skip_name: bool = False) -> Step:
        card = Step("template", "loop", loop_id)
        if flow.index_of(self.steps, card.key) is not None:
            return card
        for step in self.steps:
            if step.kind == "question" and step.scope == "loop" and step.target == loop_id:
                q = self.session.kb.questions.get(step.question)
                if skip_name and q is not None and q.field == "name":
                    continue
                return step
        return Step("loop-done", "loop", loop_id)

    # ------------------------------------------------------------ showing

    async def show(self, step: Step) -> None:
        self.current = step
        self.refresh_bindings()  # "Finish loop" depends on where the user is
        self._empty_confirm = ""
        self._new_id_confirm = None
        card = self.query_one(QuestionCard)
        if step.kind == "question":
            await card.show_question(self._question_view(step))
        else:
            await card.show_info(self._info_view(step))
        self._refresh_outline()
        # Recorded once the step is on screen and its input has the focus.
        self.interview_app.position.step = step.key
        self.interview_app.save_position()

    async def go(self, delta: int) -> None:
        if self._follow_up_walk is not None:
            if delta > 0:
                await self.next_follow_up(walking=True)
                return
            self._follow_up_walk = None  # going back leaves the walk for the ordinary one
        before = self._neighbour(self.current, delta)
        self.steps = self._build()
        here = flow.index_of(self.steps, self.current.key)
        there = flow.index_of(self.steps, before.key) if before is not None else None
        # The step just left moved out of the walk, or to another place in it (a template's
        # value, once confirmed, joins the loop's answered questions further on): go on from
        # where it was, to the step that came next before the answer.
        moved = here is None or (there is not None and (there - here) * delta < 0)
        if moved and before is not None:
            target: Step | None = before
            if there is None:
                target = self._neighbour(before, delta)
        else:
            target = self._neighbour(self.current, delta)
        if delta > 0 and here is not None and not moved:
            target = self._on_demand_onward(here) or target
        elif delta > 0 and target is not None and self._answered_on_demand(target):
            # The walk went on from where the answer was, onto an answer already given in
            # a loop's on-demand part: on to the next one still open there instead.
            at = flow.index_of(self.steps, target.key)
            target = (self._on_demand_onward(at) if at is not None else None) or target
        if target is not None:
            await self.show(target)

    def _answered_on_demand(self, step: Step) -> bool:
        """A question of a loop's on-demand part (after its closing card) already answered."""
        if step.kind != "question" or step.scope != "loop":
            return False
        at = flow.index_of(self.steps, step.key)
        done = flow.index_of(self.steps, Step("loop-done", "loop", step.target).key)
        if at is None or done is None or at < done:
            return False
        return self.session.value(self.session.kb.questions[step.question], step.target) is not None

    def _on_demand_onward(self, here: int) -> Step | None:
        """Going on from a loop's on-demand part (after its closing card: details asked on
        demand, mixed with the answers already given there, in question order): the next
        of them still open, else back to the loop's closing card. Walking on through the
        list went back over answered questions (17/18, then 14/18)."""
        step = self.steps[here]
        if step.scope != "loop":
            return None
        if step.kind == "loop-done":
            # The closing card goes on past its loop's on-demand part, to what follows.
            after = here + 1
            while after < len(self.steps) and self.steps[after].target == step.target:
                after += 1
            return self.steps[after] if after < len(self.steps) else None
        if step.kind != "question":
            return None
        done = flow.index_of(self.steps, Step("loop-done", "loop", step.target).key)
        if done is None or here < done:
            return None
        kb = self.session.kb
        for s in self.steps[here + 1 :]:
            if s.scope != "loop" or s.target != step.target:
                break
            q = kb.questions[s.question]
            if s.kind == "question" and self.session.value(q, s.target) is None:
                return s
        return self.steps[done]

    async def jump(self, key: str, *, walking: bool = False) -> None:
        if not walking:
            self._follow_up_walk = None  # any other jump (outline, results) ends the walk
        self.steps = self._build()
        if key.startswith("loop:"):
            step: Step | None = self.loop_first_step(key[len("loop:") :])
        elif key == "first-unanswered":
            step = flow.first_unanswered(self.session, self.steps) or flow.REVIEW
        elif key.startswith("first:"):
            scope = key[len("first:") :]
            step = next((s for s in self.steps if s.scope == scope), flow.WELCOME)
        else:
            step = Step.from_key(key)
        if step is None:
            return
        if step.kind == "question" and not self._valid(step):
            self.notify("That question no longer applies.", severity="warning")
            return
        await self.show(step)

    def _refresh_outline(self) -> None:
        self.query_one(Outline).rebuild(self.session, self.steps, self.current)

    def refresh_live(self) -> None:
        app = self.interview_app
        self.query_one(LivePanel).show(self.session, app.results, app.engine_error, app.engine_busy)

    async def results_changed(self) -> None:
        """The engine has re-run: update findings, follow-ups and the outline."""
        self.refresh_live()
        self.steps = self._build()
        self._refresh_outline()
        card = self.query_one(QuestionCard)
        if self.current.kind == "question":
            card.set_follow_up(self._follow_up_text(self.current))
            card.set_crumb(self._crumb(self.current))
        elif self.current.kind in ("review", "loop-done") and card.has_focus_within:
            # Their counts follow the findings; redrawn only while the user is on the card.
            await card.show_info(self._info_view(self.current, keep_highlight=True))

    # ------------------------------------------------------------ views

    def _spec(self, step: Step) -> AnswerSpec:
        q = self.session.kb.questions[step.question]
        return spec_for(q, self.session.kb, self.session.assessment, step.target)

    def _follow_up_text(self, step: Step) -> str:
        results = self.interview_app.results
        if results is None:
            return ""
        found = results.by_id()
        for oq in results.open_questions:
            if oq.id == step.question and (oq.scope, oq.target) == (step.scope, step.target):
                return follow_up_text([found[s] for s in oq.settles if s in found])
        return ""

    def _crumb(self, step: Step) -> str:
        q = self.session.kb.questions[step.question]
        same = [
            s
            for s in self.steps
            if s.kind == "question" and s.scope == step.scope and s.target == step.target
        ]
        keys = [s.key for s in same]
        if step.key not in keys:
            count = "follow-up"
        else:
            at = keys.index(step.key)
            # A template's value, once confirmed, moves to the loop's answered questions
            # further on: it still counts as done, so the position moves on as they are
            # confirmed one by one.
            proposal = self._proposal(step.target) if step.scope == "loop" else None
            kb = self.session.kb

            def confirmed(qid: str) -> bool:
                return (
                    proposal is not None
                    and qid in proposal.questions
                    and qid not in proposal.unconfirmed
                    and self.session.value(kb.questions[qid], step.target) is not None
                )

            # (A confirmed value reopened from the outline is simply where it stands.)
            done = (
                0
                if confirmed(step.question)
                else sum(confirmed(s.question) for s in same[at + 1 :])
            )
            count = f"{min(done + at + 1, len(same))}/{len(same)}"
        section = QUESTION_SECTIONS[q.section]
        if step.scope == "system":
            return f"The platform · {count}"
        if step.scope == "economics":
            return f"Economic figures (optional) · {count}"
        if step.scope == "resource":
            return f"Resource {step.target} · {section} · {count}"
        a = self.session.assessment
        loops = [lp.id for lp in a.loops] if a else []
        number = loops.index(step.target) + 1 if step.target in loops else 0
        crumb = f"Loop {number}/{len(loops)}: {self.session.loop_name(step.target)} · {count} · "
        if q.field in DIMENSIONS:
            position = list(DIMENSIONS).index(q.field) + 1
            return crumb + f"dimension {position}/5: {DIMENSIONS[q.field]}"
        return crumb + section

    def _question_view(self, step: Step) -> QuestionView:
        q = self.session.kb.questions[step.question]
        spec = self._spec(step)
        value = self.session.value(q, step.target)
        notes = []
        if spec.kind == "ids":
            known = [s for s in spec.suggestions]
            notes.append(
                "Resources named so far: " + ", ".join(known)
                if known
                else "Name each resource with a short id, for example inference-gateway."
            )
        if spec.kind == "multi" and not spec.choices:
            notes.append("There is nothing to choose from yet.")
        if step.scope == "loop" and self._fresh_loop == step.target:
            notes += self._template_notes(step.target)
            self._fresh_loop = ""
        said = self._said(step)
        if said:
            notes.append(
                f"Respondents disagree: {who_said(said)}. Press ctrl+t to take one of their "
                "answers, or answer here to settle it."
            )
        pending = self.interview_app.position.pending.get(step.key)
        proposed = step.scope == "loop" and value is None and q.id in self._unconfirmed(step.target)
        if proposed:
            value = self._unconfirmed(step.target)[q.id]
        return QuestionView(
            key=step.key,
            crumb=self._crumb(step),
            prompt=q.text,
            help=q.help,
            example=plain(self.session.kb, q.example) if q.example else "",
            spec=spec,
            value=value,
            saved=describe(spec, value),
            pending=pending,
            follow_up=self._follow_up_text(step),
            notes=notes,
            proposed=proposed,
        )

    def _template_notes(self, loop_id: str) -> list[str]:
        template_id = self.interview_app.position.templates.get(loop_id, "")
        template = self.session.kb.templates.get(template_id)
        if template is None or not template.notes:
            return []
        notes = [f"• {plain(self.session.kb, note)}" for note in template.notes]
        return [f"From the template “{template.title}”. Check:", *notes]

    def _info_view(self, step: Step, keep_highlight: bool = False) -> InfoView:
        highlight = None
        if keep_highlight:
            actions = self.query_one(QuestionCard).query("#actions")
            # Only this step's own list: the previous card's may still be on screen.
            if actions and actions.first().name == step.key:
                option = actions.first().highlighted_option  # type: ignore[attr-defined]
                highlight = option.id if option else None
        view = {
            "welcome": self._welcome,
            "loops": self._loops,
            "template": self._template_card,
            "loop-done": self._loop_done,
            "resources": self._resources,
            "economics": self._economics,
            "review": self._review,
        }[step.kind](step)
        if highlight is not None:
            view.highlight = highlight
        return view

    def _welcome(self, step: Step) -> InfoView:
        path = self.session.path
        body = (
            "Autoscalers, retries, timeouts, batching and schedulers each act on their own. "
            "Acting on the same resources without coordinating, they make a platform costly "
            "and unpredictable while every component reports healthy.\n"
            "Describe the platform, then its control loops one at a time (templates help), "
            "then, if you like, a few cost figures. Findings appear as you answer.\n"
            f"Every answer is saved at once to {path}; quit any time (ctrl+q) and run the "
            "same command to continue. Don't know is a valid answer (ctrl+d). F1: help."
        )
        if self.session.assessment is None:
            actions = [("next", "Start: describe the platform")]
        else:
            actions = [
                ("goto:first-unanswered", "Continue where the answers stop"),
                ("goto:" + flow.REVIEW.key, "Review the assessment and its findings"),
                ("next", "Go through the questions from the start"),
            ]
        return InfoView(
            step.key,
            "Welcome",
            "Find where your platform's control loops work against each other",
            Text(body),
            actions,
        )

    def _loops(self, step: Step) -> InfoView:
        a = self.session.assessment
        loops = a.loops if a else []
        body = Text(
            "A control loop watches something and acts on its own: a Kubernetes autoscaler, "
            "client SDK retries, a gateway timeout, continuous batching in the model server, "
            "a batch scheduler filling idle GPUs, a liveness probe that restarts pods.\n\n"
            "Describe each loop that acts on this platform, one at a time. Conflicts arise "
            "between loops, so describe at least two; four or more gives a real picture."
        )
        if loops:
            body.append(f"\n\nDescribed so far: {len(loops)}.")
        actions = [("add-loop", "Add a control loop (from a template or from scratch)")]
        for loop in loops:
            actions.append(
                (f"goto:loop:{loop.id}", f"Check or edit: {self.session.loop_name(loop.id)}")
            )
        if loops:
            actions.append(self._onward())
        return InfoView(step.key, "Control loops", "Your platform's control loops", body, actions)

    def _template_card(self, step: Step) -> InfoView:
        """What a template proposes for a loop, with one action to accept it all."""
        kb = self.session.kb
        template_id = self.interview_app.position.templates.get(step.target, "")
        template = kb.templates.get(template_id)
        unconfirmed = self._unconfirmed(step.target)
        walked = flow.walked_proposals(self.session, step.target, unconfirmed)
        covered = flow.covered_proposals(kb, unconfirmed)
        body = Text()
        rows = []
        for qid in sorted(flow.template_answers(kb, template) if template else (), key=_rank(kb)):
            q = kb.questions[qid]
            spec = spec_for(q, kb, self.session.assessment, step.target)
            saved = self.session.value(q, step.target)
            if qid in walked:
                rows.append(f"◦ {q.text} {describe(spec, unconfirmed[qid])} (proposed)")
            elif qid in unconfirmed:
                by = kb.questions[covered.get(qid, qid)].text
                rows.append(
                    f"◦ {q.text} {describe(spec, unconfirmed[qid])} (proposed, saved with “{by}”)"
                )
            elif qid not in unconfirmed and saved is not None:
                rows.append(f"✓ {q.text} {describe(spec, saved)}")
        if unconfirmed:
            body.append(
                f"The template proposes {len(unconfirmed)} answers. They count only once you "
                "confirm them: accept them all here, or go through them one by one.\n"
            )
        else:
            body.append("The template's answers are confirmed; change any from the outline.\n")
        body.append("\n".join(rows))
        for note in self._template_notes(step.target):
            body.append("\n\n" + note)
        if unconfirmed:
            actions = [
                ("accept", f"Accept the {len(unconfirmed)} proposed answers (Enter)"),
                ("next", "Go through them one by one"),
            ]
        else:
            actions = [("next", "Go on with this loop's questions")]
        title = template.title if template else template_id
        return InfoView(
            step.key, f"Loop {self.session.loop_name(step.target)} · template", title, body, actions
        )

    async def accept_proposals(self, loop_id: str) -> None:
        """Confirm every value the template proposed for the loop, in one save."""
        position = self.interview_app.position
        unconfirmed = position.proposed.get(loop_id, {})
        kb = self.session.kb
        answers = [
            (kb.questions[qid], loop_id, v) for qid, v in unconfirmed.items() if qid in kb.questions
        ]
        try:
            self.session.answer_many(answers)
        except InputError as exc:
            self.notify(problems_text(exc), severity="error", title="Not saved")
            return
        position.proposed.pop(loop_id, None)
        for qid in unconfirmed:
            position.pending.pop(Step("question", "loop", loop_id, qid).key, None)
        self.interview_app.save_position()
        self.interview_app.request_assessment()
        await self.go(+1)

    def _onward(self) -> tuple[str, str]:
        """The action that leaves the loops: to their resources if asked about, else costs."""
        if flow.index_of(self.steps, flow.RESOURCES.key) is not None:
            return ("goto:" + flow.RESOURCES.key, "Go on to the resources the loops act on")
        return ("goto:" + flow.ECONOMICS.key, "Go on to the economic figures")

    def _loop_done(self, step: Step) -> InfoView:
        a = self.session.assessment
        loop_ids = [lp.id for lp in a.loops] if a else []
        name = self.session.loop_name(step.target)
        answered, total = flow.progress(self.session, self.steps, "loop", step.target)
        unknown = sum(
            1
            for s in self.steps
            if s.kind == "question"
            and s.scope == "loop"
            and s.target == step.target
            and self.session.value(self.session.kb.questions[s.question], s.target) == UNKNOWN
        )
        body = Text(f"{answered} of {total} questions answered ({unknown} with don't know).")
        results = self.interview_app.results
        if results is not None:
            mine = [f for f in results.findings if step.target in f.loops]
            body.append(f" Findings involving this loop so far: {len(mine)}.")
        for note in self._template_notes(step.target):
            body.append("\n\n" + note)
        actions: list[tuple[str, str]] = []
        position = loop_ids.index(step.target) if step.target in loop_ids else -1
        highlight = "add-loop"
        if 0 <= position < len(loop_ids) - 1:
            following = loop_ids[position + 1]
            actions.append(
                (
                    f"goto:loop:{following}",
                    f"Continue with the next loop: {self.session.loop_name(following)}",
                )
            )
            highlight = actions[0][0]
        more = self._more_about(step.target)
        if more is not None:
            actions.append((f"goto:{more.key}", "More about this loop (details, on demand)"))
        actions.append(("add-loop", "Add another control loop"))
        if position == len(loop_ids) - 1:
            actions.append(self._onward())
        actions += [
            (f"duplicate:{step.target}", "Duplicate this loop (to describe a similar one)"),
            (f"rename:{step.target}", "Rename this loop"),
            (f"delete:{step.target}", "Delete this loop"),
        ]
        return InfoView(
            step.key,
            f"Loop {position + 1} of {len(loop_ids)}: done",
            f"{name} is described",
            body,
            actions,
            highlight=highlight,
        )

    def _more_about(self, loop_id: str) -> Step | None:
        """The first detail about a loop that is asked only on demand, if any is open."""
        kb = self.session.kb
        for s in self.steps:
            if s.kind == "question" and s.scope == "loop" and s.target == loop_id:
                q = kb.questions[s.question]
                if q.section == flow.MORE and self.session.value(q, loop_id) is None:
                    return s
        return None

    def _resources(self, step: Step) -> InfoView:
        a = self.session.assessment
        ids = a.resource_ids() if a else []
        kb = self.session.kb
        count = len(flow.ordered(kb, "resource"))
        body = Text(
            f"Your loops act on: {', '.join(ids)}. A few questions about each tell the tool "
            "what they are, which of them call each other, whether their members must move "
            "in lockstep, and how long they take to start and to save progress. Timeouts, "
            "restarts and preemptions are judged against those times."
        )
        # Each one asked here can change a finding (flow asks no other): say what a skip
        # leaves unjudged, timings first, as they are what loops are measured against.
        open_steps = [
            s
            for s in self.steps
            if s.kind == "question"
            and s.scope == "resource"
            and self.session.value(kb.questions[s.question], s.target) is None
        ]
        if open_steps:
            timings = sorted(
                open_steps, key=lambda s: kb.questions[s.question].section != "timings"
            )
            # The user's names for the resources, where they gave one: ids are for files.
            resources = a.resource_list() if a else []
            names = {r.id: r.name for r in resources if r.name not in (None, "", UNKNOWN)}
            examples = "; ".join(
                f"{kb.questions[s.question].text} ({names.get(s.target, s.target)})"
                for s in timings[:2]
            )
            body.append(
                f"\n\n{len(open_steps)} of these answers can change a finding, for example: "
                f"{examples}. Skipped, the findings that need them stay possible or are not "
                "found."
            )
        return InfoView(
            step.key,
            "Resources",
            "The resources the loops act on",
            body,
            [
                ("next", f"Describe them (up to {count} questions each)"),
                ("goto:" + flow.ECONOMICS.key, "Skip them: go to the economic figures"),
            ],
        )

    def _economics(self, step: Step) -> InfoView:
        count = len(flow.ordered(self.session.kb, "economics"))
        body = Text(
            "With a few figures the report prices the ghost costs: accelerator time without "
            "progress, tokens burnt without delivery, engineering time spent on symptoms "
            "instead of causes. Without them it states the exposure in accelerator-hours, "
            "tokens and engineer-hours. Your cloud bill, serving metrics and finance team "
            "have them; each question says where to look."
        )
        return InfoView(
            step.key,
            "Economic figures",
            "Economic figures (optional)",
            body,
            [
                ("next", f"Enter the figures ({count} questions)"),
                ("goto:" + flow.REVIEW.key, "Skip them: go to the review"),
            ],
        )

    def _review(self, step: Step) -> InfoView:
        a = self.session.assessment
        results = self.interview_app.results
        body = Text()
        if a is None:
            body.append("Nothing is described yet.")
        else:
            body.append(f"{a.system.name}: {len(a.loops)} control loops, saved in ")
            body.append(str(self.session.path))
            body.append(".\n")
            if results is not None:
                body.append(f"Findings: {counts_line(results)}.")
        table = None
        if a is not None and a.loops:
            table = Table(box=None, pad_edge=False, expand=True, show_edge=False)
            # The layer by its label needs room to be read; the objective, cut to a few
            # letters beside it ("Kee…"), said nothing, and is on each loop's own cards.
            table.add_column("Loop", overflow="ellipsis", no_wrap=True, ratio=3)
            table.add_column("Layer", overflow="ellipsis", no_wrap=True, ratio=2, min_width=7)
            # A reaction time cut short misleads ("500m…" for 500ms-8s): room for a range.
            table.add_column("Reacts in", overflow="ellipsis", no_wrap=True, min_width=9)
            table.add_column("Answered", no_wrap=True, min_width=8)
            vocab = self.session.kb.vocabulary
            for loop in a.loops:
                answered, total = flow.progress(self.session, self.steps, "loop", loop.id)
                # The words the question offered, not the id the file keeps.
                layer = vocab.layers.get(loop.layer or "")
                table.add_row(
                    Text(self.session.loop_name(loop.id)),
                    Text(layer.label if layer else loop.layer or "—"),
                    Text(loop.timescale or "—"),
                    f"{answered}/{total}",
                )
        open_count = (
            len([q for q in results.open_questions if not q.answered_unknown]) if results else 0
        )
        actions = [("results", "See the findings and their explanations")]
        if open_count:
            actions.append(("follow-ups", f"Answer the open follow-up questions ({open_count})"))
        actions += [
            ("export", "Export the reports"),
            ("add-loop", "Add a control loop"),
            ("goto:" + flow.ECONOMICS.key, "Economic figures"),
        ]
        return InfoView(step.key, "Review", "Review", body, actions, table=table)

    # ------------------------------------------------------------ answering

    async def confirm(self, raw: Any, typed: bool) -> None:
        step = self.current
        if step.kind != "question":
            return
        q = self.session.kb.questions[step.question]
        spec = self._spec(step)
        card = self.query_one(QuestionCard)
        try:
            value = parse_typed(spec, raw) if typed else raw
            if value == UNKNOWN and not spec.allows_unknown:
                raise AnswerError("This one needs an answer; any short label will do.")
            if value == [] and self._empty_confirm != step.key:
                self._empty_confirm = step.key
                raise AnswerError(
                    "Nothing is ticked (tick with Space). If none apply, press Enter again."
                )
            # (a list of ids; "don't know" or "does not apply" is no typo)
            close = close_to_known(value, spec.suggestions) if isinstance(value, list) else {}
            if close and self._new_id_confirm != (step.key, raw):
                # A typo would add a resource nobody has, and hide every finding on the real
                # one: ask once, and take the answer as typed if Enter is pressed again.
                self._new_id_confirm = (step.key, raw)
                new, known = next(iter(close.items()))
                raise AnswerError(
                    f"{new} is not among the resources named so far; did you mean {known}? "
                    f"Correct it, or press Enter again to add {new} as a new resource."
                )
            self._store(q, step, value)
        except AnswerError as exc:
            card.show_error(str(exc))
            return
        except InputError as exc:
            card.show_error(problems_text(exc))
            return
        self.interview_app.position.pending.pop(step.key, None)
        self.interview_app.request_assessment()
        await self.go(+1)

    def _store(self, q: Any, step: Step, value: Any) -> None:
        """Save one answer. Confirming a template's value one by one also saves the proposed
        values it covers (flow.covered_proposals), which the card lists with it; answering
        it differently drops them, since they describe the proposed answer (the words for
        a CPU metric, once GPU utilisation is chosen instead)."""
        unconfirmed = self._unconfirmed(step.target) if step.scope == "loop" else {}
        if q.id not in unconfirmed:
            self.session.answer(q, step.target, value)
            return
        kb = self.session.kb
        riders = [r for r, by in flow.covered_proposals(kb, unconfirmed).items() if by == q.id]
        kept = riders if value == unconfirmed[q.id] else []
        self.session.answer_many(
            [
                (q, step.target, value),
                *((kb.questions[r], step.target, unconfirmed[r]) for r in kept),
            ]
        )
        for qid in (q.id, *riders):
            unconfirmed.pop(qid, None)
        if not unconfirmed:
            self.interview_app.position.proposed.pop(step.target, None)

    @on(QuestionCard.Answered)
    async def _answered(self, message: QuestionCard.Answered) -> None:
        # An Enter pressed twice quickly arrives after the card has moved on: drop it
        # rather than store the previous answer under the next question.
        self.interview_app.answer_in_hand()
        try:
            if message.key == self.current.key:
                await self.confirm(message.value, message.typed)
        finally:
            # The next card's field has the focus (or the answer was refused and this one
            # keeps it): the keys typed after the Enter go there now.
            await self.interview_app.answer_handled()

    @on(Input.Changed, "#answer")
    def _remember_typing(self, event: Input.Changed) -> None:
        step = self.current
        if step.kind != "question":
            return
        q = self.session.kb.questions[step.question]
        stored = as_text(self._spec(step), self.session.value(q, step.target))
        pending = self.interview_app.position.pending
        if event.value == stored:
            pending.pop(step.key, None)
        else:
            pending[step.key] = event.value
        # Unconfirmed typing is kept in the position file once the typist pauses, so a
        # kill -9 or a crash loses at most the last fraction of a second of it.
        if self._typing_timer is not None:
            self._typing_timer.stop()
        self._typing_timer = self.set_timer(TYPING_SAVE_DELAY_S, self.interview_app.save_position)

    @on(Button.Pressed, "#card-buttons Button")
    async def _button(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "next":
            if self.current.kind == "question":
                answer = self.query_one(QuestionCard).current_answer()
                if answer is not None:
                    await self.confirm(*answer)
            else:
                await self.go(+1)
        elif event.button.id == "unknown":
            await self.action_dont_know()
        elif event.button.id == "skip":
            await self.action_skip()
        elif event.button.id == "back":
            await self.action_back()

    async def action_dont_know(self) -> None:
        if self.current.kind != "question":
            return
        if not self._spec(self.current).allows_unknown:
            self.query_one(QuestionCard).show_error(
                "This one needs an answer; any short label will do."
            )
            return
        await self.confirm(UNKNOWN, typed=False)

    async def action_skip(self) -> None:
        if self.current.kind != "question" and self.query_one(QuestionCard).page_text():
            return
        if self.current.kind == "template":
            # Paging to the end of a template's answers must not drop the reader into them
            # one by one: the card's actions decide.
            self.query_one(QuestionCard).set_hint(
                "That is the end of the list: accept the answers (Enter), or go through them "
                "one by one."
            )
            return
        self.interview_app.save_position()
        await self.go(+1)

    def action_page_up(self) -> None:
        # On a question the key is the list's or the outline's own: hand it on.
        if self.current.kind == "question":
            raise SkipAction()
        self.query_one(QuestionCard).page_text(down=False)

    async def action_back(self) -> None:
        if self.query_one(Outline).has_focus:
            self._focus_card()
            return
        await self.go(-1)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "finish_loop":  # only offered inside a loop's questions
            return self.current.kind == "question" and self.current.scope == "loop"
        if action == "settle":
            return self.current.kind == "question" and bool(self._said(self.current))
        return True

    # ------------------------------------------------------------ disagreements

    def _said(self, step: Step) -> list[tuple[str, str]]:
        """Who said what about this question's answer, in plain words ([] if no one
        disagrees)."""
        if step.kind != "question":
            return []
        q = self.session.kb.questions[step.question]
        said = self.session.dispute(q, step.target)
        if not said:
            return []
        spec = self._spec(step)
        return [(who, describe(spec, value)) for who, value in said]

    def action_settle(self) -> None:
        step = self.current
        said = self._said(step)
        if not said:
            return
        q = self.session.kb.questions[step.question]
        # The answers as shown: the one picked is the one stored.
        values = [value for _who, value in self.session.dispute(q, step.target)]
        self.app.push_screen(
            DisputeDialog(q.text, said), lambda chosen: self._settled(step, values, chosen)
        )

    async def _settled(self, step: Step, values: list[Any], chosen: int | None) -> None:
        if chosen is None or step.key != self.current.key:
            return
        if chosen == OWN:
            self._focus_card()
            return
        q = self.session.kb.questions[step.question]
        value = values[chosen]
        try:
            self.session.resolve_dispute(
                SECTIONS_OF[q.about], step.target, disputed_field(q), value
            )
        except InputError as exc:
            self.query_one(QuestionCard).show_error(problems_text(exc))
            return
        self.interview_app.position.pending.pop(step.key, None)
        self.interview_app.request_assessment()
        await self.go(+1)

    async def action_finish_loop(self) -> None:
        """Leave this loop's remaining questions unanswered and go to its summary."""
        if self.current.kind == "question" and self.current.scope == "loop":
            self.interview_app.save_position()
            await self.show(Step("loop-done", "loop", self.current.target))

    def action_outline(self) -> None:
        outline = self.query_one(Outline)
        if outline.has_focus:
            self._focus_card()
        else:
            outline.show_step(self.current.key)
            outline.focus()

    def _focus_card(self) -> None:
        for selector in ("#answer", "#actions"):
            found = self.query_one(QuestionCard).query(selector)
            if found:
                found.first().focus()
                return

    # ------------------------------------------------------------ decisions and loops

    @on(QuestionCard.ActionChosen)
    async def _action(self, message: QuestionCard.ActionChosen) -> None:
        if message.key != self.current.key:
            return
        action = message.action
        command, _, argument = action.partition(":")
        if command == "next":
            await self.go(+1)
        elif command == "goto":
            await self.jump(argument)
        elif command == "add-loop":
            self.add_loop()
        elif command == "accept" and self.current.kind == "template":
            card = self.query_one(QuestionCard)
            if not card.seen_to_end():
                # Never save a proposed value the respondent could not have seen.
                card.page_text()
                card.set_hint(
                    "More proposed answers are listed below: read them (Page Down), then "
                    "press Enter again to accept them all."
                )
                return
            await self.accept_proposals(self.current.target)
        elif command in ("duplicate", "rename", "delete"):
            self.loop_command(command, argument)
        elif command == "results":
            self.interview_app.action_results()
        elif command == "export":
            self.interview_app.action_export()
        elif command == "follow-ups":
            await self.next_follow_up()

    async def next_follow_up(self, walking: bool = False) -> None:
        """The next open follow-up question: one not answered yet (the engine may not have
        caught up with the last answer) and not shown before in this walk. With none left,
        the walk ends at the review."""
        results = self.interview_app.results
        seen = self._follow_up_walk if walking and self._follow_up_walk is not None else set()
        kb = self.session.kb
        for q in results.open_questions if results else []:
            step = Step("question", q.scope, q.target, q.id)
            if q.answered_unknown or step.key in seen or q.id not in kb.questions:
                continue
            if self.session.value(kb.questions[q.id], q.target) is not None:
                continue
            self._follow_up_walk = seen | {step.key}
            await self.jump(step.key, walking=True)
            return
        self._follow_up_walk = None
        if walking:
            self.notify("Every open follow-up question has been shown.")
            await self.show(flow.REVIEW)
        else:
            self.notify("No follow-up question is open.")

    @on(Outline.Jump)
    async def _outline_jump(self, message: Outline.Jump) -> None:
        await self.jump(message.key)

    @on(Outline.LoopCommand)
    def _outline_command(self, message: Outline.LoopCommand) -> None:
        if message.command == "add":
            self.add_loop()
        else:
            self.loop_command(message.command, message.loop_id)

    @on(LivePanel.OpenFinding)
    def _open_finding(self, message: LivePanel.OpenFinding) -> None:
        self.interview_app.action_results(message.finding_id)

    @on(LivePanel.OpenQuestion)
    async def _open_question(self, message: LivePanel.OpenQuestion) -> None:
        await self.jump(Step("question", message.scope, message.target, message.question_id).key)

    def add_loop(self) -> None:
        if self.session.assessment is None:
            self.notify("Name the platform first: the file is created with it.", severity="warning")
            return
        kb = self.session.kb

        def commit(template: LoopTemplate | None, loop_id: str, name: str) -> None:
            # A template's values are proposed, not saved: they count once confirmed.
            self.session.add_loop(
                loop_id, name or (template.loop.get("name", "") if template else "")
            )
            if template is not None:
                position = self.interview_app.position
                position.templates[loop_id] = template.id
                position.proposed[loop_id] = flow.proposed_values(kb, template)
                self.interview_app.save_position()

        self.app.push_screen(
            LoopDialog(
                "add",
                commit,
                self.session.check_loop_id,
                list(kb.templates.values()),
                layer_order=kb.vocabulary.terms("layers"),
                layer_labels={k: v.label for k, v in kb.vocabulary.layers.items()},
            ),
            self._loop_added,
        )

    async def _loop_added(self, loop_id: str | None) -> None:
        if not loop_id:
            return
        self.interview_app.request_assessment()
        self.steps = self._build()
        # A template's notes are on its card; a loop from scratch has none.
        self._fresh_loop = "" if loop_id in self.interview_app.position.templates else loop_id
        await self.show(self.loop_first_step(loop_id, skip_name=True))

    def loop_command(self, command: str, loop_id: str) -> None:
        a = self.session.assessment
        if a is None or a.loop(loop_id) is None:
            return
        name = self.session.loop_name(loop_id)
        if command == "delete":
            message = (
                f"{name} ({loop_id}) and all its answers are removed from "
                f"{self.session.path.name}. Loops that named it as one they control no "
                "longer do."
            )

            async def delete_if_confirmed(yes: bool | None) -> None:
                if yes:
                    await self._delete(loop_id)

            self.app.push_screen(
                ConfirmDialog(f"Delete {name}?", message, yes="Delete"), delete_if_confirmed
            )
        elif command == "duplicate":
            new_id = self._free_id(loop_id)
            self.app.push_screen(
                LoopDialog(
                    "duplicate",
                    lambda _t, i, n: self.session.duplicate_loop(loop_id, i, n),
                    self.session.check_loop_id,
                    name=f"{name} (copy)",
                    loop_id=new_id,
                ),
                self._loop_added,
            )
        elif command == "rename":
            self.app.push_screen(
                LoopDialog(
                    "rename",
                    lambda _t, i, n: self.session.rename_loop(loop_id, i, n),
                    lambda i: self.session.check_loop_id(i, replacing=loop_id),
                    name=name,
                    loop_id=loop_id,
                ),
                lambda new_id: self._renamed(loop_id, new_id),
            )

    def _free_id(self, loop_id: str) -> str:
        a = self.session.assessment
        for n in range(2, 1000):
            candidate = f"{loop_id[:60]}-{n}"
            if a is None or a.loop(candidate) is None:
                return candidate
        return ""

    async def _renamed(self, old: str, new: str | None) -> None:
        if not new:
            return
        position = self.interview_app.position
        position.pending = {
            key.replace(f":loop:{old}:", f":loop:{new}:"): text
            for key, text in position.pending.items()
        }
        if old in position.templates:
            position.templates[new] = position.templates.pop(old)
        if old in position.proposed:
            position.proposed[new] = position.proposed.pop(old)
        self.interview_app.request_assessment()
        self.steps = self._build()
        current = self.current
        if current.target == old and current.scope == "loop":
            current = replace(current, target=new)
        await self.show(current)

    async def _delete(self, loop_id: str) -> None:
        try:
            self.session.delete_loop(loop_id)
        except InputError as exc:
            self.notify(problems_text(exc), severity="error", title="Not deleted")
            return
        position = self.interview_app.position
        position.pending = {
            key: text for key, text in position.pending.items() if f":loop:{loop_id}:" not in key
        }
        position.templates.pop(loop_id, None)
        position.proposed.pop(loop_id, None)
        self.notify(f"Deleted {loop_id}.")
        self.interview_app.request_assessment()
        self.steps = self._build()
        current = self.current
        await self.show(flow.LOOPS if current.target == loop_id else current)
