"""No lost answers: kill -9 the real interview at every kind of point in a short script.

Each trial starts `python -m interview FILE` in a pseudo-terminal, drives it by keystrokes
through a short script (the platform's name, don't know for its description, the
respondent, then into the economic figures) with random short pauses, and SIGKILLs it.
Every run kills once at each distinct moment (the timing within each drawn at random; see
`kill_points` for why these suffice): during start-up (early and late), half-way through
typing, right after the key that moves on, and for three answers standing for all six, at
each moment of the answer's save (right after its key, later in the app's handling of it,
and the moment its temporary file appears), and once between answers at an action drawn at
random. Fifty kill points drawn by weighted chance missed at least one answer's save in
about 19 runs in 20; these 16 trials reach every moment of every kind of save in every run.

An answer counts as confirmed once the app had acknowledged it before the kill: the position
file beside the assessment had moved past its question, or the answer was seen in the file.
After every kill the file must parse with `load_assessment` and hold every confirmed answer
(no file at all is fine only while nothing was confirmed: nothing is written before the
platform has a name). Every version of the file seen while the app ran must parse too:
readers never see a torn write. A few trials reopen the file in a fresh app, which must
resume where the position file says, with the confirmed answers.

Temporary files: a process killed between creating its temporary file and renaming it over
the target cannot remove it, so a kill may leave the one temporary it was writing (at most
one per file, and one for the assessment only when the kill came after an answer's key).
Anything more is a failure. Reopening the file removes such leftovers.

Races (test_two_writers_and_an_outside_edit_lose_nothing): the same trials, and while the
interview waits for a key, a second interview (tests/interview/second_writer.py) opens the
file and must find it read-only, naming the first one's process, and save nothing; an editor
adds a commented loop to the file at another such moment. After the kill the second one
answers again: it must now save, on top of everything the first confirmed, and the editor's
loop and comment must still be there.

Reproduce a failure with the seed it prints: KILL_SEED=<seed> (KILL_TRIALS=<n> and
KILL_RACE_TRIALS=<n> for more or fewer trials: past 16 (and 4), the points repeat with new
timings;
KILL_WORKERS=1 to run them one at a time).
Run with -s for a summary of where the kills landed.
"""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from expert.analysis.assess import load_assessment
from expert.assessment.model import UNKNOWN, Assessment
from expert.errors import InputError
from expert.knowledge import knowledgebase as knowledge
from expert.knowledge.knowledgebase import KnowledgeBase
from interview import resume

from .keyboard import make_app
from .pty_app import ROOT, interview_in_pty
from .second_writer import ANSWER as SECOND_ANSWER

WAIT_S = 60  # a generous bound for a loaded machine; the test waits for events, not time
POLL_S = 0.005
SEED = int(os.environ.get("KILL_SEED") or random.SystemRandom().randrange(10**9))
# Two interviews at a time keep both cores busy. Each trial waits on events only, so a
# slower start-up under load moves where its kill lands, never what is checked.
WORKERS = int(os.environ.get("KILL_WORKERS", "2"))
RESUME_ONE_IN = 8  # reopen the file in a fresh app after one kill in eight
# How a race trial's kill lands, one of each in turn: at an answer's save, after a key, with
# the app at rest, mid-typing. Each leaves the second interview a different file and lock.
RACE_KINDS = ("saving", "key", "between", "typing")
RACE_TRIALS = int(os.environ.get("KILL_RACE_TRIALS", str(len(RACE_KINDS))))
BY_HAND = "# a loop added in an editor"

ENTER, CTRL_D, PAGE_DOWN = "\r", "\x04", "\x1b[6~"
WELCOME, LOOPS, ECONOMICS = "welcome:::", "loops:::", "economics:::"
NAME = "question:system::system-name"
DESCRIPTION = "question:system::system-description"
RESPONDENT = "question:system::system-respondent"
COUNT = "question:economics::econ-accelerator-count"
HOUR_COST = "question:economics::econ-accelerator-hour-cost"
TOKENS = "question:economics::econ-monthly-tokens"
MILLION = "question:economics::econ-cost-per-million-tokens"
# The steps the script passes through, in order: the position only moves forward.
ORDER = [WELCOME, NAME, DESCRIPTION, RESPONDENT, LOOPS, ECONOMICS, COUNT, HOUR_COST, TOKENS]
ORDER.append(MILLION)


