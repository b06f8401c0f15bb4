"""The one way text reaches a terminal: every control character made visible.

Text shown by the command line comes from places the user does not fully control: pattern
packs (`kb show`, `kb list`, Markdown reports), assessment text, file names in messages. A
raw ESC, CSI (U+009B) or bidi override in any of them could clear the screen, rewrite what
was printed or reorder it. `clean` turns each such character into a visible `\\uXXXX`
escape instead of dropping it, so nothing is hidden and nothing is interpreted.

The `\\uXXXX` form is chosen because it is also a valid JSON escape of the same character:
a JSON or SARIF report printed to standard output stays valid JSON with the same data.

Only streams are cleaned. Files written with `-o` keep their text exactly: each format
escapes for its own medium, and a Markdown file is data the user asked for, byte for byte.
"""

from __future__ import annotations

import os
import re
import sys
from typing import TextIO

import click

from expert.errors import OutputError, Problem

# C0 except tab and newline (layout), a carriage return unless it ends a CRLF line (CSV's
# line ending), DEL, C1 (including U+009B CSI) and the bidi controls.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]|\r(?!\n)"
)


def _visible(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def clean(text: str) -> str:
    """Text with every terminal control character replaced by a visible `\\uXXXX` escape."""
    return _UNSAFE.sub(_visible, text)


def unsafe(text: str) -> bool:
    """True if `text` holds a character `clean` would replace (for tests and checks)."""
    return _UNSAFE.search(text) is not None


STDOUT = "<standard output>"


def _stream(err: bool) -> TextIO | None:
    return sys.stderr if err else sys.stdout


def echo(message: str = "", *, err: bool = False, nl: bool = True) -> None:
    """Print cleaned text to standard output (or error).

    A closed standard output, or one that fails (a full disk, /dev/full, a reader that went
    away), raises OutputError, so the caller exits 2 instead of 0 with the text lost. Errors
    writing to standard error are ignored: there is nowhere left to report them.
    """
    stream = _stream(err)
    if stream is None:
        if err:
            return
        raise OutputError(
            Problem(STDOUT, "is closed, so the report cannot be printed", fix="give -o FILE")
        )
    try:
        _write(stream, clean(message) + ("\n" if nl else ""))
    except OSError as exc:
        if err:
            return
        discard_stdout()
        if isinstance(exc, BrokenPipeError):
            problem = Problem(STDOUT, "its reader stopped reading; the output is incomplete")
        else:
            problem = Problem(STDOUT, f"cannot write: {exc.strerror or exc}", fix="give -o FILE")
        raise OutputError(problem) from None


def _write(stream: TextIO, text: str) -> None:
    """Write all of `text`. With PYTHONUNBUFFERED the text layer sits on a raw file whose
    partial writes it silently drops (a pipe whose reader leaves, a signal mid-write), so
    the bytes go through the binary layer in a loop until every one is written."""
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        click.echo(text, file=stream, nl=False)
        return
    stream.flush()
    view = memoryview(text.encode(stream.encoding or "utf-8", errors="backslashreplace"))
    while view:
        written = buffer.write(view)
        if written is None:  # a non-blocking descriptor that is full: wait for it
            import select

            select.select([], [buffer], [])
            continue
        view = view[written:]
    buffer.flush()


def discard_stdout() -> None:
    """Point standard output at the null device after a failed write, so the interpreter's
    final flush of what is still buffered cannot fail again (and print a traceback)."""
    stream = sys.stdout
    if stream is None:
        return
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):
        return  # not a real descriptor (a test runner's buffer): nothing flushes it later
    try:
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        os.dup2(null, fd)
    except OSError:
        pass
    finally:
        os.close(null)
