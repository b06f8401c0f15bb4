"""Findings as they emerge, and the follow-up questions that would settle them.

Updated after every answer from the engine's latest results; choosing a finding opens its
explanation, choosing a question jumps to it.
"""

from __future__ import annotations

from collections import Counter

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from expert.analysis.ranking import waits_on_answers
from expert.analysis.results import OpenQuestion, Results
from expert.knowledge.patterns import SEVERITY_ORDER
from interview.session import Session

KIND_LABEL = {
    "incoherence": "conflict",
    "symptom": "symptom",
    "ghost-cost": "ghost cost",
    "auditability": "audit gap",
}
MAX_FINDINGS = 12
MAX_QUESTIONS = 8


def by_severity(results: Results, shown_only: bool = False) -> list:
    """Findings (conflicts and gaps; their symptoms and costs are on the results screen),
    most severe first; `shown_only` leaves out the held-back ones (possible findings resting
    on more than one unknown answer), as the reports' headlines do."""
    findings = [f for f in results.findings if f.evidence.shown or not shown_only]
    return sorted(
        findings,
        key=lambda f: (-SEVERITY_ORDER.index(f.severity), f.status != "confirmed", f.id),
    )


def counts_line(results: Results) -> str:
    """The counts the reports' summary gives: shown findings (conflicts and gaps), and how
    many are held back. A gap waiting on a question not answered yet is no finding so far:
    the interview asks it in turn."""
    findings = [f for f in results.findings if not waits_on_answers(f)]
    if not findings:
        return "none yet"
    shown = [f for f in findings if f.evidence.shown]
    confirmed = sum(f.status == "confirmed" for f in shown)
    line = f"{confirmed} confirmed, {len(shown) - confirmed} possible"
    held_back = len(findings) - len(shown)
    return line + (f", {held_back} held back to check" if held_back else "")


def follow_ups(results: Results) -> list[OpenQuestion]:
    """Questions that would settle or clear a finding, not yet answered. One that settles
    only gaps waiting on it is left out: the interview asks it in turn."""
    waiting = {f.id for f in results.findings if waits_on_answers(f)}
    return [
        q
        for q in results.open_questions
        if not q.answered_unknown and not (q.settles and set(q.settles) <= waiting)
    ]


class LivePanel(Vertical):
    class OpenFinding(Message):
        def __init__(self, finding_id: str) -> None:
            super().__init__()
            self.finding_id = finding_id

    class OpenQuestion(Message):
        def __init__(self, scope: str, target: str, question_id: str) -> None:
            super().__init__()
            self.scope = scope  # loop or resource
            self.target = target
            self.question_id = question_id

    def compose(self) -> ComposeResult:
        yield Static("Findings appear here as you answer.", id="live-title")
        yield OptionList(id="live-list")

    def show(
        self, session: Session, results: Results | None, error: str | None, busy: bool
    ) -> None:
        title = self.query_one("#live-title", Static)
        listing = self.query_one("#live-list", OptionList)
        if error:
            title.update(Text(f"✗ Engine problem: {error}"))
            title.add_class("error")
        elif results is None:
            title.update(
                Text("Checking…" if busy else "Findings appear here once loops are described.")
            )
            title.remove_class("error")
        else:
            note = " (updating…)" if busy else ""
            title.update(Text(f"Findings: {counts_line(results)}{note} · ctrl+r: results"))
            title.remove_class("error")
        if results is None:
            listing.clear_options()
            listing.add_class("-empty")
            return
        highlighted = listing.highlighted_option.id if listing.highlighted_option else None
        options: list[Option] = []
        findings = by_severity(results, shown_only=True)
        titles_seen = Counter(f.title for f in findings[:MAX_FINDINGS])
        for f in findings[:MAX_FINDINGS]:
            label = Text()
            label.append(f"{f.severity.upper():9}", style="bold")
            label.append(f"{KIND_LABEL[f.kind]}: {f.title}")
            if titles_seen[f.title] > 1:  # one pattern found on other loops: say which
                label.append(f" ({', '.join(session.loop_name(lp) for lp in f.loops)})")
            if f.status == "possible":
                label.append(" (possible)", style="italic")
            options.append(Option(label, id=f"f:{f.id}"))
        if len(findings) > MAX_FINDINGS:
            options.append(
                Option(Text(f"… {len(findings) - MAX_FINDINGS} more in the results"), disabled=True)
            )
        titles = {f.id: f.title for f in results.every_finding()}
        questions = follow_ups(results)
        if questions:
            options.append(
                Option(Text("Follow-up questions that would settle or clear them:"), disabled=True)
            )
        for oq in questions[:MAX_QUESTIONS]:
            settles = ", ".join(dict.fromkeys(titles.get(s, s) for s in oq.settles))
            label = Text(f"? {session.asked_name(oq.scope, oq.target)}: {oq.text}")
            label.append(f" — about: {settles}", style="italic")
            options.append(Option(label, id=f"q:{oq.scope}:{oq.target}:{oq.id}"))
        listing.set_options(options)
        listing.set_class(not options, "-empty")
        ids = [o.id for o in options]
        if highlighted is not None and highlighted in ids:
            listing.highlighted = ids.index(highlighted)
        else:
            listing.scroll_home(animate=False)

    @on(OptionList.OptionSelected, "#live-list")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        option_id = event.option.id or ""
        if option_id.startswith("f:"):
            self.post_message(self.OpenFinding(option_id[2:]))
        elif option_id.startswith("q:"):
            _, scope, target, question_id = option_id.split(":", 3)
            self.post_message(self.OpenQuestion(scope, target, question_id))