@dataclass(frozen=True)
class Action:
    """One thing the user does: type (maybe nothing), press a key, see the next step."""

    at: str  # the step on screen before
    typed: str  # the characters typed before the key
    key: str  # Enter, ctrl+d (don't know) or Page Down
    then: str  # the step on screen once the app has acknowledged the key
    answer: str = ""  # what is saved, as "section.field"; "" for moving on
    value: Any = None

    def holds(self, a: Assessment) -> bool:
        section, name = self.answer.split(".")
        part = a.system if section == "system" else a.economics
        return part is not None and getattr(part, name) == self.value


@dataclass(frozen=True)
class Kill:
    kind: str  # one of KINDS
    action: int  # the action during which the kill lands (-1 during start-up)
    delay: float  # seconds; after a key, a fraction of the time the app takes to acknowledge
    chunk: int = 0  # when typing: after this chunk of the text


@dataclass(frozen=True)
class Trial:
    number: int
    actions: list[Action]
    chunks: list[list[str]]  # each action's text, split where the pauses fall
    pauses: list[list[float]]  # the pause after each chunk
    kill: Kill
    resume: bool


def plan(number: int) -> Trial:
    """Everything random about one trial, drawn up front from the seed and its number."""
    rng = random.Random(f"{SEED}:{number}")
    name = f"Plant {number} {rng.choice(['north', 'south', 'east', 'west'])}"
    respondent = f"Operator {rng.randrange(100, 1000)}"
    count = rng.randrange(1, 5000)
    cost = rng.choice(["2.5", "0.75", "12.25"])
    actions = [
        Action(WELCOME, "", ENTER, NAME),
        Action(NAME, name, ENTER, DESCRIPTION, "system.name", name),
        Action(DESCRIPTION, "", CTRL_D, RESPONDENT, "system.description", UNKNOWN),
        Action(RESPONDENT, respondent, ENTER, LOOPS, "system.respondent", respondent),
        Action(LOOPS, "", PAGE_DOWN, ECONOMICS),
        Action(ECONOMICS, "", ENTER, COUNT),
        Action(COUNT, str(count), ENTER, HOUR_COST, "economics.accelerator_count", count),
        Action(HOUR_COST, cost, ENTER, TOKENS, "economics.accelerator_hour_cost", float(cost)),
        Action(TOKENS, "", CTRL_D, MILLION, "economics.monthly_tokens", UNKNOWN),
    ]
    chunks: list[list[str]] = []
    for action in actions:
        text = action.typed
        cuts = sorted(rng.sample(range(1, len(text)), min(2, len(text) - 1))) if text else []
        cuts = cuts[: rng.randint(0, len(cuts))]
        chunks.append([text[i:j] for i, j in zip([0, *cuts], [*cuts, len(text)], strict=True)])
    pauses = [[rng.uniform(0, 0.04) for _ in c] for c in chunks]

    kind, i, part = kill_points(actions)[number % len(kill_points(actions))]
    if kind == "start-up":  # part 0: early, 1: late (by then the welcome is on screen)
        kill = Kill(kind, -1, rng.uniform(0.9 * part, 0.9 * (part + 1)))
    elif kind == "between":
        kill = Kill(kind, rng.randrange(len(actions)), rng.uniform(0, 0.05))
    elif kind == "typing":
        kill = Kill(kind, i, rng.uniform(0, 0.03), rng.choice(range(len(chunks[i]))))
    elif kind == "key":  # part -1: any time; 0: the first half of the app's handling; 1: later
        low, high = {-1: (0.0, 1.25), 0: (0.0, 0.6), 1: (0.6, 1.25)}[part]
        kill = Kill(kind, i, rng.uniform(low, high))
    else:
        kill = Kill(kind, i, 0.0)
    return Trial(number, actions, chunks, pauses, kill, number % RESUME_ONE_IN == 1)


