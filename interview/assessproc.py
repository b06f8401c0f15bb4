"""The assessment in its own process, so typing and layout never wait on it.

The interview's engine re-run used to share the interface's interpreter: graph derivation,
fact building and explanation (Python work, holding the interpreter lock) made keystrokes
wait. `ProcessAssessor` keeps one `expert.analysis.assess.Assessor` in a child program
(`python -m interview.assessproc`) started on first use; the interface thread only sends
the assessment down a pipe and waits for the results, which costs it nothing.

Frames on the pipes are an 8-byte length and a pickle: the child is this program's own,
started from this interpreter, so both ends trust each other. It has the Assessor's
interface (`assess`, `close`), so the app uses either. A child that dies is an
`EngineError` for that run, and the next run starts a new child; a child whose parent died
reads the end of its input and exits.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import struct
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

from expert.analysis.results import Results
from expert.assessment.model import Assessment
from expert.errors import EngineError, InputError, Problem
from expert.knowledge.knowledgebase import KnowledgeBase

STOP_TIMEOUT_S = 2.0
_LENGTH = struct.Struct(">Q")
_ROOT = Path(__file__).resolve().parents[1]  # where the `interview` package is found


def _send(stream: IO[bytes], obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError("the other end closed the pipe")
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the other end closed the pipe")
    return pickle.loads(data)  # our own child's or parent's frames: trusted


def serve(inp: IO[bytes], out: IO[bytes]) -> None:
    """The child: receive the knowledge base, then assess each assessment received until
    the input ends."""
    from expert.analysis.assess import Assessor

    kb = _receive(inp).intern_comparisons()  # see KnowledgeBase.intern_comparisons
    assessor = Assessor(kb)
    try:
        while True:
            try:
                assessment, deliverables = _receive(inp)
            except (EOFError, OSError):
                return
            reply: tuple[str, Any]
            try:
                reply = ("ok", assessor.assess(assessment, deliverables=deliverables))
            except EngineError as exc:
                reply = ("engine", str(exc))
            except InputError as exc:
                reply = ("input", str(exc))
            except Exception as exc:  # reported to the parent, which shows it
                reply = ("bug", f"{type(exc).__name__}: {exc}")
            try:
                _send(out, reply)
            except OSError:
                return
    finally:
        assessor.close()


class ProcessAssessor:
    """An Assessor running in a child process (see the module's docstring)."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self._kb = kb
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        # What the child wrote to stderr (a traceback, if it died): its last line says why.
        self._stderr: IO[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            return proc
        self._stop()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH", "")) if p)
        if self._stderr is not None:
            self._stderr.close()
        # Open for as long as the child runs; closed when it is replaced or on close().
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "interview.assessproc"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            close_fds=True,
        )
        self._proc = proc
        assert proc.stdin is not None
        _send(proc.stdin, self._kb)
        return proc

    def assess(self, assessment: Assessment, deliverables: bool = True) -> Results:
        with self._lock:
            try:
                proc = self._start()
                assert proc.stdin is not None and proc.stdout is not None
                _send(proc.stdin, (assessment, deliverables))
                kind, payload = _receive(proc.stdout)
            except (EOFError, OSError) as exc:
                self._stop()
                raise EngineError(
                    "the assessment process stopped unexpectedly; it restarts with the next "
                    f"answer ({self._last_words() or type(exc).__name__})"
                ) from None
        if kind == "ok":
            return payload
        if kind == "input":
            raise InputError(Problem("assessment", payload))
        if kind == "engine":
            raise EngineError(payload)
        raise RuntimeError(payload)

    def _last_words(self) -> str:
        """The last line the stopped child wrote to stderr (say, the error that ended it)."""
        stderr = self._stderr
        if stderr is None:
            return ""
        try:
            stderr.seek(0)
            lines = stderr.read().decode("utf-8", "replace").strip().splitlines()
        except (OSError, ValueError):  # closed by close() meanwhile: the app is quitting
            return ""
        # The error that ended it, not a warning printed on the way out.
        errors = [ln.strip() for ln in lines if re.match(r"^\w[\w.]*(Error|Exception|Exit)\b", ln)]
        last = errors[-1] if errors else (lines[-1].strip() if lines else "")
        return last[:300]

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()  # the child reads the end of its input and stops
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(STOP_TIMEOUT_S)

    def close(self) -> None:
        # Not under the lock: closing the pipes ends a run in progress at once (it fails
        # with an EngineError nobody is waiting for) instead of waiting for it.
        self._stop()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


def main() -> None:
    """Serve on this process's stdin and stdout; anything printed goes to stderr."""
    with os.fdopen(os.dup(sys.stdout.fileno()), "wb") as out:
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints never corrupt a frame
        serve(sys.stdin.buffer, out)


if __name__ == "__main__":
    main()
