"""What importers build: loops and resources in the assessment's vocabulary, each value with
the file and line it came from, and whether it is an upstream default rather than written."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from expert.assessment.provenance import cite, default_note
from expert.errors import Problem
from expert.importers.reader import Document


@dataclass(frozen=True)
class Source:
    """Where one imported value came from."""

    file: str
    line: int | None
    default: bool
    upstream_field: str

    def __str__(self) -> str:
        place = f"{self.file}:{self.line}" if self.line else self.file
        return f"{self.upstream_field} ({'default, ' if self.default else ''}{place})"

    def cite(self) -> str:
        """As the assessment's `sources:` records it: "hpa.yaml:14", "vs.yaml:9 (default)"."""
        note = default_note(self.upstream_field) if self.default else ""
        return cite(_relative(self.file), self.line, note)


def _relative(file: str) -> str:
    """A file under the working directory as a relative path, so that the assessment stays
    valid for whoever checks out the same repository (and SARIF can point into it)."""
    path = Path(file)
    if not path.is_absolute():
        return file
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return file


class Upstream(BaseModel):
    """Base of the typed views of upstream objects: camelCase names, unknown fields kept."""

    model_config = ConfigDict(extra="allow", alias_generator=to_camel, populate_by_name=True)


class Snake(BaseModel):
    """Base for formats whose fields are snake_case (Envoy, Ray Serve, vLLM)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


def parse_model(cls: type[Any], data: Any, doc: Document, at: tuple[Any, ...], ctx: Any) -> Any:
    """Validate `data` as `cls`; on failure record a located problem and return None."""
    try:
        return cls.model_validate(data if data is not None else {})
    except ValidationError as exc:
        for err in exc.errors()[:5]:
            loc = (*at, *(p for p in err["loc"] if isinstance(p, (str, int))))
            ctx.problems.append(
                problem_at(
                    doc,
                    loc,
                    f"{doc.data.get('kind', 'object')} {name_of(doc)!r}: {err['msg']}",
                    "this object was skipped; correct the field and import again",
                )
            )
        return None


def problem_at(doc: Document, loc: tuple[Any, ...], message: str, fix: str) -> Problem:
    """A problem at a place in an imported file: its path, the field's path and its line."""
    return Problem(
        doc.file, message, where=".".join(str(p) for p in loc), line=doc.line(*loc), fix=fix
    )


def mapping(data: Any, key: str) -> dict[Any, Any]:
    """The mapping under `key` of a parsed object, or an empty one when it is absent or not a
    mapping (the importers skip what they cannot read rather than fail on it)."""
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def name_of(doc: Document) -> str:
    """metadata.name, or generateName for objects created with a generated name."""
    meta = doc.data.get("metadata")
    if not isinstance(meta, dict):
        return ""
    return str(meta.get("name") or str(meta.get("generateName") or "").rstrip("-"))


def namespace_of(doc: Document) -> str:
    meta = doc.data.get("metadata")
    ns = meta.get("namespace") if isinstance(meta, dict) else None
    return str(ns) if ns else "default"


_NOT_SLUG = re.compile(r"[^a-z0-9_-]+")


def slugify(text: str) -> str:
    slug = _NOT_SLUG.sub("-", text.lower()).strip("-_") or "object"
    return slug[:64].rstrip("-_") or "object"


# ------------------------------------------------------------------------------- durations

_GO_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}