def kill_points(actions: list[Action]) -> list[tuple[str, int, int]]:
    """The points a run kills at, once each, as (kind, action, part): the same list for
    every trial, since only the typed values differ between trials.

    One of each distinct moment suffices: every answer is saved the same way (the whole file
    written to a temporary file and renamed over it, then the position file), so answers
    differ only in whether the file exists yet, how its new text is made, and the key that
    confirms them. Three answers stand for all six: the name (the first save: it creates the
    file, in the standard layout), the description (don't know, by ctrl+d: the first save
    that edits the file in place) and the first economic figure (typed, Enter: it adds a
    section). Each is killed at the three moments of its save: right after the key (parsing,
    validating, writing), later in the app's handling (after the rename, before it moves on)
    and the moment its temporary file appears. Moving on (only the position file is written)
    and typing are killed before the file exists and after; the app at rest once."""
    answers = [i for i, a in enumerate(actions) if a.answer]
    economic = next(i for i in answers if actions[i].answer.startswith("economics."))
    saves = [answers[0], next(i for i in answers if actions[i].key == CTRL_D), economic]
    move_on = [i for i, a in enumerate(actions) if not a.answer]
    return [
        *(("start-up", -1, part) for part in (0, 1)),
        *(("typing", i, 0) for i in (answers[0], economic)),
        *(("key", i, -1) for i in (move_on[0], next(i for i in move_on if i > answers[0]))),
        *(("key", i, part) for i in saves for part in (0, 1)),
        *(("saving", i, 0) for i in saves),
        ("between", -1, 0),
    ]


@dataclass(frozen=True)
class Race:
    """When, relative to the script's actions, the others touch the file."""

    second_at: int  # a second interview opens it while the first waits for this action
    edit_at: int  # an editor saves it then (after the loops step: a new loop adds steps)
    kind: str  # how the kill lands: one of RACE_KINDS


def plan_race(number: int, trial: Trial) -> Race:
    """Each kind of kill in turn; the second interview opens before the editor's save in
    half the trials, at or after it in the others."""
    rng = random.Random(f"{SEED}:race:{number}")
    kind = RACE_KINDS[number % len(RACE_KINDS)]
    end = len(trial.actions)
    if kind == "typing":  # a typed answer must be left once both have had their turn
        end = max(i for i, a in enumerate(trial.actions) if a.typed) + 1
    edit_at = rng.randrange(5, end)
    early = number // 2 % 2 == 0
    second_at = rng.randrange(2, edit_at) if early else rng.randrange(edit_at, end)
    return Race(second_at, edit_at, kind)


def race_kill(trial: Trial, race: Race) -> Kill:
    """A kill that lands once both the second interview and the editor have had their turn."""
    rng = random.Random(f"{SEED}:race-kill:{trial.number}")
    actions = range(max(race.second_at, race.edit_at), len(trial.actions))
    options = [Kill("between", i, rng.uniform(0, 0.05)) for i in actions]
    options += [Kill("key", i, rng.uniform(0, 1.25)) for i in actions]
    options += [Kill("saving", i, 0.0) for i in actions if trial.actions[i].answer]
    options += [
        Kill("typing", i, rng.uniform(0, 0.03), c)
        for i in actions
        for c, chunk in enumerate(trial.chunks[i])
        if chunk
    ]
    return rng.choice([kill for kill in options if kill.kind == race.kind])


def edit_outside(path: Path) -> bool:
    """Save the file as an editor would (write a copy, rename it over): a loop with a
    comment. False if the file is not in the shape this edit expects."""
    text = path.read_text(encoding="utf-8")
    if "loops: []\n" not in text:
        return False
    loop = f"loops:  {BY_HAND}\n- id: by-hand\n  name: Added by hand\n"
    copy = path.with_name("editor-copy.yaml")
    copy.write_text(text.replace("loops: []\n", loop, 1), encoding="utf-8")
    os.replace(copy, path)
    return True


