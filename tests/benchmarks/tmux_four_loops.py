"""Drive the real interview in tmux through the four-loop scenario a newcomer follows from the
README (gateway timeout, SDK retries, vLLM batching, HPA, each started from its template), using
keys only, and print wall time, question screens answered, keystrokes and the final screen.

    uv run python tests/benchmarks/tmux_four_loops.py [--file /tmp/iv.yaml] [--keep]

Every wait is on what the screen (or the interview's position file, which records the step on
screen) shows, never a fixed sleep, so a loaded machine slows the run down but does not derail
it. Needs tmux. The file given is replaced: pass one you do not need.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from expert.assessment.model import UNKNOWN, load  # noqa: E402
from expert.knowledge import knowledgebase as knowledge  # noqa: E402
from interview.questions import spec_for  # noqa: E402

TMUX = "iv"
# What the tester knows about the platform, by field (or answers.<question id>).
SYSTEM = {
    "name": "Inference platform",
    "description": "Chat for customers",
    "respondent": "Platform team",
}
# (template, name typed, id typed, what the tester knows about that loop)
LOOPS: list[tuple[str, str, str, dict[str, Any]]] = [
    (
        "envoy-route-timeout",
        "Gateway timeout",
        "gateway-timeout",
        {"owner": "Edge team", "acts_on": "gateway", "propagates_cancellation": "no"},
    ),
    (
        "client-sdk-retries",
        "SDK retries",
        "sdk-retries",
        {"owner": "nobody knows", "acts_on": "gateway", "propagates_cancellation": UNKNOWN},
    ),
    (
        "vllm-scheduler",
        "vLLM batching",
        "vllm-batching",
        {"owner": "Inference team", "acts_on": "vllm"},
    ),
    (
        "kubernetes-hpa",
        "HPA",
        "hpa",
        {
            "owner": "Platform team",
            "acts_on": "vllm",
            "answers.metric-sees-rejected": "yes",
            "answers.drains-before-removal": UNKNOWN,
            "guards.exemptions": "no",
        },
    ),
]
RESOURCES = {
    "gateway": {"kind": "service", "calls": ["vllm"], "startup_time": "10s"},
    "vllm": {"kind": "model_replica", "calls": [], "startup_time": "4m"},
}
TIMEOUT = 120.0  # seconds one screen may take to appear before the run is declared stuck
STILL = 0.2  # seconds a screen must stay the same to count as drawn
# What a template card says when Enter scrolled to proposals not shown yet instead of saving.
ASK_AGAIN = "press Enter again to accept them all"


def typed(line: str) -> str:
    """What a field's screen line holds: the text after its focus bar, inside any dialog
    border; "" for an empty field showing its example."""
    parts = line.split("█")
    # Inside a dialog's border, the outline's text shows to its left: read between the two.
    inside = parts[1] if len(parts) >= 3 else line.split("▕", 1)[-1]
    inside = inside.strip().removeprefix("▌").strip()
    return "" if inside.startswith("e.g.") else inside


def cleared(line: str) -> bool:
    return typed(line) == ""


class Stuck(Exception):
    """The screen did not reach what the run waited for."""


class Run:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.side = path.with_name(f".{path.name}.interview.json")
        self.kb = knowledge.load([])
        self.keys = 0
        self.questions = 0
        self.screens: list[str] = []
        self.retyped = 0  # answers typed again because the first typing did not show
        self.accept_again = 0  # template cards that asked for a second Enter
        self.shown = ""  # the heading of the card last seen on screen

    # --- the terminal -------------------------------------------------------------------
    def tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", *args], capture_output=True, text=True, check=False)
        return done.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", TMUX)

    def press(self, *keys: str) -> None:
        for key in keys:
            self.tmux("send-keys", "-t", TMUX, key)
            self.keys += 1

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", TMUX, "-l", text)
        self.keys += len(text)

    def wait(self, what: str, ok: Callable[[], bool], timeout: float = TIMEOUT) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if ok():
                return
            time.sleep(0.05)
        raise Stuck(f"waited {timeout:.0f} s for {what}; the screen:\n{self.screen()}")

    def wait_text(self, text: str) -> None:
        self.wait(repr(text), lambda: text in self.screen())

    def step(self) -> str:
        try:
            return str(json.loads(self.side.read_text(encoding="utf-8"))["step"])
        except (OSError, ValueError, KeyError):
            return ""

    def heading(self) -> str:
        """The card's crumb and question, right of the outline: they tell one step from
        the next."""
        lines = self.screen().splitlines()[1:4]
        return "\n".join(line.split("▕", 1)[-1] for line in lines)

    def wait_step(self, old: str) -> str:
        """Wait until the step recorded is another one, then until the screen shows it, then
        until the screen is still.

        The interview records the step as soon as the card is built, a moment before the
        terminal is repainted: a run reading the screen at once saw the card before, pressed
        ↓ for it, and the ↓ landed on the new card.
        """
        self.wait(f"a step after {old!r}", lambda: self.step() not in ("", old))
        with contextlib.suppress(Stuck):  # two steps can share a heading: then go on
            self.wait("the next card on screen", lambda: self.heading() != self.shown, 10)
        self.wait_still()
        self.shown = self.heading()
        return self.step()

    def wait_still(self) -> None:
        """Wait until the screen has not changed for STILL seconds."""
        last = [self.screen(), time.monotonic()]

        def same() -> bool:
            now = self.screen()
            if now != last[0]:
                last[:] = [now, time.monotonic()]
            return time.monotonic() - last[1] >= STILL

        self.wait("the screen to settle", same)

    def marked_line(self) -> str:
        return next((line for line in self.screen().splitlines() if "▸" in line), "")

    def highlighted(self) -> str:
        """The line of the option list that carries the highlight mark, once two captures in
        a row agree on it: a capture can catch the terminal halfway through a repaint, with
        no mark on screen, and a run that took that for an answer pressed ↓ past it."""
        seen = [self.marked_line()]

        def steady() -> bool:
            now = self.marked_line()
            same = now == seen[0] != ""
            seen[0] = now
            return same

        with contextlib.suppress(Stuck):  # a card with no list: no mark to wait for
            self.wait("a steady highlight", steady, 5)
        return seen[0]

    # --- the scenario -------------------------------------------------------------------
    def add_loop(self, template_id: str, name: str, loop_id: str) -> None:
        # Read, not assumed: the highlighted action can change when the findings update.
        self.choose("Add a")
        self.wait_text("Name (what your teams call it)")
        title = self.kb.templates[template_id].title
        for _ in range(80):
            marked = self.highlighted()
            if title in marked:
                break
            self.press("Down")
            # The marked line, not any change: the template's description below redraws too.
            self.wait("the highlight to move", lambda m=marked: self.highlighted() != m)
        else:
            raise Stuck(f"no template titled {title!r} in the list:\n{self.screen()}")
        self.press("Enter")  # the name field opens with the template's title in it
        self.wait(f"the name {title!r} proposed", lambda: self.screen().count(title) >= 2)
        self.dialog_field("Name (what your teams call it)", name)
        self.dialog_field("Id (short, lower-case", loop_id)
        step = self.step()
        self.press("Enter")
        self.wait("the loop added", lambda: self.step() != step or "✗" in self.screen())
        if self.step() == step:
            raise Stuck(f"the dialog refused the loop:\n{self.screen()}")

    def choose(self, label: str) -> None:
        """Move the highlight of the actions on screen to the one starting with `label`,
        then Enter."""
        key = "Down"
        for _ in range(30):
            marked = self.highlighted()
            if marked.split("▸", 1)[-1].strip().startswith(label):
                self.press("Enter")
                return
            self.press(key)
            # The marked line itself, not any change: the findings panel redraws on its own.
            try:
                self.wait("the highlight to move", lambda m=marked: self.highlighted() != m, 5)
            except Stuck:
                key = "Up"  # the end of the list: look the other way
        raise Stuck(f"no action {label!r} on screen:\n{self.screen()}")

    def dialog_field(self, label: str, text: str) -> None:
        """Fill the dialog's field under `label` and see the text there (not its example);
        type it again if it did not arrive (counted in `retyped`)."""

        def line() -> str:
            lines = self.screen().splitlines()
            at = next((i for i, line in enumerate(lines) if label in line), None)
            return lines[at + 1] if at is not None and at + 1 < len(lines) else ""

        for _ in range(3):
            self.press("C-u")
            self.wait("the field cleared", lambda: cleared(line()))
            self.type(text)
            try:
                self.wait(f"{text!r} under {label!r}", lambda: typed(line()) == text, 10)
            except Stuck:
                self.retyped += 1
                continue
            self.press("Tab")  # on to the next field, as a person would
            self.wait_still()
            return
        raise Stuck(f"typing {text!r} never reached {label!r}:\n{self.screen()}")

    def answer(self, scope: str, target: str, qid: str) -> None:
        question = self.kb.questions[qid]
        field = question.field or f"answers.{question.id}"
        plan = {"system": SYSTEM, "resource": RESOURCES.get(target, {})}.get(scope)
        if plan is None:
            plan = next((known for _, _, lid, known in LOOPS if lid == target), {})
        if field not in plan:
            self.press("NPage")  # the tester does not know: skip
            return
        value = plan[field]
        if value == UNKNOWN:
            self.press("C-d")
            return
        # Read the file, never open it as a session: that would take the writer's lock.
        assessment = load(self.path, self.kb.vocabulary) if self.path.exists() else None
        spec = spec_for(question, self.kb, assessment, target)
        if spec.kind in ("text", "duration", "integer", "number", "ids"):
            self.submit_text(", ".join(value) if isinstance(value, list) else str(value))
            return
        labels = [c.label for c in spec.choices]
        for item in [value] if spec.kind == "single" else value:
            self.highlight(labels, labels[[str(c.value) for c in spec.choices].index(str(item))])
            if spec.kind != "single":
                self.press("Space")
        self.press("Enter")
        if spec.kind == "multi" and not value:  # none of them: the card asks to be sure
            self.wait_text("press Enter again")
            self.press("Enter")

    def type_answer(self, text: str) -> None:
        """Type into the answer field and see it there; type again if it did not arrive, as a
        person watching the screen would (counted in `retyped`)."""
        for _ in range(3):
            self.press("End", "C-u")
            # Typing straight after ctrl+u can arrive before the clearing does (and be
            # cleared with it): a typist sees the field empty first.
            self.wait("the field cleared", lambda: cleared(self.field()))
            self.type(text)
            try:
                self.wait(f"{text!r} in the field", lambda: typed(self.field()) == text, 10)
                return
            except Stuck:
                self.retyped += 1
        raise Stuck(f"typing {text!r} never reached the field:\n{self.screen()}")

    def field(self) -> str:
        """The answer field's line: the first line with the field's focus bar under
        "..., then Enter." (the hint may wrap onto a second line, as "Type n/a if it does
        not apply" does; examples and notes elsewhere do not count)."""
        lines = self.screen().splitlines()
        at = next((i for i, line in enumerate(lines) if "then Enter." in line), None)
        if at is None:
            return ""
        below = lines[at + 1 : at + 4]
        return next((line for line in below if "▌" in line), below[0] if below else "")

    def submit_text(self, text: str) -> None:
        """Type, Enter; if the card then says the field was empty (the typing vanished), type
        it again, as a person reading the message would (counted in `retyped`)."""
        step = self.step()
        for _ in range(3):
            self.type_answer(text)
            self.press("Enter")
            self.wait(
                "the answer taken or refused",
                lambda: self.step() != step or "✗ Type an answer" in self.screen(),
            )
            if self.step() != step:
                return
            self.retyped += 1
        raise Stuck(f"{text!r} was never taken:\n{self.screen()}")

    def highlight(self, labels: list[str], label: str) -> None:
        """Move the list's highlight to `label`, reading where it is from the screen."""
        for _ in range(3 * len(labels) + 1):
            marked = self.highlighted()
            line = marked.split("▸", 1)[-1]
            here = max((lb for lb in labels if lb in line), key=len, default=None)
            if here == label:
                return
            at = labels.index(here) if here is not None else -1
            self.press("Down" if labels.index(label) > at else "Up")
            # The marked line itself, not any change: the findings panel redraws on its own,
            # and reading the list before the arrow was handled made the run press again.
            with contextlib.suppress(Stuck):
                self.wait("the highlight to move", lambda m=marked: self.highlighted() != m, 10)
        raise Stuck(f"could not highlight {label!r}:\n{self.screen()}")

    def run(self) -> str:
        pending = list(LOOPS)
        step = self.wait_step("")
        for _ in range(400):
            kind, scope, target, qid = [*step.split(":"), "", "", ""][:4]
            if kind == "review":
                return step
            if kind == "welcome":
                self.press("Enter")
            elif kind == "loops" or (kind == "loop-done" and pending):
                template_id, name, loop_id, _ = pending.pop(0)
                self.add_loop(template_id, name, loop_id)
            elif kind == "loop-done":
                self.choose("Go on to the")
            elif kind == "template":
                self.screens.append(self.screen())
                # Read the card to its end first: Accept scrolls to proposals not shown yet.
                for _ in range(20):
                    before = self.screen()
                    if "more line" not in before:
                        break
                    self.press("PageDown")
                    with contextlib.suppress(Stuck):
                        self.wait("the card to scroll", lambda b=before: self.screen() != b, 5)
                self.press("Enter")  # accept the template's proposed answers
                # The "more lines" mark can be painted after the run looked (a loaded
                # machine): then Enter scrolls to what was not shown and asks for another
                # Enter, as a newcomer reading the card would be asked.
                for _ in range(3):
                    self.wait(
                        "the card to be accepted or to ask again",
                        lambda s=step: self.step() not in ("", s) or ASK_AGAIN in self.screen(),
                    )
                    if self.step() not in ("", step):
                        break
                    asking = self.screen()
                    self.accept_again += 1
                    self.press("Enter")
                    # Only a new picture answers this Enter: the one asking is still there
                    # until it is handled, and another Enter would reach the next card.
                    self.wait("the card to take the Enter", lambda a=asking: self.screen() != a)
            elif kind == "resources":
                self.press("Enter")
            elif kind == "economics":
                self.press("Down", "Enter")  # no cost figures at hand
            elif kind == "question":
                self.questions += 1
                self.answer(scope, target, qid)
            else:
                raise Stuck(f"a step the scenario does not know: {step}\n{self.screen()}")
            step = self.wait_step(step)
        raise Stuck(f"no review after 400 steps; last {step}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=Path("/tmp/iv.yaml"))
    parser.add_argument("--keep", action="store_true", help="leave the tmux session open")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        print("tmux is not installed; install it (apt-get install tmux) to run this.")
        return 2
    run = Run(args.file.resolve())
    run.path.unlink(missing_ok=True)
    run.side.unlink(missing_ok=True)
    if subprocess.run(["tmux", "has-session", "-t", TMUX], capture_output=True).returncode == 0:
        # Two runs typing into one session would each see the other's keys.
        print(f"a tmux session named {TMUX!r} is open: finish it (tmux kill-session -t {TMUX})")
        return 2
    started = time.monotonic()
    run.tmux(
        "new", "-d", "-s", TMUX, "-x", "100", "-y", "30",
        f"cd {ROOT} && uv run coherence interview {run.path}",
    )  # fmt: skip
    try:
        run.run()
        run.wait_text("See the findings")
        run.press("Enter")  # the highlighted action on the review: see the findings
        # "Exposure per month: ..." with the cost figures, "Structural exposure per month, in
        # units: ..." without them (the scenario gives none).
        run.wait_text("xposure per month")
        run.wait_still()
        ok = True
    except Stuck as stuck:
        print(f"stuck: {stuck}")
        ok = False
    elapsed = time.monotonic() - started
    final = run.screen()
    if not args.keep:
        run.tmux("kill-session", "-t", TMUX)
    print(f"wall time {elapsed / 60:.1f} min ({elapsed:.0f} s)")
    print(f"question screens answered {run.questions}, keystrokes {run.keys}")
    print(f"answers typed again because the typing did not show: {run.retyped}")
    print(f"template cards that asked for a second Enter: {run.accept_again}")
    if run.screens:
        print("--- the first template card ---")
        print(run.screens[0])
    print("--- the final screen ---")
    print(final)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
