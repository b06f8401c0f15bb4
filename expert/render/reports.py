"""Where results reach a report: Markdown, self-contained HTML, JSON, SARIF and CSV.

Templates in reports/ hold layout only; everything they show is computed in expert/ (the
deliverables in Results, the map geometry in svgmap.py, the Mermaid text in mermaid.py) or by
the small formatting filters here. User-typed text is escaped in every format: HTML by the
environment's finalize hook, which escapes every expression a template writes exactly as
Jinja2 autoescaping would, Markdown through the `md` filter, Mermaid labels through entity
codes, CSV through formula neutralisation.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import quote

import jinja2
import markupsafe

from expert import collector
from expert.analysis.plainwords import counted, held_back_subject, series
from expert.analysis.results import (
    BASE_REASON,
    EFFECT_KINDS,
    Because,
    Finding,
    Member,
    Results,
    ensure_deliverables,
)
from expert.assessment.model import Assessment
from expert.deliverables.economics import (
    CauseGroup,
    Range,
    exact,
    group_by_title,
    money,
    number,
    percent,
    range_text,
)
from expert.render import csvout, mermaid, sarif, svgmap
from expert.render.formats import FORMATS

SEVERITY_MARK = {"critical": "CRITICAL", "high": "HIGH", "medium": "MEDIUM", "low": "LOW"}
KIND_HEADINGS = [
    ("incoherence", "Incoherence patterns"),
    ("symptom", "Soft-degradation symptoms"),
    ("ghost-cost", "Ghost costs"),
    ("auditability", "Auditability gaps"),
]
# Backslash first, so the backslashes added for the others are not doubled.
_MD_SPECIAL = [(ch, "\\" + ch) for ch in "\\`*_~[]<>#|"]


# An ampersand that would start a character reference (&amp; &#60; &#x3c;): only these need
# escaping, so "Edge & mesh" stays readable where a viewer shows headings literally.
_ENTITY_START = re.compile(r"&(?=#?[A-Za-z0-9]+;)")


def md_escape(text: Any) -> str:
    """Escape Markdown and HTML metacharacters in user-typed text (one line)."""
    s = _ENTITY_START.sub("&amp;", str(text)).replace("\r", " ").replace("\n", " ")
    # A str.replace per character beats a regex substitution two to three times over.
    for ch, escaped in _MD_SPECIAL:
        if ch in s:
            s = s.replace(ch, escaped)
    return s


_IDENT = re.compile(r"^[A-Za-z0-9_.:+/@~-]+$")


def md_code(text: Any) -> str:
    """An identifier as inline code; anything else is escaped text (a code span would show
    hostile text literally, but readers and scanners take it for markup)."""
    s = str(text)
    return f"`{s}`" if _IDENT.match(s) else md_escape(s)


def md_each(items: Iterable[Any]) -> list[str]:
    """Each item escaped as `md_escape` does, for a template to join: a filter call per list
    rather than a loop with a filter call and a separator test per item."""
    escape = _md
    return [escape(item) for item in items]


def web_url(url: Any) -> str:
    """The URL if it is a plain web address, else "" (no javascript:, data: or file:)."""
    s = str(url).strip()
    return s if re.match(r"^https?://[^\s<>\"']+$", s) else ""


def md_url(url: Any) -> str:
    """A web URL made safe inside a Markdown link target."""
    return quote(web_url(url), safe=":/?#=&%.,~+-_@!$*;")


_CACHES: list[dict[Any, str]] = []


class _Memo(dict[Any, str]):
    """`fn` with a cache for the length of one render: a large report writes the same loop
    names, titles and answers thousands of times. Looked up by the dictionary's own
    subscript, so a value seen before costs no Python call (a large report looks up a
    hundred thousand). Only plain strings are kept (1 and 1.0 are equal keys that print
    differently); no string subclass a template gives prints differently from the plain
    string it equals."""

    def __init__(self, fn: Callable[[Any], str]) -> None:
        super().__init__()
        self.fn = fn
        _CACHES.append(self)

    def __missing__(self, value: Any) -> str:
        out = self.fn(value)
        if type(value) is str:
            self[value] = out
        return out


def _memo(fn: Callable[[Any], str]) -> Callable[[Any], str]:
    """`fn` through a _Memo, for the Markdown filters: every value they are given is
    hashable (text, numbers, None)."""
    return _Memo(fn).__getitem__


def _memoised(fn: Callable[[Any], str]) -> Callable[[Any], str]:
    """`fn` through a _Memo for any value, as HTML's output hook gets (lists, models):
    only plain strings are looked up."""
    memo = _Memo(fn)

    def memoised(value: Any) -> str:
        return memo[value] if type(value) is str else fn(value)

    return memoised


def _forget() -> None:
    """Empty the caches after a render, so they never outgrow one report."""
    for cache in _CACHES:
        cache.clear()


def times(low: int, high: int) -> str:
    """An amplification factor range in words: 'up to 9x', or 'from 4x up to 9x'."""
    return f"up to {high}x" if low >= high else f"from {low}x up to {high}x"


def _html_escape(value: Any) -> str:
    # What autoescaping writes: markupsafe's escaping, Markup passed through unchanged.
    return str(markupsafe.escape(value))


_web_url = _memo(web_url)
_md = _memo(md_escape)


class _TemplateCache(jinja2.FileSystemBytecodeCache):
    """Compiled templates kept between runs: compiling the report templates takes about
    0.2 s a format, longer than rendering most reports. Jinja keys an entry by the template's
    source, so an edited template is compiled afresh, and one it cannot read back (cut
    short, say) is compiled again. A cache that cannot be written is only slower, never an
    error."""

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def _template_cache(fmt: str, settings: str = "") -> jinja2.BytecodeCache | None:
    """Jinja's per-user cache directory under the system's temporary directory (created
    private to the user, and refused if anyone else owns it). Jinja checks an entry against
    the template's source only, but the code compiled from it also depends on the
    environment's settings and on Jinja's own code generator: each format, settings, Jinja
    and coherence version has entries of its own, so an upgrade never runs old code."""
    from importlib import metadata

    try:
        ours = metadata.version("control-coherence")
    except metadata.PackageNotFoundError:  # run from a tree that was never installed
        ours = "source"
    key = hashlib.sha1(f"{fmt}|{settings}|{jinja2.__version__}|{ours}".encode()).hexdigest()
    try:
        return _TemplateCache(pattern=f"__coherence_{fmt}_{key[:12]}_%s.cache")
    except (OSError, RuntimeError):  # no safe directory: compile every time
        return None


# Settings that change the code Jinja compiles (the HTML environment's `finalize` too).
_SETTINGS = {"trim_blocks": True, "lstrip_blocks": True, "keep_trailing_newline": True}


@functools.lru_cache(maxsize=2)  # one environment per format, built once
def _env(html: bool) -> jinja2.Environment:
    fmt = "html" if html else "markdown"
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resources.files("reports"))),
        bytecode_cache=_template_cache(fmt, f"{sorted(_SETTINGS.items())}|finalize={html}"),
        # HTML: the finalize hook escapes every expression the template writes, as
        # autoescaping would, but into memoised plain strings. Autoescaping builds a new
        # Markup object per expression, half a million in a large report: making them and
        # the garbage collector's passes over them took over half the rendering time.
        # Markdown escapes through the `md` filter.
        autoescape=False,
        finalize=_memoised(_html_escape) if html else None,
        undefined=jinja2.StrictUndefined,
        trim_blocks=_SETTINGS["trim_blocks"],
        lstrip_blocks=_SETTINGS["lstrip_blocks"],
        keep_trailing_newline=_SETTINGS["keep_trailing_newline"],
    )
    env.filters.update(
        md=_md,
        md_each=md_each,
        code=_memo(md_code),
        web_url=_web_url,
        md_url=_memo(md_url),
        number=number,
        exact=exact,
        percent=percent,
        times=times,
        series=series,
    )
    return env


class _Lookup(dict[str, str]):
    """A mapping that gives back a key it does not know, so templates write `names[id]` (a
    plain subscript) rather than `names.get(id, id)` (a call, several times slower)."""

    def __missing__(self, key: str) -> str:
        return key


APPENDIX_GROUPS = [
    ("incoherence", "Conflicts between loops"),
    ("auditability", "Auditability gaps"),
]
Reason = tuple[str | None, str, str, str, bool]  # loop id, name, field, words, unknown


# A possible finding's narrative says what would be happening if its unknown answers are
# what the pattern needs; the reader is told so before it.
HEDGE = "If the answers marked unknown below are as it assumes: "


@dataclass(slots=True)
class FindingView:
    """A finding as Appendix A shows it, with loop names and titles looked up and links
    checked, so the template's innermost loops only unpack and print."""

    id: str
    title: str
    status: str
    severity: str
    mark: str
    narrative: str
    hedge: str  # before a possible finding's narrative, which states what it assumes as fact
    severity_reason: str
    raised: bool  # a condition raised the severity above the pattern's own rating
    loops: list[str]  # the loops' names
    because: list[Reason]
    # Findings it follows from, and its effects, by title: two findings of one pattern read
    # "Title (x2)", not the title twice.
    derived_from: list[CauseGroup]
    leads_to: list[CauseGroup]
    would_clear_if: list[str]
    sources: list[tuple[str, str]]  # title, web URL or ""
    evidence: str  # the evidence score in words
    # Each grouped match as "its loops' names (status)": a report joins them, and a large one
    # has thousands. `members` as written, for HTML (whose output hook escapes them);
    # `members_md` escaped for Markdown, made of each loop's escaped name (the status is a
    # plain word and the separators hold no markup, so this equals escaping the whole, but
    # escapes a name once per list of findings, not once for every match it is in). Each is
    # empty when only the other format is rendered.
    members: list[str]
    members_md: list[str]


