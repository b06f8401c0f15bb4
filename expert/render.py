"""Where results reach a report: Markdown, self-contained HTML, JSON, SARIF and CSV.

Templates in reports/ hold layout only; everything they show is computed in expert/ (the
deliverables in Results, the map geometry in svgmap.py, the Mermaid text in mermaid.py) or by
the small formatting filters here. User-typed text is escaped in every format: HTML through
Jinja2 autoescaping, Markdown through the `md` filter, Mermaid labels through entity codes,
CSV through formula neutralisation.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any
from urllib.parse import quote

import jinja2

from expert import csvout, deliverables, mermaid, sarif, svgmap
from expert.assessment import Assessment
from expert.economics import Range, exact, money, number, percent, range_text
from expert.results import Results

FORMATS = ("markdown", "html", "json", "sarif", "csv")
EXTENSIONS = {"markdown": "md", "html": "html", "json": "json", "sarif": "sarif", "csv": "csv"}
SEVERITY_MARK = {"critical": "CRITICAL", "high": "HIGH", "medium": "MEDIUM", "low": "LOW"}
KIND_HEADINGS = [
    ("incoherence", "Incoherence patterns"),
    ("symptom", "Soft-degradation symptoms"),
    ("ghost-cost", "Ghost costs"),
    ("auditability", "Auditability gaps"),
]
_MD_SPECIAL = re.compile(r"([\\`*_~\[\]<>#|])")


def md_escape(text: Any) -> str:
    """Escape Markdown and HTML metacharacters in user-typed text (one line)."""
    s = str(text).replace("&", "&amp;").replace("\r", " ").replace("\n", " ")
    return _MD_SPECIAL.sub(r"\\\1", s)


_IDENT = re.compile(r"^[A-Za-z0-9_.:+/-]+$")


def md_code(text: Any) -> str:
    """An identifier as inline code; anything else is escaped text (a code span would show
    hostile text literally, but readers and scanners take it for markup)."""
    s = str(text)
    return f"`{s}`" if _IDENT.match(s) else md_escape(s)


def web_url(url: Any) -> str:
    """The URL if it is a plain web address, else "" (no javascript:, data: or file:)."""
    s = str(url).strip()
    return s if re.match(r"^https?://[^\s<>\"']+$", s) else ""


def md_url(url: Any) -> str:
    """A web URL made safe inside a Markdown link target."""
    return quote(web_url(url), safe=":/?#=&%.,~+-_@!$*;")


@functools.lru_cache(maxsize=2)  # one environment per escaping mode, built once
def _env(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resources.files("reports"))),
        autoescape=autoescape,  # Markdown escapes explicitly through the `md` filter
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        md=md_escape,
        code=md_code,
        web_url=web_url,
        md_url=md_url,
        number=number,
        exact=exact,
        percent=percent,
    )
    return env


def context(results: Results, assessment: Assessment) -> dict[str, Any]:
    """Everything a template may show, precomputed."""
    results = deliverables.ensure(results, assessment)
    assert results.inventory is not None and results.economics is not None
    findings = results.findings
    by_kind: dict[str, list[Any]] = {}
    for f in findings:
        by_kind.setdefault(f.kind, []).append(f)
    names = {
        lp.id: (lp.name if lp.name not in (None, "unknown") else lp.id) for lp in assessment.loops
    }
    layers = [(g.layer, g.label) for g in results.inventory.layers]
    econ = results.economics
    cur = econ.currency

    def money_range(r: Range | None) -> str:
        return range_text(r, lambda v: money(v, cur)) if r is not None else ""

    def quantity_range(r: Range | None, unit: str) -> str:
        return f"{range_text(r, number)} {unit}" if r is not None else ""

    return {
        "r": results,
        "a": assessment,
        "s": results.executive_summary,
        "inv": results.inventory,
        "econ": econ,
        "audit": results.audit_gaps,
        "by_kind": by_kind,
        "kind_headings": KIND_HEADINGS,
        "names": names,
        "titles": {f.id: f.title for f in findings},
        "severity_mark": SEVERITY_MARK,
        "counts": results.counts(),
        "confirmed": sum(f.status == "confirmed" for f in findings),
        "possible": sum(f.status == "possible" for f in findings),
        "svg": svgmap.build(results.risk_map, layers),
        "map_edges": svgmap.aggregate(results.risk_map),
        "mermaid": mermaid.flowchart(results.risk_map, layers),
        "money_range": money_range,
        "quantity_range": quantity_range,
        "money": lambda v: money(v, cur),
    }


def render_markdown(results: Results, assessment: Assessment) -> str:
    return _env(False).get_template("markdown.md.j2").render(**context(results, assessment))


def render_html(results: Results, assessment: Assessment) -> str:
    return _env(True).get_template("report.html.j2").render(**context(results, assessment))


def render_json(results: Results, assessment: Assessment) -> str:
    return deliverables.ensure(results, assessment).model_dump_json(indent=2) + "\n"


def render(fmt: str, results: Results, assessment: Assessment) -> str:
    if fmt == "json":
        return render_json(results, assessment)
    if fmt == "markdown":
        return render_markdown(results, assessment)
    if fmt == "html":
        return render_html(results, assessment)
    if fmt == "sarif":
        return sarif.render(results, assessment)
    if fmt == "csv":
        return csvout.render(results, assessment)
    raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
