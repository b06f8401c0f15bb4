"""Containment for the rule engine: it runs in child processes (expert.engine.child).

A segfault, a hang or runaway memory in the engine becomes an EngineError with a plain
message; the calling process (the CLI or the interview) and the user's answers are never
affected. Long-lived children are reused between runs (the interview re-runs after every
answer) and restarted after a crash or after RESTART_AFTER_RUNS runs: the engine cannot
safely free a run's state (delete_state crashes), so recycling the process bounds memory.

This module also runs the stages: each stage's rulesets (as many as the compiler needed to
stay within the engine's limits) are dealt out to the children in turn and run at once, one
request at a time per child, and the findings of one stage become the facts of the next
here, in the parent.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import Any

from expert.engine.compiler import Compiled
from expert.engine.ids import finding_id
from expert.errors import EngineError

DEFAULT_TIMEOUT_S = 60.0
MEMORY_LIMIT_BYTES = 4 * 1024**3
RESTART_AFTER_RUNS = 100
# The engine keeps every run's state (freeing it crashes), so the child is recycled once its
# resident memory passes this mark, well before MEMORY_LIMIT_BYTES makes a run fail. The
# state kept also slows later runs: at 5,000 loops (about 850 MB after one run) a process
# that holds one earlier run matches twice as slowly as a new one, which starts in 0.3 s.
RECYCLE_ABOVE_BYTES = 512 * 1024**2


def _limit_memory() -> None:  # runs in the child before exec
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    except (ImportError, ValueError, OSError):
        pass


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "it stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = {
            "SIGSEGV": "a crash inside the durable-rules C extension",
            "SIGKILL": "killed, usually for running out of memory",
            "SIGABRT": "an abort inside the engine",
        }.get(name, "terminated")
        return f"it died with {name} ({hint})"
    return f"it exited with code {code}"


class _Worker:
    """One engine child process: started on demand, loaded with the compiled rules."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self._proc: subprocess.Popen[str] | None = None
        self.loaded_key: str | None = None
        self.runs = 0  # assessments served since the process started
        self.sessions = 0  # rulesets asserted into, each in a session (sid) of its own
        self.rss = 0
        self.loading: str | None = None  # the key of rules sent by prepare(), reply unread
        self._writer: threading.Thread | None = None  # prepare()'s write, while under way
        self._write_failed = False

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc and self._proc.poll() is None else None

    def start(self) -> None:
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env.pop("PYTHONSTARTUP", None)
        self._proc = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            preexec_fn=_limit_memory if os.name == "posix" else None,
        )
        self.loaded_key = None
        self.runs = 0
        self.sessions = 0
        self.rss = 0
        self.loading = None

    def hang_up(self) -> None:
        """End the process's input if nothing is being written to it, so it starts to exit
        (the child leaves at the end of its input); close() reaps it."""
        proc = self._proc
        if proc is not None and proc.stdin and self._written(0):
            with contextlib.suppress(OSError):
                proc.stdin.close()

    def close(self) -> None:
        proc, self._proc = self._proc, None
        self.loading = None
        if proc is None:
            return
        if not self._written(2) and proc.poll() is None:  # it does not read: stop it
            proc.kill()
        self._written(None)
        try:
            if proc.stdin:
                proc.stdin.close()
            proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()

    def abort(self) -> None:
        """Kill and reap at once: the run it served is abandoned, so waiting for it to finish
        its request only delays the message (by up to 2 s per child, as close() waits)."""
        proc, self._proc = self._proc, None
        self.loading = None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        self._written(None)  # the write ends once the process is gone
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream:
                with contextlib.suppress(OSError):  # a pipe the child left half-written
                    stream.close()

    def failure(self) -> str:
        """Kill and reap the process; say how it ended (signal, exit code, last words)."""
        proc, self._proc = self._proc, None
        self.loading = None
        if proc is None:
            return ""
        if proc.poll() is None:
            proc.kill()
        detail = _describe_exit(proc.wait())
        self._written(None)  # the write ends once the process is gone
        if proc.stderr:
            err = proc.stderr.read()[-800:].strip()
            if err:
                detail += f"; its last words: {err.splitlines()[-1]}"
        for stream in (proc.stdout, proc.stderr, proc.stdin):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass
        return detail

    def running(self) -> None:
        """Start the process unless it runs (one that died while idle is reaped first)."""
        if self._proc is None or self._proc.poll() is not None:
            self.close()  # release its pipes first
            self.start()

    def send(self, line: str) -> bool:
        """Send one encoded request (a JSON line); False if the process is gone."""
        self.running()
        assert self._proc and self._proc.stdin
        try:
            self._proc.stdin.write(line)
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return False
        return True

    def send_later(self, line: str) -> None:
        """Send `line` to the running process from a thread, so the caller goes on at once:
        a request larger than a pipe's buffer (the rules are) would otherwise wait for a
        new process to start and read it. written() says how it went."""
        assert self._proc and self._proc.stdin
        stdin = self._proc.stdin
        self._write_failed = False

        def write() -> None:
            try:
                stdin.write(line)
                stdin.flush()
            except (OSError, ValueError):
                self._write_failed = True

        self._writer = threading.Thread(target=write, name="engine-send", daemon=True)
        self._writer.start()

    def _written(self, timeout: float | None) -> bool:
        """Wait for send_later()'s write to end; False if it is still under way."""
        writer = self._writer
        if writer is not None:
            writer.join(timeout)
            if writer.is_alive():
                return False
            self._writer = None
        return True

    def written(self, timeout: float) -> bool | None:
        """True once send_later()'s line is sent, False if sending it failed (the process
        is gone), None if it is still not sent after `timeout` seconds."""
        if not self._written(timeout):
            return None
        return not self._write_failed

    @property
    def stdout(self) -> Any:
        return self._proc.stdout if self._proc else None


