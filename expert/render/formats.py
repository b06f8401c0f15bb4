"""The report formats and their file extensions, apart from the renderers: the command line
names them in its options, and importing them must not build the report models and
templates (about 0.4 s), which an invocation that fails early never needs."""

from __future__ import annotations

FORMATS = ("markdown", "html", "json", "sarif", "csv")
EXTENSIONS = {"markdown": "md", "html": "html", "json": "json", "sarif": "sarif", "csv": "csv"}