class _FindingViews:
    """The views of some findings, made one at a time as the template reaches them, so a
    report never holds tens of thousands of them at once."""

    def __init__(
        self,
        findings: list[Finding],
        names: _Lookup,
        titles: _Lookup,
        held: AbstractSet[str],
        links: bool = True,
        html: bool | None = None,
    ) -> None:
        self.findings, self.names, self.titles = findings, names, titles
        # Held-back findings: not named as causes of shown ones, and never linked (they are
        # listed to check and have no entry of their own).
        self.held = held
        # Without `links`, views leave derived_from, leads_to and sources empty: the
        # appendix's pattern groups show none of them (the pattern's sources are shown once,
        # above its findings), and a large report has a thousand findings there.
        self.links = links
        # The formats the views are for (see `context`): which of the members lists to make.
        self.html = html

    def __len__(self) -> int:
        return len(self.findings)

    def __iter__(self) -> Iterator[FindingView]:
        names, titles, held, links = self.names, self.titles, self.held, self.links
        raw = names if self.html is not False else None
        escaped = _Escaped(names) if self.html is not True else None
        for f in self.findings:
            yield FindingView(
                id=f.id,
                title=f.title,
                status=f.status,
                severity=f.severity,
                mark=SEVERITY_MARK[f.severity],
                narrative=f.narrative,
                hedge=HEDGE if f.status == "possible" and f.evidence.missing else "",
                severity_reason=f.severity_reason,
                raised=bool(f.severity_reason) and not f.severity_reason.startswith(BASE_REASON),
                loops=[names[lp] for lp in f.loops],
                because=[
                    (b.loop, _who(b, names), b.field, _cited(b), b.unknown) for b in f.because
                ],
                derived_from=group_by_title(
                    [c for c in f.derived_from if c not in held] or f.derived_from, titles, held
                )
                if links
                else [],
                leads_to=group_by_title(f.leads_to, titles, held) if links else [],
                would_clear_if=f.would_clear_if,
                sources=[(src.title, _web_url(src.url)) for src in f.sources] if links else [],
                evidence=evidence_text(f),
                members=[_member(m, raw) for m in f.members] if raw is not None else [],
                members_md=[_member(m, escaped) for m in f.members] if escaped is not None else [],
            )


