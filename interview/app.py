"""The guided interview: a Textual app in which a non-expert builds an assessment.

`run(file, kb_dirs)` is what `coherence interview [FILE]` and `coherence demo` call. The app
keeps one contained engine (expert.analysis.assess.Assessor, in its own process: see
interview.assessproc) and re-runs it on every answer, starting while the answer is written,
so findings and follow-up questions follow the answers live while typing and layout never
wait on it; results for an answer already superseded, or whose save failed, are dropped,
and an engine crash becomes a message while the answers stay saved.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import ClassVar, Protocol

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from expert.analysis.results import Results
from expert.assessment.model import Assessment
from expert.errors import EngineError, InputError, Problem
from expert.knowledge.knowledgebase import KnowledgeBase
from interview import flow, resume
from interview.assessproc import ProcessAssessor
from interview.screens.interview import InterviewScreen
from interview.screens.results import ResultsScreen
from interview.session import Session

DEFAULT_FILE = Path("assessment.yaml")
# Keys typed after an Enter that confirms wait for the next card at most this long, unless
# the answer is being handled: then they wait for it, however long a loaded machine takes.
# Generous, as the Enter itself may wait behind the typing before it (on a loaded machine
# 5 s passed before the answer was read, and the keys after it reached the card being left);
# only a path that never reports the answer handled would wait it out.
ANSWER_HOLD_LIMIT_S = 30.0


class Assessing(Protocol):
    """What the app needs of an assessor: expert.analysis.assess.Assessor, or ProcessAssessor."""

    def assess(self, assessment: Assessment, deliverables: bool = True) -> Results: ...

    def close(self) -> None: ...


AssessorFactory = Callable[[KnowledgeBase], Assessing]
Outcome = tuple[Results | None, str | None, float]  # an engine run's results, error, seconds


class InterviewApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "Control coherence interview"
    # Textual annotates these `ClassVar[...] | None`, which mypy reads as instance variables;
    # they are class-level settings (and ruff's RUF012 wants them marked ClassVar).
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (120, "-wide")]  # type: ignore[misc]
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-short"), (36, "-tall")]  # type: ignore[misc]
    BINDINGS: ClassVar[list[BindingType]] = [Binding("f1", "help", "Help")]

    def __init__(
        self, session: Session, assessor_factory: AssessorFactory = ProcessAssessor
    ) -> None:
        super().__init__()
        self.session = session
        session.on_notice = self._file_notice
        # The engine starts on an answer while the file is being written (see _assessed).
        session.on_validated = self.request_assessment
        self.position = resume.load(session.path)
        self.sub_title = self._describe_file()
        self.results: Results | None = None
        self.results_for: Assessment | None = None
        self.engine_error: str | None = None
        self.engine_busy = False
        self.last_run_seconds: float | None = None
        self._assessor_factory = assessor_factory
        self._assessor: Assessing | None = None
        self._engine_lock = threading.Lock()  # one engine run at a time
        self._engine_thread = ThreadPoolExecutor(1, thread_name_prefix="engine")
        self.interview = InterviewScreen()
        self._held_keys: list[events.Key] | None = None  # keys held while a card changes
        self._hold: object | None = None  # who holds them: only its release delivers them
        self._confirming: object | None = None  # the hold an Enter in an answer field began
        self._in_hand: object | None = None  # that hold, once its answer is being handled

    @property
    def holding_keys(self) -> bool:
        """Whether typed keys wait for a card to change (tests wait for them, as a typist
        waits for the screen)."""
        return self._held_keys is not None

    def hold_keys(self) -> object:
        """Hold the keys the terminal delivers from now on, until `release_keys` is given
        what this returns. Within a hold already running, the outer hold keeps them."""
        token = object()
        if self._held_keys is None:
            self._held_keys = []
            self._hold = token
        return token

    async def release_keys(self, token: object) -> None:
        """Deliver the held keys, in order, to whatever has the focus now."""
        held = self._held_keys
        if held is None or token is not self._hold:
            return
        # Still holding while delivering: a key that arrives meanwhile queues behind them.
        while held:
            if not self.screen_stack:
                # The app is closing (its screens are gone): a key has nowhere to go.
                held.clear()
                break
            key = held.pop(0)
            if self._confirms(key):
                # The keys typed after this Enter belong to the card it leads to.
                self._hold_for_answer()
                await super().on_event(key)
                return
            await super().on_event(key)
        self._held_keys = self._hold = None

    def _confirms(self, key: events.Key) -> bool:
        """Whether a key confirms the answer on the interview's card (Enter in its field)."""
        if key.key != "enter" or self.screen is not self.interview:
            return False
        focused = self.focused
        return focused is not None and focused.id == "answer"

    def _hold_for_answer(self) -> None:
        self._hold = self._confirming = object()
        if self._held_keys is None:
            self._held_keys = []
        # Only a path that never reports the answer handled would leave keys held: they
        # are delivered all the same, late rather than never.
        self.set_timer(ANSWER_HOLD_LIMIT_S, partial(self._release_unhandled, self._confirming))

    async def _release_unhandled(self, token: object) -> None:
        # An answer being handled releases its keys when it is done: released earlier, on a
        # slow machine, they reached the card being left while the next was drawn.
        if token is not self._in_hand:
            await self.release_keys(token)

    def answer_in_hand(self) -> None:
        """The screen has begun to handle the answer an Enter confirmed (`answer_handled`
        follows, whatever happens)."""
        self._in_hand = self._confirming

    async def answer_handled(self) -> None:
        """The screen has dealt with the answer an Enter confirmed: the keys typed after it
        go to whatever has the focus now, the next card's field if the card moved on."""
        self._in_hand = None
        await self.release_keys(self._confirming)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not self.screen_stack:
            # The app is closing (its screens are gone): a key typed as it quit, still
            # queued (or handed back by a widget that did not use it), has nowhere to go,
            # and looking up its binding would fail.
            return
        if isinstance(event, events.Key) and not event.is_forwarded:
            held = self._held_keys
            if held is not None:
                # A second Enter straight after the one that confirms is a double press:
                # it would confirm the next card unread.
                if not held and event.key == "enter" and self._hold is self._confirming:
                    return
                held.append(event)
                return
            # Typing sent straight after Enter (type-ahead) reached the card being left,
            # still focused until the next is drawn: it waits for the next card's field.
            if self._confirms(event):
                self._hold_for_answer()
        await super().on_event(event)

    def get_default_screen(self) -> Screen:
        return self.interview

    def _describe_file(self) -> str:
        holder = self.session.holder
        if holder is None:
            return str(self.session.path)
        return f"{self.session.path} · read-only: open in {holder.describe()}"

    def _file_notice(self, text: str) -> None:
        self.notify(text, title=self.session.path.name, severity="warning", timeout=12)

    def on_mount(self) -> None:
        if self.position.warning:
            self.notify(self.position.warning, severity="warning", timeout=12)
        holder = self.session.holder
        if holder is not None:
            self.notify(
                f"{self.session.path.name} is open in {holder.describe()}. You can look "
                "around here, but answers are saved only once that interview has ended.",
                title="Read-only",
                severity="warning",
                timeout=15,
            )

    def save_position(self) -> None:
        self.sub_title = self._describe_file()  # a read-only window may have taken over
        if self.session.read_only:  # the position file belongs to the interview that writes
            return
        try:
            resume.save(self.session.path, self.position)
        except OSError as exc:  # the answers are safe; only the place on screen is not
            self.notify(
                f"Could not remember the current question: {exc.strerror or exc}",
                severity="warning",
            )

    # ------------------------------------------------------------ the engine

    def _assess(self, assessment: Assessment) -> Results:
        with self._engine_lock:
            if self._assessor is None:
                self._assessor = self._assessor_factory(self.session.kb)
            # The screen shows findings and questions; the deliverables wait for an export.
            return self._assessor.assess(assessment, deliverables=False)

    def request_assessment(self, assessment: Assessment | None = None) -> None:
        """Re-run the engine on `assessment`, by default the saved one; coalesces requests
        while one runs. The session asks for an answer's assessment before writing it, so
        the engine and the write overlap; results for one that was not saved are dropped.
        A request while the engine runs waits for its end, which runs the saved assessment
        if that is not the one it ran."""
        if assessment is None:
            assessment = self.session.assessment
        if assessment is None:
            return
        if self.engine_busy:
            return
        self.engine_busy = True
        # Submitted at once: a worker would start only once the event loop is free again,
        # after the file has been written, and the engine is meant to run meanwhile.
        job = self._engine_thread.submit(self._assess_job, assessment)
        self.run_worker(self._finish(assessment, job), group="engine", exit_on_error=False)

    def _assess_job(self, assessment: Assessment) -> Outcome:
        """(results, error, seconds taken): run in the engine's thread."""
        started = time.perf_counter()
        results: Results | None = None
        error: str | None = None
        try:
            results = self._assess(assessment)
            if results.engine_errors:
                error = "a rule action failed: " + "; ".join(results.engine_errors)
        except EngineError as exc:
            error = str(exc)
        except InputError as exc:
            error = str(exc)
        except Exception as exc:  # a bug must not cost the user the session
            error = f"internal error while assessing ({type(exc).__name__}: {exc})"
        return results, error, time.perf_counter() - started

    async def _finish(self, assessment: Assessment, job: Future[Outcome]) -> None:
        results, error, elapsed = await asyncio.wrap_future(job)
        await self._assessed(assessment, results, error, elapsed)

    async def _assessed(
        self, assessment: Assessment, results: Results | None, error: str | None, elapsed: float
    ) -> None:
        self.engine_busy = False
        self.last_run_seconds = elapsed
        saved = self.session.assessment
        if assessment is not saved:
            # Stale: an answer replaced it while this ran, or its save failed (the engine
            # starts before the write). Drop these results and run on the saved answers,
            # unless the results on screen are theirs already.
            if self.results_for is not saved:
                self.request_assessment()
                return
        else:
            if results is not None:
                self.results, self.results_for = results, assessment
            if error and error != self.engine_error:
                self.notify(
                    error + " Your answers are saved; the findings update after the next answer.",
                    title="The rule engine failed",
                    severity="error",
                    timeout=12,
                )
            self.engine_error = error
        for screen in self.screen_stack:
            if isinstance(screen, InterviewScreen):
                await screen.results_changed()
            elif isinstance(screen, ResultsScreen):
                screen.refresh_results()

    def on_unmount(self) -> None:
        self.save_position()  # a clean quit keeps unconfirmed typing, as a pause does
        self.session.close()
        acquired = self._engine_lock.acquire(timeout=2)
        try:
            if self._assessor is not None:
                self._assessor.close()
        finally:
            if acquired:
                self._engine_lock.release()
        self._engine_thread.shutdown(wait=False)

    # ------------------------------------------------------------ actions

    # Help, export and the report renderers load on first use: they cost start-up time.

    def action_help(self) -> None:
        from interview.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_results(self, finding_id: str | None = None) -> None:
        if isinstance(self.screen, ResultsScreen):
            if finding_id:
                self.screen.select_finding(finding_id)
            return
        if self.session.assessment is None:
            self.notify("Name the platform and describe its loops first.", severity="warning")
            return
        self.push_screen(ResultsScreen(finding_id))

    def action_export(self) -> None:
        if self.session.assessment is None:
            self.notify("There is nothing to report yet.", severity="warning")
            return
        from interview.export import formats
        from interview.screens.export import ExportDialog

        self.push_screen(
            ExportDialog(self.session.path, formats(), self._write_reports), self._exported
        )

    def _exported(self, written: list[Path] | None) -> None:
        if written:
            self.notify("\n".join(str(p) for p in written), title="Reports written", timeout=10)

    async def _write_reports(self, directory: Path, chosen: list[str]) -> list[Path]:
        assessment = self.session.assessment
        if assessment is None:
            raise InputError(Problem(str(self.session.path), "there is nothing to report yet"))
        results = self.results if self.results_for is assessment else None
        if results is None or self.engine_error:
            try:
                results = await asyncio.to_thread(self._assess, assessment)
            except EngineError as exc:
                raise InputError(Problem("rule engine", str(exc))) from None
        if results.engine_errors:
            raise InputError(
                Problem("rule engine", "a rule action failed: " + "; ".join(results.engine_errors))
            )
        from interview.export import write_reports

        return await asyncio.to_thread(
            write_reports,
            results,
            assessment,
            self.session.kb,
            self.session.path,
            directory,
            chosen,
        )

    def open_question(self, scope: str, target: str, question_id: str) -> None:
        key = flow.Step("question", scope, target, question_id).key
        self.call_later(self._jump, key)

    async def _jump(self, key: str) -> None:
        while not isinstance(self.screen, InterviewScreen) and len(self.screen_stack) > 1:
            self.pop_screen()
        await self.interview.jump(key)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Results", "Findings by severity and kind, each explained", self.action_results
        )
        yield SystemCommand(
            "Export reports", "Write every report format next to the assessment", self.action_export
        )
        yield SystemCommand("Help", "How the interview works, and its keys", self.action_help)
        a = self.session.assessment
        if a is None:
            return
        interview = self.interview
        yield SystemCommand(
            "Add a control loop", "From a template or from scratch", interview.add_loop
        )
        current = interview.current
        if current.scope == "loop" and a.loop(current.target):
            name = self.session.loop_name(current.target)
            yield SystemCommand(
                "Finish this loop",
                f"Leave the rest of {name}'s questions for later",
                interview.action_finish_loop,
            )
            for command, text in (
                ("duplicate", "Duplicate"),
                ("rename", "Rename"),
                ("delete", "Delete"),
            ):
                yield SystemCommand(
                    f"{text} this loop",
                    f"{text} {name}",
                    partial(interview.loop_command, command, current.target),
                )
        for title, key in (
            ("Go to the platform questions", "first:system"),
            ("Go to the control loops", flow.LOOPS.key),
            ("Go to the economic figures", flow.ECONOMICS.key),
            ("Go to the review", flow.REVIEW.key),
            ("Go to the next unanswered question", "first-unanswered"),
        ):
            yield SystemCommand(title, "Jump there; nothing is lost", partial(self._jump, key))
        for loop in a.loops:
            yield SystemCommand(
                f"Go to loop: {self.session.loop_name(loop.id)}",
                f"Its questions ({loop.id})",
                partial(self._jump, f"loop:{loop.id}"),
            )


def run(file: Path | None, kb: KnowledgeBase) -> None:
    """Open the interview on FILE (assessment.yaml here if none) with the knowledge base its
    entry point loaded; InputError if unusable."""
    path = Path(file) if file is not None else DEFAULT_FILE
    session = Session.open(path, kb)
    try:
        InterviewApp(session).run()
    finally:
        session.close()
    if session.holder is not None:
        print(f"Nothing was saved here: {path} is open in {session.holder.describe()}.")
    elif session.assessment is not None:
        print(
            f"Your answers are saved in {path}. Continue with `coherence interview {path}`; "
            f"print the report with `coherence assess {path}`."
        )
    else:
        print(f"Nothing was saved: {path} is created once the platform has a name.")