class EngineProcess:
    """The contained rule engine: two child processes (one on a single core). Use as a
    context manager or call close(). `command` replaces the child program (tests use it to
    make children misbehave); `workers` fixes the number of processes."""

    def __init__(
        self,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        command: list[str] | None = None,
        workers: int | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self.command = command or [sys.executable, "-m", "expert.engine.child"]
        # Two children let a stage's rulesets run two at a time; one core gains nothing.
        count = workers or (2 if (os.cpu_count() or 1) > 1 else 1)
        self._workers = [_Worker(self.command) for _ in range(count)]

    @property
    def pid(self) -> int | None:
        """The first live child's pid (None when none is running)."""
        return next((p for p in self.pids if p is not None), None)

    @property
    def pids(self) -> list[int | None]:
        return [w.pid for w in self._workers]

    def close(self) -> None:
        # Every child is told first and they exit at once: each takes a while to hand back a
        # large run's memory (at 1,000 loops, one after the other took 20-35 ms).
        for w in self._workers:
            w.hang_up()
        for w in self._workers:
            w.close()

    def __enter__(self) -> EngineProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fail(self, what: str, worker: _Worker | None = None) -> EngineError:
        """Stop every child (a run is all or nothing) and describe the one that failed."""
        detail = worker.failure() if worker else ""
        for w in self._workers:
            w.abort()
        return EngineError(
            f"the rule engine failed while {what}: {detail or 'no detail'}. "
            "Your input is unchanged; run again, and if it repeats, report it "
            "with the assessment file."
        )

    def _use_command(self, workers: list[_Worker]) -> None:
        for w in workers:
            if w.command != self.command:  # swapped by the caller: start the new program
                w.close()
                w.command = self.command

    def _exchange(
        self,
        requests: list[tuple[_Worker, dict[str, Any] | None]],
        what: str,
        each: Callable[[int, dict[str, Any]], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Send each request to its worker and return the replies, in request order. Workers
        work at the same time; a worker given several requests gets the next as soon as it
        answers the last (never waiting for the others), and never has more than one
        outstanding, so a reply is never left waiting in a pipe's read buffer, where
        select() cannot see it. A request of None was sent already (by prepare()): only its
        reply is awaited. `each(n, reply)` is called as each reply comes, once its worker
        has its next request, so the caller works on it while the workers still work."""
        self._use_command([w for w, request in requests if request is not None])
        replies: list[dict[str, Any] | None] = [None] * len(requests)
        queues: dict[int, list[int]] = {}  # worker -> its requests still to send, in order
        workers: dict[int, _Worker] = {}
        for n, (w, _request) in enumerate(requests):
            queues.setdefault(id(w), []).append(n)
            workers[id(w)] = w
        waiting: dict[int, tuple[int, float]] = {}  # worker -> (request, its deadline)
        try:

            def send_next(key: int) -> None:
                n = queues[key].pop(0)
                request, w = requests[n][1], workers[key]
                # Encoded only now, so the first worker starts while the others' requests
                # are encoded. One that cannot be encoded stops every worker (below): no
                # reply is left unread in a pipe, to be taken for the next run's.
                if request is None:  # sent by prepare(): its write must have ended
                    sent = w.written(self.timeout_s)
                    if sent is None:
                        raise self._fail(what + f" (no answer within {self.timeout_s:g}s)", w)
                    if not sent:
                        raise self._fail(what, w)
                elif not w.send(_request_text(request)):
                    raise self._fail(what, w)
                waiting[key] = (n, time.monotonic() + self.timeout_s)

            for key in queues:
                send_next(key)
            while waiting:
                key, (n, deadline) = min(waiting.items(), key=lambda item: item[1][1])
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._fail(
                        what + f" (no answer within {self.timeout_s:g}s)", workers[key]
                    )
                by_stream = {id(workers[k].stdout): k for k in waiting}
                ready, _, _ = select.select([workers[k].stdout for k in waiting], [], [], remaining)
                for stream in ready:
                    key = by_stream[id(stream)]
                    n, _deadline = waiting.pop(key)
                    replies[n] = reply = self._read_reply(workers[key], what)
                    if queues[key]:
                        send_next(key)
                    if each is not None:
                        each(n, reply)
        except EngineError:
            raise
        except BaseException:  # anything else mid-exchange: no child may keep a stale reply
            self.close()
            raise
        return [r for r in replies if r is not None]

    def _read_reply(self, w: _Worker, what: str) -> dict[str, Any]:
        """The reply a worker has ready (select() said so)."""
        line = w.stdout.readline()
        if not line:
            raise self._fail(what, w)
        try:
            reply: dict[str, Any] = json.loads(line)
        except json.JSONDecodeError:
            raise self._fail(what + " (it answered garbage)", w) from None
        return reply

    def prepare(self, compiled: Compiled) -> None:
        """Start the children that a run of `compiled` would start and send them the rules
        now, without waiting: they start and load while the caller builds the facts (about
        0.2 s at every first run), and the next run() reads their answers. Does nothing for
        children that hold these rules already."""
        self._recycle()
        stale = [
            w
            for w in self._workers
            if w.loading is None and (w.pid is None or w.loaded_key != compiled.key)
        ]
        self._use_command(stale)
        line = json.dumps({"op": "load", "key": compiled.key, **compiled.payload()}) + "\n"
        for w in stale:  # every process first: none is forked while a write thread runs
            w.running()
        for w in stale:
            w.send_later(line)
            w.loading = compiled.key

    def _recycle(self) -> None:
        recycle_at = min(RECYCLE_ABOVE_BYTES, MEMORY_LIMIT_BYTES // 2)
        for w in self._workers:
            if w.loading is None and (w.runs >= RESTART_AFTER_RUNS or w.rss > recycle_at):
                w.close()

    def _load(self, compiled: Compiled) -> None:
        self._recycle()
        # First the answers to the rules prepare() sent; rules other than these are then
        # loaded again like any stale child's.
        sent = [w for w in self._workers if w.loading is not None]
        keys = [w.loading for w in sent]
        replies = self._exchange([(w, None) for w in sent], "loading the rules")
        self._loaded(sent, replies, keys)
        stale = [w for w in self._workers if w.pid is None or w.loaded_key != compiled.key]
        request = {"op": "load", "key": compiled.key, **compiled.payload()}
        replies = self._exchange([(w, request) for w in stale], "loading the rules")
        self._loaded(stale, replies, [compiled.key] * len(stale))

    def _loaded(
        self, workers: list[_Worker], replies: list[dict[str, Any]], keys: list[str | None]
    ) -> None:
        for w, reply, key in zip(workers, replies, keys, strict=True):
            w.loading = None
            if not reply.get("ok"):
                self.close()
                raise EngineError(f"the rule engine rejected the rules: {reply.get('error')}")
            w.loaded_key = key

    def _stage(
        self,
        compiled: Compiled,
        rulesets: list[str],
        facts: list[dict[str, Any]],
        take: Callable[[list[tuple[str, dict[str, str]]]], Any] = list,
    ) -> tuple[list[Any], list[str]]:
        """Assert facts into each ruleset of one stage, one ruleset per worker at a time.
        Returns what `take` makes of each ruleset's firings ((rule, {var: fact id}) each),
        in the order they were sent, and the errors of the rules' actions."""
        chosen = [
            [n for n, f in enumerate(facts) if f["kind"] in compiled.kinds[name]]
            for name in rulesets
        ]
        # Each fact is encoded once for all the rulesets that read it, as the first request
        # holding it is sent: the busiest worker starts before the facts only the others
        # read are encoded (a tenth of a second at 1,000 loops). The child adds its session
        # to the text (see expert/engine/child.py).
        encoded: dict[int, str] = {}

        def texts(members: list[int]) -> Callable[[], list[str]]:
            def encode() -> list[str]:
                out = []
                for n in members:
                    text = encoded.get(n)
                    if text is None:
                        text = encoded[n] = _FACT_TEXT.encode(_without_session(facts[n]))
                    out.append(text)
                return out

            return encode

        # Rulesets are dealt out largest first, each to the worker with the fewest facts so
        # far: a stage takes as long as its busiest worker.
        load = [0] * len(self._workers)
        owner: dict[int, int] = {}
        for n in sorted(range(len(rulesets)), key=lambda n: -len(chosen[n])):
            owner[n] = min(range(len(load)), key=load.__getitem__)
            load[owner[n]] += len(chosen[n])
        requests: list[tuple[_Worker, dict[str, Any] | None]] = []
        # The busiest worker's requests first (each worker's in ruleset order).
        for n in sorted(range(len(rulesets)), key=lambda n: -load[owner[n]]):
            name, w = rulesets[n], self._workers[owner[n]]
            w.sessions += 1
            requests.append(
                (
                    w,
                    {
                        "op": "assert",
                        "key": compiled.key,
                        "ruleset": name,
                        "sid": f"s{w.sessions}",  # never reused within a process
                        "facts": texts(chosen[n]),
                    },
                )
            )
        taken: dict[int, Any] = {}

        def each(n: int, reply: dict[str, Any]) -> None:
            if reply.get("ok") and "fired" in reply:
                taken[n] = take(reply["fired"])

        fired: list[Any] = []
        errors: list[str] = []
        replies = self._exchange(requests, "evaluating the rules", each)
        for n, ((w, _), reply) in enumerate(zip(requests, replies, strict=True)):
            if reply.get("reload"):
                raise _Retry
            if reply.get("memory"):
                self.close()
                raise _Retry(memory=True)
            if not reply.get("ok"):
                self.close()
                raise EngineError(f"the rule engine failed: {reply.get('error')}")
            w.rss = int(reply.get("rss", 0))
            fired.append(taken[n] if n in taken else take(reply["fired"]))
            errors += reply.get("errors", [])
        return fired, errors

    # -- the one public operation
    def run(
        self, compiled: Compiled, facts: list[dict[str, Any]], loops_of: dict[str, list[str]]
    ) -> tuple[list[dict[str, Any]], list[str]]:
        """Forward-chain the compiled rulesets over facts; return (firings, action errors).

        A firing is {"stage", "rule", "pattern", "bound": {var: fact id}, "finding"}. In
        stages 2 and 3 the cause (v0) is `rule:<pattern>`: it stands for every finding of
        that pattern from the earlier stages."""
        memory_retry = False
        for _attempt in range(3):
            try:
                self._load(compiled)
                result = self._run_stages(compiled, facts, loops_of)
                for w in self._workers:
                    w.runs += 1
                return result
            except _Retry as retry:
                if retry.memory:
                    if memory_retry:
                        break
                    memory_retry = True  # start afresh and try once more
                else:
                    for w in self._workers:
                        w.loaded_key = None
        raise EngineError("the rule engine did not accept the rules, or ran out of memory twice")

    def _run_stages(
        self, compiled: Compiled, facts: list[dict[str, Any]], loops_of: dict[str, list[str]]
    ) -> tuple[list[dict[str, Any]], list[str]]:
        firings: list[dict[str, Any]] = []
        errors: list[str] = []
        # The platform fact stays available to the later stages (symptoms and costs test it).
        carried = [f for f in facts if f.get("kind") == "platform"]
        stage_input = facts
        rules_found: dict[str, None] = {}  # patterns with a finding so far, in order
        for n, rulesets in enumerate(compiled.stages(), start=1):
            take = partial(_stage_firings, n, compiled, loops_of)
            parts, stage_errors = (
                self._stage(compiled, rulesets, stage_input, take) if rulesets else ([], [])
            )
            errors += stage_errors
            # One order, whichever process found what first: each part is in order already,
            # which the sort finds, so only the parts are merged here.
            ordered = [pair for part in parts for pair in part]
            ordered.sort(key=_first)
            stage_firings = [firing for _key, firing in ordered]
            firings += stage_firings
            rules_found.update(dict.fromkeys(f["pattern"] for f in stage_firings))
            # Stage 2 reads stage-1 findings; stage 3 reads stage-1 and stage-2 findings. Their
            # rules test only a finding's pattern, so one fact per pattern stands for all its
            # findings (id `rule:<pattern>`); the explainer expands it. At 1,000 loops this is
            # about 100 facts instead of 10,000.
            stage_input = carried + [
                {"id": f"rule:{p}", "kind": "finding", "rule": p} for p in rules_found
            ]
        return firings, errors


def _request_text(request: dict[str, Any]) -> str:
    """A request as the child reads it: a JSON line, and an assert's facts (JSON object texts,
    or a function that gives them) each on a line of its own after it (see
    expert/engine/child.py)."""
    if "facts" not in request:
        return json.dumps(request) + "\n"
    facts = request["facts"]
    if callable(facts):
        facts = facts()
    head = {k: v for k, v in request.items() if k != "facts"}
    return "\n".join([json.dumps({**head, "count": len(facts)}), *facts, ""])


# json.dumps(fact, ensure_ascii=False), with its encoder made once: dumps makes a new one on
# every call with any option set, once per fact (about 9,500 at 1,000 loops).
_FACT_TEXT = json.JSONEncoder(ensure_ascii=False)


def _without_session(fact: dict[str, Any]) -> dict[str, Any]:
    """The fact without the session keys the child sets (a copy only where needed)."""
    if "sid" not in fact and "scope" not in fact:
        return fact
    return {k: v for k, v in fact.items() if k not in ("sid", "scope")}


class _Retry(Exception):
    def __init__(self, memory: bool = False) -> None:
        super().__init__()
        self.memory = memory


def _stage_firings(
    stage: int,
    compiled: Compiled,
    loops_of: dict[str, list[str]],
    fired: list[tuple[str, dict[str, str]]],
) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """One ruleset's firings in a stage, each with its place in the stage's order (finding,
    rule, bound facts), in that order. Made as each reply comes: at 1,000 loops, while the
    other process still matches, for most of the 15,000 firings."""
    meta = compiled.meta
    out = []
    for name, bound in fired:
        pattern = meta[name].pattern
        if stage == 1:
            loops = sorted({lp for fid in bound.values() for lp in loops_of.get(fid, ())})
            fid = finding_id(pattern, loops)
        else:
            fid = pattern  # a symptom or cost is one finding for the whole system
        out.append(
            (
                (fid, name, sorted(bound.items())),
                {"stage": stage, "rule": name, "pattern": pattern, "bound": bound, "finding": fid},
            )
        )
    out.sort(key=_first)
    return out


_first = itemgetter(0)