@dataclass(slots=True)
class PatternGroup:
    """The findings of one pattern, explained once in the appendix."""

    rule: str
    title: str
    summary: str
    mechanism: str  # how the loops come to work against each other, for the engineer
    sources: list[tuple[str, str]]  # title, web URL or ""
    findings: _FindingViews


class _Escaped(dict[str, str]):
    """Loop names escaped for Markdown by loop id, each escaped when first asked for."""

    def __init__(self, names: _Lookup) -> None:
        super().__init__()
        self.names = names

    def __missing__(self, key: str) -> str:
        out = self[key] = _md(self.names[key])
        return out


def _member(m: Member, names: dict[str, str]) -> str:
    """A grouped match as a report lists it: its loops' names, then its status."""
    return f"{series([names[lp] for lp in m.loops])} ({m.status})"


def _who(b: Because, names: dict[str, str]) -> str:
    """The loop an answer belongs to, to put before it; nothing when there is none or the
    sentence already names it ("the deadline of Liveness probe restarts is ...")."""
    name = names[b.loop] if b.loop else ""
    return "" if name and b.said and name in b.said else name


def _cited(b: Because) -> str:
    """A because entry in words (the answer's question and its value; the raw field and
    value only for results made before they carried words), with the configuration line it
    was imported from."""
    text = b.said or f"{b.field} = {b.value}"
    return f"{text} (from {b.source})" if b.source else text


