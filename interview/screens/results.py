"""The results: every finding by severity and kind; the highlighted one explained.

The list follows the engine live (it re-runs after every answer); the explanation shows the
chain from the user's answers to the finding, its symptoms and their costs, with links that
jump along the chain.
"""

from __future__ import annotations

from collections import Counter
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from expert.analysis.plainwords import effects_words
from expert.analysis.results import Finding, Results
from expert.assessment.model import Assessment, Decision
from expert.deliverables import economics
from expert.deliverables.economics import CostLine, EconomicSummary
from expert.errors import InputError
from expert.knowledge.knowledgebase import KnowledgeBase
from expert.knowledge.patterns import SEVERITY_ORDER
from interview.screens.decision import DecisionDialog
from interview.widgets.explanation import explain
from interview.widgets.live_panel import KIND_LABEL, counts_line

KIND_ORDER = ["incoherence", "symptom", "ghost-cost", "auditability"]


def exposure(results: Results, assessment: Assessment | None, kb: KnowledgeBase) -> EconomicSummary:
    """The Economic Risk Summary of these results. The interview's re-runs leave it out to
    stay quick; pricing the ghost costs alone is cheap, so the screen does it here."""
    if results.economics is not None:
        return results.economics
    models = {pid: p.cost for pid, p in kb.patterns.items() if p.cost is not None}
    return economics.summarise(
        results.every_finding(),
        assessment.economics if assessment else None,
        models,
        economics.followed_back(assessment.loops) if assessment else (),
    )


# The user's figures, as short as a line allows (the report states them in full).
ASSUMPTION_PARTS = (
    ("accelerator_count", "{n} accelerators"),
    ("accelerator_hour_cost", "{c} {x}/accelerator-hour"),
    ("monthly_tokens", "{n} tokens/month"),
    ("cost_per_million_tokens", "{c} {x}/million tokens"),
    ("engineers", "{n} engineers"),
    ("engineer_hour_cost", "{c} {x}/engineer-hour"),
)
# One line each (cut with … on a narrow screen): the findings table keeps its rows.


def exposure_lines(summary: EconomicSummary) -> list[str]:
    """The exposure range, then its assumptions on one line."""
    if not summary.costs:
        return [summary.headline]
    if summary.total is None:
        return [summary.headline, "Give the economic figures (on the review) to price it."]
    fmt = lambda v: economics.money(v, summary.currency)  # noqa: E731
    total = summary.total
    line = (
        f"Exposure per month: {fmt(total.low)} low, {fmt(total.likely)} likely, "
        f"{fmt(total.high)} high"
    )
    if summary.total_partial:
        line += " (some costs could not be priced)"
    values = {f.name: f.value for f in summary.figures if f.value is not None}
    given = [
        template.format(
            n=economics.number(values[name]), x=economics.exact(values[name]), c=summary.currency
        )
        for name, template in ASSUMPTION_PARTS
        if name in values
    ]
    assumes = "Assumes " + ", ".join(given)
    return [line, assumes]


def cost_cell(line: CostLine | None, charged: float, currency: str) -> str:
    """A row's likely cost per month for the table: a ghost cost's own money, else its own
    units; for a conflict or gap, the money charged to it (`charged`)."""
    if line is None:
        return economics.money(charged, currency) if charged >= 0.5 else ""
    if line.money is not None:
        return economics.money(line.money.likely, currency)
    if line.quantity is not None:
        return f"{economics.number(line.quantity.likely)} {line.unit}"
    return ""


def sort_findings(results: Results, by: str) -> list[Finding]:
    def severity(f: Finding) -> int:
        return -SEVERITY_ORDER.index(f.severity)

    def kind(f: Finding) -> int:
        return KIND_ORDER.index(f.kind)

    # The table lists the findings and their effects, each row with its kind.
    every = results.every_finding()
    if by == "kind":
        return sorted(every, key=lambda f: (kind(f), severity(f), f.status != "confirmed", f.id))
    return sorted(every, key=lambda f: (severity(f), kind(f), f.status != "confirmed", f.id))


class ResultsScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back to questions"),
        Binding("s", "sort", "Sort"),
        Binding("a", "answer", "Answer to settle"),
        Binding("d", "decide", "Decide"),
        Binding("e", "app.export", "Export"),
    ]

    def __init__(self, finding_id: str | None = None) -> None:
        super().__init__()
        self.selected = finding_id
        self.sort_by = "severity"
        self.shown: list[Finding] = []
        self.money: EconomicSummary | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="results-summary")
        with Container(id="results-split"):
            table: DataTable[str] = DataTable(id="findings", cursor_type="row", zebra_stripes=True)
            yield table
            with VerticalScroll(id="explanation-scroll"):
                yield Static(id="explanation")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#findings", DataTable)
        table.add_columns("Severity", "Kind", "Status", "Per month", "Finding")
        self.refresh_results()
        table.focus()

    def refresh_results(self) -> None:
        """Fill the table from the app's latest results, keeping the selected finding."""
        app = self.app
        results: Results | None = app.results  # type: ignore[attr-defined]
        error: str | None = app.engine_error  # type: ignore[attr-defined]
        summary = self.query_one("#results-summary", Static)
        table = self.query_one("#findings", DataTable)
        if results is None:
            summary.update(
                Text(f"✗ {error}" if error else "Working out the findings…", style="bold")
            )
            table.clear()
            self.shown = []
            self._explain(None)
            return
        session = app.session  # type: ignore[attr-defined]
        counts = results.counts()
        # The table lists effects too: say what those rows are.
        effects = effects_words(counts.get("symptom", 0), counts.get("ghost-cost", 0))
        line = f"Findings: {counts_line(results)}"
        line += f"; they lead to {effects}" if effects else ""
        line += f" · sorted by {self.sort_by}"
        if error:
            line += f" · ✗ {error} (showing the last results)"
        assessed = app.results_for or session.assessment  # type: ignore[attr-defined]
        self.money = exposure(results, assessed, session.kb)
        summary.update(Text("\n".join([line, *exposure_lines(self.money)])))
        costs = {c.finding: c for c in self.money.costs}
        # A conflict's or gap's money is what the Economic Risk Summary charges it.
        charged = economics.charged_central(self.money) if self.money.priced else {}
        self.shown = sort_findings(results, self.sort_by)
        # The file's decisions, which a saved decision changes without a re-run.
        decided = session.assessment.decisions if session.assessment is not None else {}
        table.clear()
        # Two findings of one pattern would read the same: each names its loops.
        repeated = Counter(f.title for f in self.shown)
        for f in self.shown:
            title = f.title
            if repeated[title] > 1 and f.loops:
                title += " (" + ", ".join(session.loop_name(lp) for lp in f.loops) + ")"
            table.add_row(
                f.severity.upper(),
                KIND_LABEL[f.kind],
                f"{f.status}, {decided[f.id].state}" if f.id in decided else f.status,
                cost_cell(costs.get(f.id), charged.get(f.id, 0.0), self.money.currency),
                Text(title),
                key=f.id,
            )
        ids = [f.id for f in self.shown]
        if self.selected in ids:
            table.move_cursor(row=ids.index(self.selected), animate=False)
        elif ids:
            self.selected = ids[0]
            table.move_cursor(row=0, animate=False)
        else:
            self.selected = None
        self._explain(self.selected)

    def _explain(self, finding_id: str | None) -> None:
        widget = self.query_one("#explanation", Static)
        results: Results | None = self.app.results  # type: ignore[attr-defined]
        finding = results.by_id().get(finding_id) if results and finding_id else None
        if finding is None or results is None:
            widget.update(
                Text(
                    "No findings yet. Conflicts need at least two loops that act on the same "
                    "resource; describe more loops, or answer the follow-up questions."
                    if results is not None
                    else ""
                )
            )
            return
        text = explain(finding, results, self.app.session, self.money)  # type: ignore[attr-defined]
        decision = self._decision(finding.id)
        if decision is not None:
            said = f"\n\nDecision: {decision.state}, {decision.date}"
            said += f" by {decision.by}" if decision.by else ""
            said += f" (expires {decision.expires})" if decision.expires else ""
            text = text + Content.styled(f"{said}: {decision.reason}", "bold")
        widget.update(text)
        self.query_one("#explanation-scroll", VerticalScroll).scroll_home(animate=False)

    @on(DataTable.RowHighlighted, "#findings")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        finding_id = event.row_key.value if event.row_key else None
        if finding_id and finding_id != self.selected:
            self.selected = finding_id
            self._explain(finding_id)

    @on(DataTable.RowSelected, "#findings")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.query_one("#explanation-scroll").focus()

    def select_finding(self, finding_id: str) -> None:
        """Jump to a finding (the links in an explanation call this)."""
        ids = [f.id for f in self.shown]
        if finding_id in ids:
            self.selected = finding_id
            self.query_one("#findings", DataTable).move_cursor(
                row=ids.index(finding_id), animate=False
            )
            self._explain(finding_id)

    def action_select_finding(self, finding_id: str) -> None:
        self.select_finding(finding_id)

    def action_sort(self) -> None:
        self.sort_by = "kind" if self.sort_by == "severity" else "severity"
        self.refresh_results()

    def action_back(self) -> None:
        self.app.pop_screen()

    def _decision(self, finding_id: str) -> Decision | None:
        assessment = self.app.session.assessment  # type: ignore[attr-defined]
        return assessment.decisions.get(finding_id) if assessment is not None else None

    def action_decide(self) -> None:
        """Record a decision about the selected finding (saved at once, like an answer)."""
        results: Results | None = self.app.results  # type: ignore[attr-defined]
        finding = results.by_id().get(self.selected or "") if results else None
        if finding is None:
            return

        def save(chosen: tuple[str, str, str] | None) -> None:
            if chosen is None:
                return
            state, reason, by = chosen
            try:
                self.app.session.decide(finding.id, state, reason, by)  # type: ignore[attr-defined]
            except InputError as exc:
                self.notify(str(exc), severity="error", timeout=10)
                return
            self.notify(f"Saved: {state}.", severity="information")
            self.refresh_results()

        self.app.push_screen(
            DecisionDialog(finding.id, finding.title, self._decision(finding.id)), save
        )

    def action_answer(self) -> None:
        results: Results | None = self.app.results  # type: ignore[attr-defined]
        if results is None or self.selected is None:
            return
        settling = [q for q in results.open_questions if self.selected in q.settles]
        if not settling:
            self.notify("No open question would change this finding.", severity="information")
            return
        question = settling[0]
        self.app.pop_screen()
        self.app.open_question(question.scope, question.target, question.id)  # type: ignore[attr-defined]
