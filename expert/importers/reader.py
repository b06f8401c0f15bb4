"""Reading configuration files: multi-document YAML and JSON with the line of every key,
`kubectl get -o yaml` Lists unpacked, unrendered Helm templates and oversized inputs refused.

Documents are parsed by the assessment reader's own line-recording parser
(expert/yamlio.parse_yaml_documents); this module adds what only configuration needs: Lists,
Helm detection, JSON fallback and the limits on how much is read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from expert import yamlio
from expert.errors import InputError, Problem
from expert.yamlio import LineMap, Loc

MAX_FILES = 5000
MAX_FILE_BYTES = yamlio.MAX_BYTES
MAX_TOTAL_BYTES = 128 * 1024 * 1024
MAX_DOCUMENTS = 20000
SUFFIXES = (".yaml", ".yml", ".json")
SLURM_NAMES = ("slurm.conf",)

# Go-template actions Helm charts use; Argo's `{{args.x}}` and Flagger's `{{ namespace }}`
# placeholders are legitimate in rendered manifests and do not match.
_HELM = re.compile(
    r"\{\{-?\s*(?:\.Values|\.Release|\.Chart|\.Capabilities|\.Files|\.Template|\$|include\b|"
    r"template\b|if\b|else\b|end\b|range\b|with\b|define\b|toYaml\b|tpl\b|required\b|default\b)"
)


@dataclass
class Document:
    """One object of one file; `base` locates it inside the file (a List's items[i])."""

    data: dict[str, Any]
    lines: LineMap
    file: str
    base: Loc = ()

    def line(self, *loc: str | int) -> int | None:
        return self.lines.line((*self.base, *loc))


@dataclass
class Inputs:
    documents: list[Document] = field(default_factory=list)
    slurm: list[tuple[str, str]] = field(default_factory=list)  # (file, text)
    files: list[str] = field(default_factory=list)
    other: list[tuple[str, Any, LineMap]] = field(default_factory=list)  # non-mapping docs


def discover(paths: list[Path]) -> list[Path]:
    """The files to read, in a stable order; InputError for missing paths or too many files."""
    found: list[Path] = []
    problems = []
    for path in paths:
        if not path.exists():
            problems.append(
                Problem(str(path), "not found", fix="check the path (relative to this directory)")
            )
        elif path.is_dir():
            for sub in sorted(path.rglob("*")):
                rel = sub.relative_to(path).parts
                if any(part.startswith(".") for part in rel) or not sub.is_file():
                    continue
                if sub.suffix in SUFFIXES or sub.name in SLURM_NAMES:
                    found.append(sub)
                    if len(found) > MAX_FILES:
                        break
        else:
            found.append(path)
        if len(found) > MAX_FILES:
            raise InputError(
                Problem(
                    str(path),
                    f"more than {MAX_FILES} configuration files",
                    fix="import one application or namespace at a time",
                )
            )
    if problems:
        raise InputError(problems)
    return found


def read_all(paths: list[Path]) -> Inputs:
    """Parse every file; InputError listing every unreadable file (nothing is imported then)."""
    files = discover(paths)
    inputs = Inputs()
    problems: list[Problem] = []
    total = 0
    for path in files:
        source = str(path)
        try:
            size = path.stat().st_size
        except OSError as exc:
            problems.append(Problem(source, f"cannot read: {exc.strerror}"))
            continue
        total += size
        if size > MAX_FILE_BYTES:
            problems.append(
                Problem(
                    source,
                    f"file is {size / 1e6:.1f} MB; the limit is {MAX_FILE_BYTES / 1e6:.0f} MB",
                    fix="split the manifests, or import only the objects that hold control loops",
                )
            )
            continue
        if total > MAX_TOTAL_BYTES:
            raise InputError(
                Problem(
                    source,
                    f"the inputs exceed {MAX_TOTAL_BYTES / 1e6:.0f} MB in total",
                    fix="import one application or namespace at a time",
                )
            )
        if size == 0:
            continue  # helm template and kustomize emit empty files for disabled parts
        try:
            text = yamlio.read_text(path, what="configuration file")
        except InputError as exc:
            problems += exc.problems
            continue
        inputs.files.append(source)
        if path.name in SLURM_NAMES:
            inputs.slurm.append((source, text))
            continue
        helm = _HELM.search(text)
        if helm:
            problems.append(
                Problem(
                    source,
                    "is an unrendered Helm template ({{ ... }} found)",
                    line=text.count("\n", 0, helm.start()) + 1,
                    fix="render it first: helm template RELEASE CHART > rendered.yaml, "
                    "then import rendered.yaml",
                )
            )
            continue
        try:
            parsed = parse_documents(text, source, json_text=path.suffix == ".json")
        except InputError as exc:
            problems += exc.problems
            continue
        for data, lines in parsed:
            _add(inputs, data, lines, source)
        if len(inputs.documents) > MAX_DOCUMENTS:
            raise InputError(
                Problem(
                    source,
                    f"more than {MAX_DOCUMENTS} objects in the inputs",
                    fix="import one application or namespace at a time",
                )
            )
    if problems:
        raise InputError(problems)
    return inputs


def _add(inputs: Inputs, data: Any, lines: LineMap, source: str) -> None:
    if not isinstance(data, dict):
        if data is not None:
            inputs.other.append((source, data, lines))
        return
    if data.get("kind") == "List" or (
        str(data.get("kind", "")).endswith("List") and isinstance(data.get("items"), list)
    ):
        for i, item in enumerate(data.get("items") or []):
            if isinstance(item, dict):
                inputs.documents.append(Document(item, lines, source, ("items", i)))
        return
    inputs.documents.append(Document(data, lines, source))


def parse_documents(text: str, source: str, json_text: bool = False) -> list[tuple[Any, LineMap]]:
    """Every document of a YAML stream (or a JSON text) with a LineMap each."""
    try:
        return yamlio.parse_yaml_documents(text, source)
    except InputError:
        if not json_text:
            raise
    try:  # JSON that is not YAML (tabs for indentation): no line of each key then
        return [(json.loads(text), LineMap())]
    except json.JSONDecodeError as exc:
        raise InputError(
            Problem(source, f"not valid JSON: {exc.msg}", line=exc.lineno, fix="check the syntax")
        ) from None
