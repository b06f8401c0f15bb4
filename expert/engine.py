"""Containment for the rule engine: it runs in a child process (expert.enginechild).

A segfault, a hang or runaway memory in the engine becomes an EngineError with a plain
message; the calling process (the CLI or the interview) and the user's answers are never
affected. A long-lived child is reused between runs (the interview re-runs after every
answer) and restarted after a crash or after RESTART_AFTER_RUNS runs: the engine cannot
safely free a run's state (delete_state crashes), so recycling the process bounds memory.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from expert.compiler import Compiled
from expert.errors import EngineError

DEFAULT_TIMEOUT_S = 60.0
MEMORY_LIMIT_BYTES = 4 * 1024**3
RESTART_AFTER_RUNS = 100
# The engine keeps every run's state (freeing it crashes), so the child is recycled once its
# resident memory passes this mark, well before MEMORY_LIMIT_BYTES makes a run fail.
RECYCLE_ABOVE_BYTES = 1024**3


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


class EngineProcess:
    """A contained rule-engine worker. Use as a context manager or call close()."""

    def __init__(
        self, timeout_s: float = DEFAULT_TIMEOUT_S, command: list[str] | None = None
    ) -> None:
        self.timeout_s = timeout_s
        self.command = command or [sys.executable, "-m", "expert.enginechild"]
        self._proc: subprocess.Popen[str] | None = None
        self._loaded_key: str | None = None
        self._runs = 0
        self._rss = 0

    # -- process management
    def _start(self) -> subprocess.Popen[str]:
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
        self._loaded_key = None
        self._runs = 0
        self._rss = 0
        return self._proc

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc and self._proc.poll() is None else None

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
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

    def __enter__(self) -> EngineProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fail(self, what: str) -> EngineError:
        proc = self._proc
        detail = ""
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            code = proc.wait()
            detail = _describe_exit(code)
            if proc.stderr:
                err = proc.stderr.read()[-800:].strip()
                if err:
                    detail += f"; its last words: {err.splitlines()[-1]}"
            self._proc = None
            for stream in (proc.stdout, proc.stderr, proc.stdin):
                try:
                    if stream:
                        stream.close()
                except OSError:
                    pass
        return EngineError(
            f"the rule engine failed while {what}: {detail or 'no detail'}. "
            "Your input is unchanged; run again, and if it repeats, report it "
            "with the assessment file."
        )

    def _call(self, request: dict[str, Any], what: str) -> dict[str, Any]:
        proc = self._proc if self._proc and self._proc.poll() is None else self._start()
        assert proc.stdin and proc.stdout
        try:
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._fail(what) from None
        deadline = time.monotonic() + self.timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._fail(what + f" (no answer within {self.timeout_s:g}s)")
            ready, _, _ = select.select([proc.stdout], [], [], remaining)
            if ready:
                line = proc.stdout.readline()
                if not line:
                    raise self._fail(what)
                try:
                    return json.loads(line)
                except json.JSONDecodeError:
                    raise self._fail(what + " (it answered garbage)") from None

    # -- the one public operation
    def run(
        self, compiled: Compiled, facts: list[dict[str, Any]], loops_of: dict[str, list[str]]
    ) -> tuple[list[dict[str, Any]], list[str]]:
        """Forward-chain the compiled rulesets over facts; return (firings, action errors)."""
        recycle_at = min(RECYCLE_ABOVE_BYTES, MEMORY_LIMIT_BYTES // 2)
        if self._runs >= RESTART_AFTER_RUNS or self._rss > recycle_at:
            self.close()
        for _attempt in range(2):
            if (
                self._proc is None
                or self._proc.poll() is not None
                or self._loaded_key != compiled.key
            ):
                reply = self._call(
                    {"op": "load", "key": compiled.key, **compiled.payload()}, "loading the rules"
                )
                if not reply.get("ok"):
                    raise EngineError(f"the rule engine rejected the rules: {reply.get('error')}")
                self._loaded_key = compiled.key
            reply = self._call(
                {"op": "run", "key": compiled.key, "facts": facts, "loops_of": loops_of},
                "evaluating the rules",
            )
            if reply.get("reload"):
                self._loaded_key = None
                continue
            if reply.get("memory") and _attempt == 0:  # start afresh and try once more
                self.close()
                continue
            if not reply.get("ok"):
                raise EngineError(f"the rule engine failed: {reply.get('error')}")
            self._runs += 1
            self._rss = int(reply.get("rss", 0))
            return reply["firings"], reply.get("errors", [])
        raise EngineError("the rule engine did not accept the rules, or ran out of memory twice")
