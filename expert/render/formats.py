"""The report formats and their file extensions, apart from the renderers: the command line
names them in its options, and importing them must not build the report models and
templates (about 0.4 s), which an invocation that fails early never needs."""

from __future__ import annotations

from pathlib import PurePath

FORMATS = ("markdown", "html", "json", "sarif", "csv")
EXTENSIONS = {"markdown": "md", "html": "html", "json": "json", "sarif": "sarif", "csv": "csv"}

# What an output file's name says it holds, for a command given no --format.
_BY_SUFFIX = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".json": "json",
    ".sarif": "sarif",
    ".csv": "csv",
}


def format_for(filename: str) -> str | None:
    """The report format a file name's extension names ("report.html" -> html; a SARIF log
    is often named "x.sarif.json"), or None for any other name."""
    suffixes = [x.lower() for x in PurePath(filename).suffixes]
    if suffixes[-2:] == [".sarif", ".json"]:
        return "sarif"
    return _BY_SUFFIX.get(suffixes[-1]) if suffixes else None
