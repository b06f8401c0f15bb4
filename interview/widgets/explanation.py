"""A finding explained: the answers it rests on, the chain to symptoms and costs, the
narrative in the user's own loop names, and what would clear it.

Everything the user or the knowledge base wrote is escaped before it meets markup; the
only markup here is ours (headings and links that jump to related findings).
"""

from __future__ import annotations

from textual.content import Content
from textual.markup import escape

from expert.analysis.plainwords import because_field, plain, value_words
from expert.analysis.results import Finding, Results
from expert.deliverables import economics
from expert.deliverables.economics import EconomicSummary
from interview.session import Session

KIND_NAME = {
    "incoherence": "incoherence (loops working against each other)",
    "symptom": "soft-degradation symptom",
    "ghost-cost": "ghost cost",
    "auditability": "auditability gap",
}
CHAIN_NAME = {
    "incoherence": "conflict",
    "symptom": "symptom",
    "ghost-cost": "ghost cost",
    "auditability": "audit gap",
}


def _link(f: Finding) -> str:
    return f"[@click=screen.select_finding('{f.id}')]{escape(f.title)}[/]"


def _chain(
    finding: Finding, index: dict[str, Finding], direction: str, depth: int, seen: set[str]
) -> list[str]:
    lines: list[str] = []
    if depth > 3:
        return lines
    related = finding.leads_to if direction == "down" else finding.derived_from
    for fid in related:
        other = index.get(fid)
        if other is None or fid in seen:
            continue
        seen.add(fid)
        arrow = "→" if direction == "down" else "←"
        lines.append(
            f"{'  ' * depth}{arrow} {CHAIN_NAME[other.kind]}: {_link(other)} "
            f"({other.severity}, {other.status})"
        )
        lines += _chain(other, index, direction, depth + 1, seen)
    return lines


def cost_lines(finding: Finding, money: EconomicSummary | None) -> list[str]:
    """What a ghost cost amounts to per month, and the share of its budget it takes."""
    line = next((c for c in money.costs if c.finding == finding.id), None) if money else None
    if money is None or line is None:
        return []
    out = []
    if line.money is not None:
        fmt = lambda v: economics.money(v, money.currency)  # noqa: E731
        out.append(f"• {escape(economics.range_text(line.money, fmt))} per month")
    if line.quantity is not None:
        amount = economics.range_text(line.quantity, economics.number)
        out.append(f"• {escape(amount)} {escape(line.unit)} per month")
    if line.share is not None:
        share = economics.range_text(line.share, economics.percent)
        computation = economics.COMPUTATIONS.get(line.computation)
        what = computation.parameter_label if computation else "share lost"
        out.append(f"• {escape(what)}: {escape(share)}")
    out += [f"• needs {escape(m)}" for m in line.missing]
    return out


def explain(
    finding: Finding, results: Results, session: Session, money: EconomicSummary | None = None
) -> Content:
    """The explanation of one finding, as Textual content; `money` prices a ghost cost."""
    index = results.by_id()
    name = session.loop_name
    kb = session.kb

    def words(text: str) -> str:
        return escape(plain(kb, text))

    out: list[str] = []
    out.append(f"[b]{escape(finding.title)}[/b]")
    loops = ", ".join(escape(name(lp)) for lp in finding.loops)
    out.append(
        f"[b]{finding.severity.upper()}[/b] · {KIND_NAME[finding.kind]} · "
        f"[b]{finding.status}[/b] · loops: {loops}"
    )
    if finding.severity_reason:
        out.append(f"[i]Why {finding.severity}: {words(finding.severity_reason)}[/i]")
    if finding.status == "possible":
        out.append("[i]Possible, not confirmed: it rests on answers marked unknown (below).[/i]")
    out += ["", "[b $accent]What happens[/]", words(finding.narrative)]

    out += ["", "[b $accent]Your answers it rests on[/]"]
    # The findings a symptom or cost follows from are in the chain below, by title.
    answers = [b for b in finding.because if b.field != "caused by"]
    if answers:
        for b in answers:
            # The words the reports use; results made before findings carried them are
            # phrased here from the field and value.
            text = b.said or f"{because_field(kb, b.field)}: {value_words(kb, b.value)}"
            who = name(b.loop) if b.loop else ""
            who = f"{who}: " if who and who not in text else ""  # a sentence may name it
            line = f"• {escape(who + text)}"
            if b.unknown and finding.status == "possible":
                line += " [i](unknown: so the finding is only possible)[/i]"
            elif b.unknown:  # the pattern counts not knowing as evidence of the gap
                line += " [i](not known: that nobody knows is itself the gap)[/i]"
            out.append(line)
    else:
        out.append("• derived from the findings below, not directly from answers")

    out += ["", "[b $accent]The chain: answers → finding → symptom → cost[/]"]
    up = _chain(finding, index, "up", 1, {finding.id})
    down = _chain(finding, index, "down", 1, {finding.id})
    if up:
        out.append("Caused by:")
        out += up
    out.append(f"● this {CHAIN_NAME[finding.kind]}: {escape(finding.title)}")
    if down:
        out.append("Leads to:")
        out += down
    if not up and not down:
        out.append("  (no symptom or cost follows from it on its own)")

    costs = cost_lines(finding, money)
    if costs:
        out += ["", "[b $accent]What it costs[/]", *costs]

    if finding.would_clear_if:
        out += ["", "[b $accent]What would clear it[/]"]
        out += [f"• {words(text)}" for text in finding.would_clear_if]

    settling = [q for q in results.open_questions if finding.id in q.settles]
    if settling:
        out += ["", "[b $accent]Questions that would settle it[/] (press a to answer)"]
        for q in settling:
            note = " [i](you said you don't know)[/i]" if q.answered_unknown else ""
            who = session.asked_name(q.scope, q.target)
            out.append(f"• {escape(who)}: {escape(q.text)}{note}")

    if finding.summary or finding.mechanism:
        out += ["", "[b $accent]How this pattern works[/]"]
        if finding.summary:
            out.append(escape(finding.summary))
        if finding.mechanism:
            out += ["", escape(finding.mechanism)]
    if finding.sources:
        out += ["", "[b $accent]Sources[/]"]
        out += [f"• {escape(s.title)}: {escape(s.url)}" for s in finding.sources]
    return Content.from_markup("\n".join(out))