def duration_ms(value: Any) -> int | None:
    """Milliseconds of a Go/protobuf duration ("1m30s", "0.25s"), seconds as a number, or
    {seconds, nanos}; None when it is none of these."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value * 1000)
    if isinstance(value, dict) and ("seconds" in value or "nanos" in value):
        try:
            return int(float(value.get("seconds", 0)) * 1000 + float(value.get("nanos", 0)) / 1e6)
        except (TypeError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or _GO_PART.sub("", text):
        return None
    return int(sum(float(n) * _GO_UNITS[u] for n, u in _GO_PART.findall(text)))


def given_duration_ms(
    value: Any, doc: Document, loc: tuple[Any, ...], problems: list[Problem], instead: str
) -> int | None:
    """duration_ms of a value the file gives, None when it is no positive duration. Zero
    (which turns a timeout off) is None without a word; anything else that is no duration
    is warned of with its file and line and what was done `instead`."""
    ms = duration_ms(value)
    if ms is not None and ms > 0:
        return ms
    if ms != 0 and value is not None and value != "":
        problems.append(
            problem_at(
                doc,
                loc,
                f'"{value}" is not a positive duration, so {instead}',
                'write it as a duration ("60s", "1m30s") and import again',
            )
        )
    return None


def fmt_ms(ms: int) -> str:
    """A duration as the assessment writes it: 90s, 5m, 250ms. The format has no zero
    duration, so a zero one (GraceTime=0: no notice at all) is written as 1ms."""
    ms = max(ms, 1)
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= size and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def fmt_range(lo_ms: int, hi_ms: int) -> str:
    return fmt_ms(lo_ms) if lo_ms == hi_ms else f"{fmt_ms(lo_ms)}-{fmt_ms(hi_ms)}"


# ------------------------------------------------------------------------ loops, resources


@dataclass
class Entry:
    """One loop or resource being built, with the source of each of its fields."""

    section: str  # "loops" | "resources"
    data: dict[str, Any]
    prov: dict[str, Source] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.data["id"])

    def put(self, dotted: str, value: Any, source: Source) -> Entry:
        """Set a field (dotted for nested: retry.max_retries, answers.counts-disruptions)."""
        parts = dotted.split(".", 1) if dotted.startswith("answers.") else dotted.split(".")
        target = self.data
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        # a copy, so that no two fields share a list (YAML would write an alias for it)
        target[parts[-1]] = list(value) if isinstance(value, list) else value
        self.prov[dotted] = source
        return self

    def written(self) -> dict[str, Any]:
        """The entry as the assessment holds it, with `sources:` citing each field's file
        and line (so findings and the interview can say where a value came from)."""
        data = dict(self.data)
        sources = {k: s.cite() for k, s in sorted(self.prov.items()) if k != "name"}
        if sources:
            data["sources"] = sources
        return data

    def add_to(self, key: str, values: list[str], source: Source) -> None:
        """Extend a list field (acts_on, calls) without repeats."""
        current = self.data.setdefault(key, [])
        for value in values:
            if value not in current:
                current.append(value)
        self.prov.setdefault(key, source)


class Builder:
    """Collects resources and loops with unique ids and their provenance."""

    def __init__(self) -> None:
        self.resources: dict[str, Entry] = {}
        self.loops: dict[str, Entry] = {}

    def _unique(self, taken: dict[str, Entry], wanted: str) -> str:
        base = slugify(wanted)
        candidate, n = base, 2
        while candidate in taken:
            suffix = f"-{n}"
            candidate = base[: 64 - len(suffix)] + suffix
            n += 1
        return candidate

    def resource(self, wanted: str, kind: str, name: str, source: Source) -> Entry:
        rid = self._unique(self.resources, wanted)
        entry = Entry("resources", {"id": rid, "kind": kind, "name": name[:2000]})
        entry.prov["kind"] = source
        entry.prov["name"] = source
        self.resources[rid] = entry
        return entry

    def loop(self, wanted: str, name: str, source: Source) -> Entry:
        lid = self._unique(self.loops, wanted)
        entry = Entry("loops", {"id": lid, "name": name[:2000]})
        entry.prov["name"] = source
        self.loops[lid] = entry
        return entry

    def assessment(
        self, system_name: str, description: str
    ) -> tuple[dict[str, Any], dict[str, Source]]:
        """The assessment as plain data, and the provenance keyed by dotted path."""
        provenance: dict[str, Source] = {}
        resources, loops = [], []
        for i, entry in enumerate(self.resources.values()):
            resources.append(entry.written())
            provenance.update({f"resources[{i}].{k}": s for k, s in entry.prov.items()})
        for i, entry in enumerate(self.loops.values()):
            loops.append(entry.written())
            provenance.update({f"loops[{i}].{k}": s for k, s in entry.prov.items()})
        data = {
            "schema_version": 1,
            "system": {"name": system_name, "description": description},
            "resources": resources,
            "loops": loops,
        }
        return data, provenance


def at(doc: Document, loc: tuple[Any, ...], upstream: str, default: bool = False) -> Source:
    """A Source for a value found (or defaulted) at `loc` inside a document."""
    return Source(doc.file, doc.line(*loc), default, upstream)
