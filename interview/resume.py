"""Where the user was: kept beside the assessment in a small hidden file.

The assessment file holds only the assessment (the format `coherence assess` reads), so the
interview's own state lives in `.FILE.interview.json` next to it: the step on screen, any
text typed but not yet confirmed, and the values a template proposed that are not confirmed.
A missing or damaged file just means "start at the beginning"; it never stops the interview.
Neither does something that is not a regular file in its place (a FIFO, a device, a
folder): it is never opened, since opening a FIFO with no writer waits for ever, and never
replaced; the interview says so once and goes on without it.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VERSION = 1
MAX_PENDING = 200  # typed-but-unconfirmed answers remembered at most
MAX_BYTES = 256 * 1024


def sidecar_path(assessment_path: Path) -> Path:
    return assessment_path.with_name(f".{assessment_path.name}.interview.json")


@dataclass
class Position:
    step: str = ""
    pending: dict[str, str] = field(default_factory=dict)
    templates: dict[str, str] = field(default_factory=dict)  # loop id -> template it came from
    # loop id -> {question id: value} a template proposed and the user has not confirmed:
    # kept here, not in the assessment, so they count as answers only once confirmed.
    proposed: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Why the position file was ignored, for the user ("" when it was read or absent).
    warning: str = field(default="", compare=False)


def _special(path: Path) -> bool:
    """Whether something other than a regular file (or nothing) is at path."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _ignored(path: Path) -> Position:
    return Position(
        warning=f"{path} is not a regular file, so the interview does not use it to remember "
        "where you were; remove it to have your place remembered."
    )


def load(assessment_path: Path) -> Position:
    path = sidecar_path(assessment_path)
    if _special(path):
        return _ignored(path)
    try:
        # O_NONBLOCK: had a FIFO replaced the file since the check, opening it must not wait.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return Position()
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return _ignored(path)
        raw = os.read(fd, MAX_BYTES + 1)
    except OSError:
        return Position()
    finally:
        os.close(fd)
    if len(raw) > MAX_BYTES:
        return Position()
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError:
        return Position()
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return Position()
    step = data.get("step")
    return Position(
        step=step if isinstance(step, str) else "",
        pending=_strings(data.get("pending")),
        templates=_strings(data.get("templates")),
        proposed=_proposals(data.get("proposed")),
    )


def _proposals(value: object) -> dict[str, dict[str, Any]]:
    """Proposed values as saved: text, whole numbers or lists of text, per question."""
    if not isinstance(value, dict):
        return {}

    def fits(v: object) -> bool:
        if isinstance(v, list):
            return all(isinstance(x, str) for x in v)
        return isinstance(v, (str, int, float)) and not isinstance(v, bool)

    out: dict[str, dict[str, Any]] = {}
    for loop_id, values in value.items():
        if isinstance(loop_id, str) and isinstance(values, dict):
            kept = {k: v for k, v in values.items() if isinstance(k, str) and fits(v)}
            if kept:
                out[loop_id] = kept
    return out


def _strings(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def save(assessment_path: Path, position: Position) -> None:
    """Write the position atomically; OSError is left to the caller to report.

    Nothing is written over a position file that is not a regular file (see load)."""
    if _special(sidecar_path(assessment_path)):
        return
    pending = dict(list(position.pending.items())[-MAX_PENDING:])
    text = json.dumps(
        {
            "version": VERSION,
            "step": position.step,
            "pending": pending,
            "templates": position.templates,
            "proposed": position.proposed,
        },
        indent=1,
    )
    # Replaced atomically but not fsynced: this is written on every step, and losing the
    # last position in a power cut only means resuming one step earlier.
    target = sidecar_path(assessment_path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
