"""Where a finding reaches a report: results -> Markdown / JSON text.

Templates in reports/ hold layout only; everything they show is computed here or in the
results model. Markdown output escapes user-typed text so a loop name cannot inject markup.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import jinja2

from expert.assessment import Assessment
from expert.results import Results

FORMATS = ("markdown", "json")
EXTENSIONS = {"markdown": "md", "json": "json"}
SEVERITY_MARK = {"critical": "CRITICAL", "high": "HIGH", "medium": "MEDIUM", "low": "LOW"}
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>#|])")


def md_escape(text: Any) -> str:
    """Escape Markdown and HTML metacharacters in user-typed text."""
    s = str(text).replace("&", "&amp;").replace("\r", " ").replace("\n", " ")
    return _MD_SPECIAL.sub(r"\\\1", s)


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resources.files("reports"))),
        autoescape=False,  # Markdown: escaping is explicit through the `md` filter
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md_escape
    return env


def context(results: Results, assessment: Assessment) -> dict[str, Any]:
    """Everything a template may show, precomputed."""
    findings = results.findings
    by_kind: dict[str, list[Any]] = {}
    for f in findings:
        by_kind.setdefault(f.kind, []).append(f)
    names = {
        lp.id: (lp.name if lp.name not in (None, "unknown") else lp.id) for lp in assessment.loops
    }
    return {
        "r": results,
        "a": assessment,
        "by_kind": by_kind,
        "names": names,
        "severity_mark": SEVERITY_MARK,
        "counts": results.counts(),
        "confirmed": sum(f.status == "confirmed" for f in findings),
        "possible": sum(f.status == "possible" for f in findings),
    }


def render_markdown(results: Results, assessment: Assessment) -> str:
    return _env().get_template("markdown.md.j2").render(**context(results, assessment))


def render_json(results: Results) -> str:
    return results.model_dump_json(indent=2) + "\n"


def render(fmt: str, results: Results, assessment: Assessment) -> str:
    if fmt == "json":
        return render_json(results)
    if fmt == "markdown":
        return render_markdown(results, assessment)
    raise ValueError(f"unknown format {fmt!r}")
