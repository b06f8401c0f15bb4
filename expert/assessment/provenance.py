"""Where an imported value came from, as the assessment's `sources:` maps record it.

A loop or resource may carry `sources: {field: "file:line"}`, written by `coherence import`,
with " (default ...)" when the value is an upstream default rather than written in the file
("gateway.yaml:30 (Istio default 2)"). Explanations, SARIF and the interview read it back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_CITED = re.compile(r"^(?P<file>.*?)(?::(?P<line>[1-9]\d{0,8}))?(?: \((?P<note>[^()]*)\))?$")
_INNER_NOTE = re.compile(r"\(([^()]*)\)")
MAX_CITATION = 300  # the format's limit on one `sources` entry


@dataclass(frozen=True)
class Cited:
    """One `sources` entry, read back."""

    file: str
    line: int | None
    note: str  # "" for a value written in the file; "default ..." for an upstream default

    @property
    def default(self) -> bool:
        return "default" in self.note

    def __str__(self) -> str:
        return cite(self.file, self.line, self.note)


def cite(file: str, line: int | None, note: str = "") -> str:
    """`file:line`, and ` (note)` when there is a note; at most MAX_CITATION characters, with
    the file name shortened from the left (its end names it best)."""
    # A file name is whatever the file system allowed; the format refuses characters a
    # terminal acts on, and so do the reports that cite it.
    file = "".join(ch if ch.isprintable() else "?" for ch in file)
    tail = (f":{line}" if line else "") + (f" ({note})" if note else "")
    room = MAX_CITATION - len(tail)
    if len(file) > room:
        file = "…" + file[-(room - 1) :]
    return file + tail


def default_note(upstream_field: str) -> str:
    """The note for an upstream default: the default the importer named ("Istio default 2",
    "default 10s"), or just "default"."""
    inner = _INNER_NOTE.search(upstream_field)
    if inner and "default" in inner.group(1):
        return inner.group(1)
    return "default"


def parse(text: str) -> Cited:
    """Read a `sources` entry; a file name holding ':' or '(' reads as well as it can."""
    m = _CITED.match(text)
    assert m is not None  # every part is optional
    line = m.group("line")
    return Cited(m.group("file"), int(line) if line else None, m.group("note") or "")


def source_of(item: Any, field: str) -> str | None:
    """The recorded source of `field` ("deadline", "retry.max_retries") of a loop or resource
    (a model or its plain data), if the value was imported."""
    sources = item.get("sources") if isinstance(item, dict) else getattr(item, "sources", None)
    if not isinstance(sources, dict):
        return None
    value = sources.get(field)
    return value if isinstance(value, str) else None