class SecondWriter:
    """A second interview's session on the file, in its own process: started with the
    trial, it opens the file only when told (`open`)."""

    def __init__(self, path: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.interview.second_writer", str(path)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.opened = ""

    def open(self) -> str:
        if not self.opened:
            self._say("open")
            self.opened = self._line()
        return self.opened

    def _say(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def _line(self) -> str:
        out = self.process.stdout
        assert out is not None
        ready, _, _ = select.select([out], [], [], WAIT_S)
        if not ready:
            raise AssertionError("the second interview did not answer")
        return out.readline().strip()

    def answer(self) -> str:
        self.open()
        self._say("answer")
        return self._line()

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(WAIT_S)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()


def temporaries(workdir: Path) -> list[str]:
    return sorted(p.name for p in workdir.iterdir() if p.name.endswith(".tmp"))


def is_sidecar_temporary(name: str, path: Path) -> bool:
    return name.startswith(resume.sidecar_path(path).name + ".")


@dataclass
class Watch:
    """What the test sees of the running app: its position and each version of the file."""

    path: Path
    actions: list[Action]
    kb: KnowledgeBase
    scratch: Path
    step: str = ""
    text: str | None = None
    confirmed: set[int] = field(default_factory=set)  # indexes of acknowledged answers
    torn: list[str] = field(default_factory=list)

    def look(self) -> None:
        self.step = resume.load(self.path).step
        rank = ORDER.index(self.step) if self.step in ORDER else -1
        for i, action in enumerate(self.actions):
            if action.answer and rank >= ORDER.index(action.then):
                self.confirmed.add(i)
        try:
            text: str | None = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = None
        if text is None or text == self.text:
            return
        self.text = text
        self.scratch.write_text(text, encoding="utf-8")
        try:
            seen = load_assessment(self.scratch, self.kb)
        except InputError as exc:
            self.torn.append(f"{exc}\n--- the file as read ---\n{text}")
            return
        for i, action in enumerate(self.actions):
            if action.answer and action.holds(seen):
                self.confirmed.add(i)

    def hold(self, seconds: float) -> None:
        """Let time pass, watching."""
        end = time.monotonic() + seconds
        self.look()
        while time.monotonic() < end:
            time.sleep(POLL_S)
            self.look()

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT_S
        self.look()
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"gave up waiting for {what} (on {self.step!r})")
            time.sleep(POLL_S)
            self.look()

    def save_begins(self, before: tuple[int, int, int] | None, then: str) -> bool:
        """Wait for the assessment's save to show (True) or the step to move on (False)."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if any(
                not is_sidecar_temporary(name, self.path) for name in temporaries(self.path.parent)
            ):
                return True
            if identity(self.path) != before:  # written without a temporary file
                return True
            if resume.load(self.path).step == then:
                return False
            time.sleep(0.0005)
        raise AssertionError(f"gave up waiting for the save or for {then}")


def identity(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


@dataclass
class Outcome:
    trial: Trial
    workdir: Path
    where: str  # where the kill landed, as seen from outside
    confirmed: set[int]
    step_at_kill: str
    seconds: float
    problems: list[str]


def run_trial(trial: Trial, workdir: Path, kb: KnowledgeBase, race: Race | None = None) -> Outcome:
    workdir.mkdir()
    path = workdir / "platform.yaml"
    watch = Watch(path, trial.actions, kb, workdir.parent / f"seen-{trial.number}.yaml")
    kill = trial.kill
    started = time.monotonic()
    where = ""
    latency: list[float] = []  # from each key to the app's acknowledgement
    # Started now, its start-up overlaps the interview's; it opens the file at second_at.
    second = SecondWriter(path) if race is not None else None
    edited = False
    problems: list[str] = []
    try:
        with interview_in_pty(path, TEXTUAL_ANIMATIONS="none") as (pid, fd):

            def send(keys: str) -> None:
                os.write(fd, keys.encode())

            if kill.kind == "start-up":
                watch.hold(kill.delay)
                where = "start-up, welcome " + ("shown" if watch.step else "not shown yet")
            for i, action in enumerate(trial.actions):
                if kill.kind == "start-up":
                    break
                watch.wait_for(lambda a=action: watch.step == a.at, f"step {action.at}")
                if second is not None and race is not None and i == race.second_at:
                    opened = second.open()
                    refused = second.answer()
                    if opened != f"open read-only {pid}" or f"process {pid}" not in refused:
                        problems.append(
                            "a second interview opened while the first had the file: "
                            f"{opened!r}, then its answer: {refused!r}"
                        )
                if race is not None and i == race.edit_at:
                    edited = edit_outside(path)
                    watch.look()
                label = f"{action.answer or 'move on'} (action {i})"
                here = kill.action == i
                if here and kill.kind == "between":
                    watch.hold(kill.delay)
                    where = f"between answers: before {label}"
                    break
                typing = zip(trial.chunks[i], trial.pauses[i], strict=True)
                for c, (chunk, pause) in enumerate(typing):
                    send(chunk)
                    if here and kill.kind == "typing" and kill.chunk == c:
                        break
                    watch.hold(pause)
                if here and kill.kind == "typing":
                    watch.hold(kill.delay)
                    where = f"mid-typing: {label}"
                    break
                before = identity(path)
                send(action.key)
                sent = time.monotonic()
                if here and kill.kind == "saving":
                    caught = watch.save_begins(before, action.then)
                    os.kill(pid, signal.SIGKILL)  # at once: no last look, it would take time
                    where = "right after the key, " + (
                        "the save was seen to begin" if caught else "the save was not caught"
                    )
                    where += f": {label}"
                    break
                if here and kill.kind == "key":
                    # spread over the app's handling of the key: parse, validate, save, move on
                    watch.hold(kill.delay * (sum(latency) / len(latency) if latency else 0.25))
                    where = f"right after the key: {label}"
                    break
                watch.wait_for(lambda a=action: watch.step == a.then, f"step {action.then}")
                latency.append(time.monotonic() - sent)
            else:
                where = "after the whole script"
            if kill.kind != "saving":
                watch.look()  # the last look before the kill
                os.kill(pid, signal.SIGKILL)
    except BaseException:  # a trial that cannot go on leaves no second interview behind
        if second is not None:
            second.close()
        raise
    step_at_kill = resume.load(path).step  # as the kill left it
    if second is not None:  # the first interview is dead: the second now saves its answer
        problems += finish_race(path, kb, second, edited)

    problems += [f"a torn file was seen while the app ran: {t}" for t in watch.torn]
    left = temporaries(workdir)
    mine = [n for n in left if not is_sidecar_temporary(n, path)]
    after_answer_key = kill.kind in ("key", "saving") and trial.actions[kill.action].answer
    if len(mine) > (1 if after_answer_key else 0) or len(left) - len(mine) > 1:
        problems.append(f"temporary files left behind: {left}")
    saved: Assessment | None = None
    if path.exists():
        try:
            saved = load_assessment(path, kb)
        except InputError as exc:
            problems.append(f"the file does not parse after the kill: {exc}\n{read(path)}")
        confirmed = [trial.actions[i] for i in sorted(watch.confirmed)]
        for action in [a for a in confirmed if not a.holds(saved)] if saved else []:
            problems.append(
                f"confirmed answer lost: {action.answer} = {action.value!r}\n{read(path)}"
            )
    elif watch.confirmed:
        lost = [trial.actions[i].answer for i in sorted(watch.confirmed)]
        problems.append(f"no file after the kill, yet these answers were confirmed: {lost}")

    if kill.kind == "key":  # how far the app had got with the key, judged afterwards
        action = trial.actions[kill.action]
        if step_at_kill == action.then:
            state = "acknowledged"
        elif mine:
            state = "during the save"
        elif action.answer and saved is not None and action.holds(saved):
            state = "saved, not yet acknowledged"
        else:
            state = "not yet saved" if action.answer else "not yet acknowledged"
        where = where.replace(":", f", {state}:", 1)
    seconds = time.monotonic() - started
    return Outcome(trial, workdir, where, watch.confirmed, step_at_kill, seconds, problems)


def finish_race(path: Path, kb: KnowledgeBase, second: SecondWriter, edited: bool) -> list[str]:
    try:
        reply = second.answer()
    finally:
        second.close()
    try:
        saved = load_assessment(path, kb) if path.exists() else None
    except InputError:
        return []  # reported with the other checks
    problems = []
    if saved is None:
        if reply == "saved":
            problems.append("the second interview said saved, yet there is no file")
        return problems
    if reply != "saved":
        problems.append(f"the second interview could not save once the first had ended: {reply}")
    elif saved.economics is None or saved.economics.cost_per_million_tokens != SECOND_ANSWER:
        problems.append(f"the second interview's acknowledged answer was lost\n{read(path)}")
    if edited and (BY_HAND not in read(path) or saved.loop("by-hand") is None):
        problems.append(f"the editor's loop or its comment was lost\n{read(path)}")
    return problems


def read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        return f"<unreadable: {exc}>"


async def check_resume(outcome: Outcome) -> list[str]:
    """Reopen the killed interview's file in a fresh app: it resumes where it was, and the
    temporary file a killed save left is cleaned up."""
    # Age what the kill left, as the time between a crash and reopening the file would.
    for name in temporaries(outcome.workdir):
        past = time.time() - 60
        os.utime(outcome.workdir / name, (past, past))
    app = make_app(outcome.workdir / "platform.yaml")
    problems = []
    if temporaries(outcome.workdir):
        problems.append(f"reopening left temporary files: {temporaries(outcome.workdir)}")
    async with app.run_test(size=(80, 24)):
        shown = app.interview.current.key
        expected = outcome.step_at_kill or WELCOME
        if shown != expected:
            problems.append(f"resumed on {shown!r}, the position file says {expected!r}")
        a = app.session.assessment
        for i in sorted(outcome.confirmed):
            action = outcome.trial.actions[i]
            if a is None or not action.holds(a):
                problems.append(f"the resumed app lacks {action.answer} = {action.value!r}")
    return problems


def summary(outcomes: list[Outcome], seconds: float, left: int) -> str:
    places = Counter(o.where.partition(":")[0] for o in outcomes)
    confirmed = Counter(len(o.confirmed) for o in outcomes)
    return "\n".join(
        [
            f"{len(outcomes)} kills in {seconds:.1f} s (KILL_SEED={SEED}, {WORKERS} at a time), "
            f"{sum(o.trial.resume for o in outcomes)} reopened, "
            f"{left} left the temporary file they were writing; "
            f"a trial took {sum(o.seconds for o in outcomes) / len(outcomes):.1f} s on average",
            "answers confirmed before the kill: "
            + ", ".join(f"{n}: {confirmed[n]}" for n in sorted(confirmed)),
            "where the kills landed:",
            *(f"  {count:3d}  {place}" for place, count in sorted(places.items())),
        ]
    )


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
async def test_random_kills_never_lose_a_confirmed_answer(tmp_path: Path) -> None:
    trials = int(os.environ.get("KILL_TRIALS", "0")) or len(kill_points(plan(0).actions))
    await run_trials(tmp_path, trials, race=False)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
async def test_two_writers_and_an_outside_edit_lose_nothing(tmp_path: Path) -> None:
    await run_trials(tmp_path, RACE_TRIALS, race=True)


async def run_trials(tmp_path: Path, trials: int, *, race: bool) -> None:
    kb = knowledge.load([])
    started = time.monotonic()

    def trial(number: int) -> Outcome:
        try:
            t = plan(number)
            contest = plan_race(number, t) if race else None
            if contest is not None:
                t = replace(t, kill=race_kill(t, contest))
            return run_trial(t, tmp_path / f"trial-{number}", kb, contest)
        except Exception as exc:  # a trial that could not run still names its seed
            outcome = Outcome(plan(number), tmp_path, "nowhere", set(), "", 0.0, [])
            outcome.problems.append(f"the trial could not run: {exc!r}")
            return outcome

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        outcomes = list(pool.map(trial, range(trials)))
    left = sum(bool(temporaries(o.workdir)) for o in outcomes)
    for outcome in outcomes:  # once every interview is dead: reopening saves the position
        # every trial that left a temporary reopens too: the cleanup is checked each run
        if (outcome.trial.resume or temporaries(outcome.workdir)) and not outcome.problems:
            outcome.problems += await check_resume(outcome)
    report = summary(outcomes, time.monotonic() - started, left)
    print("\n" + report)
    failures = [
        f"trial {o.trial.number} (KILL_SEED={SEED}), killed {o.where} [{o.trial.kill}]:\n  "
        + "\n  ".join(o.problems)
        for o in outcomes
        if o.problems
    ]
    assert not failures, "\n\n".join(failures) + "\n\n" + report