def evidence_text(f: Finding) -> str:
    """A finding's evidence score in words."""
    e = f.evidence
    text = f"score {e.score:.2f}: {f.severity} severity, {round(e.known_share * 100)}% of its tests"
    text += " on known answers"
    if e.missing:
        text += f"; {e.missing} answer{'s' if e.missing != 1 else ''} still unknown"
    return text


def context(results: Results, assessment: Assessment, html: bool | None = None) -> dict[str, Any]:
    """Everything a template may show, precomputed: for the HTML report (`html`), for the
    Markdown one (not `html`), or for both (None). Only HTML draws the map as a picture and
    only Markdown as a Mermaid diagram, and each takes a large map a while to lay out."""
    results = ensure_deliverables(results)
    assert results.inventory is not None and results.economics is not None
    findings = results.shown()  # headlines and counts; held-back findings are listed apart
    of_kind: dict[str, list[Finding]] = {}
    for f in findings:
        of_kind.setdefault(f.kind, []).append(f)
    names = _Lookup(
        (lp.id, lp.name if lp.name not in (None, "unknown") else lp.id) for lp in assessment.loops
    )
    titles = _Lookup((f.id, f.title) for f in results.every_finding())
    held = {f.id: f for f in results.every_finding() if not f.evidence.shown}
    held_ids = held.keys()
    to_check = [
        (
            g.question,
            [
                (held[i].title, ", ".join(names[lp] for lp in held[i].loops), i)
                for i in g.findings
                if i in held
            ],
        )
        for g in results.to_check
    ]
    by_kind = {
        kind: _FindingViews(group, names, titles, held_ids, html=html)
        for kind, group in of_kind.items()
    }
    # The appendix explains each kind of conflict (and of gap) once, with every finding of it
    # below; symptoms and ghost costs follow from them and are listed compactly.
    by_pattern: dict[str, list[Finding]] = {}
    for f in findings:
        if f.kind in ("incoherence", "auditability"):
            by_pattern.setdefault(f.rule, []).append(f)
    appendix = [
        (
            kind,
            heading,
            [
                PatternGroup(
                    rule=group[0].rule,
                    title=group[0].title,
                    summary=group[0].summary,
                    mechanism=group[0].mechanism,
                    sources=[(src.title, _web_url(src.url)) for src in group[0].sources],
                    findings=_FindingViews(group, names, titles, held_ids, links=False, html=html),
                )
                for group in by_pattern.values()
                if group[0].kind == kind
            ],
        )
        for kind, heading in APPENDIX_GROUPS
    ]
    derived = _FindingViews(
        [f for f in findings if f.kind in EFFECT_KINDS], names, titles, held_ids, html=html
    )
    held_counts = results.held_back_counts()
    layers = [(g.layer, g.label) for g in results.inventory.layers]
    map_edges = svgmap.aggregate(results.risk_map)  # the table, the picture and the diagram
    drawing = svgmap.MapParts(results.risk_map, map_edges)
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
        "appendix": appendix,
        "derived": derived,
        "info": results.report,
        # Ghost costs the economic summary prices and explains: the appendix only links there.
        "priced_costs": {c.finding for c in econ.costs if c.money is not None},
        "coherence": results.executive_summary.coherence
        if results.executive_summary is not None
        else None,
        "kind_headings": KIND_HEADINGS,
        "names": names,
        "resource_names": _Lookup((r.id, r.shown_name) for r in assessment.resource_list()),
        "titles": titles,
        "severity_mark": SEVERITY_MARK,
        "counts": results.counts(),
        # The counts line in words, each noun agreeing with its number.
        "counted": counted,
        # Findings are what to act on; their symptoms and costs are counted apart.
        "confirmed": sum(f.status == "confirmed" for f in findings if f.kind not in EFFECT_KINDS),
        "possible": sum(f.status == "possible" for f in findings if f.kind not in EFFECT_KINDS),
        # The picture's text alternative, and what it leaves out, which Markdown says too.
        "caption": drawing.caption(layers),
        "svg": svgmap.build(results.risk_map, layers, map_edges, drawing)
        if html is not False
        else None,
        # Each conflict zone with its pattern's title and its loops' names.
        "zones": [
            (z.severity, z.finding, titles[z.finding], [names[lp] for lp in z.loops], z.status)
            for z in results.risk_map.conflict_zones
        ],
        "map_edges": [
            (
                e.source_name,
                e.target_name,
                ", ".join(e.signals),
                ", ".join(e.resources),
                e.kind,
                e.severity,
            )
            for e in map_edges
        ],
        "mermaid": mermaid.flowchart(results.risk_map, layers, map_edges, drawing)
        if html is not True
        else "",
        "money_range": money_range,
        "quantity_range": quantity_range,
        "money": lambda v: money(v, cur),
        "changes": results.changed_patterns(),
        "held_back": results.held_back,
        # "2 more possible findings and 1 symptom or cost", and whether a verb takes "are".
        "held_more": held_back_subject(*held_counts),
        "held_all": held_back_subject(*held_counts, more=False),
        "to_check": to_check,
    }


def _render(template: str, html: bool, results: Results, assessment: Assessment) -> str:
    try:
        return _env(html).get_template(template).render(**context(results, assessment, html))
    finally:
        _forget()


def render_markdown(results: Results, assessment: Assessment) -> str:
    return _render("markdown.md.j2", False, results, assessment)


def render_html(results: Results, assessment: Assessment) -> str:
    return _render("report.html.j2", True, results, assessment)


def render_json(results: Results, assessment: Assessment) -> str:
    return ensure_deliverables(results).model_dump_json(indent=2) + "\n"


def render(fmt: str, results: Results, assessment: Assessment) -> str:
    with collector.paused():  # see expert/collector.py
        return _render_format(fmt, results, assessment)


def _render_format(fmt: str, results: Results, assessment: Assessment) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    results = ensure_deliverables(results)  # every format, before anything is rendered
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
