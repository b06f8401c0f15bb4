"""Don't know, handled the same way everywhere: where not knowing is itself the evidence
(who owns a loop, how it records decisions) the finding is confirmed, and the screen never
calls it possible or offers to settle a possible finding that does not exist."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from interview.flow import Step
from interview.screens.results import ResultsScreen

from .keyboard import make_app, settle
from .places import at


async def test_the_owner_follow_up_does_not_claim_a_possible_finding(tmp_path: Path) -> None:
    # sdk-retries has owner: unknown in the fixture.
    path = at(tmp_path, Step("question", "loop", "sdk-retries", "loop-owner"))
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        results = app.results
        assert results is not None
        # Loops whose owner question is still unanswered wait apart, held back.
        owner = [
            f for f in results.findings if f.rule == "unknown-owner" and "sdk-retries" in f.loops
        ]
        assert owner and all(f.status == "confirmed" and f.evidence.shown for f in owner)
        said = str(app.screen.query_one("#follow-up", Static).content)
        assert "Control loop without a known owner" in said
        assert "possible" not in said and "clear" in said


ONE_LOOP = """\
schema_version: 1
system: {name: Gateway}
loops:
- id: gateway-timeout
  name: Gateway timeout
  layer: safety
  owner: Edge networking
  decision_record: unknown
"""


async def test_dont_know_on_the_decision_record_is_explained_as_the_gap(tmp_path: Path) -> None:
    """Not knowing how a safety loop records its decisions is a confirmed HIGH gap by the
    pattern's design (unknown is evidence); the explanation says so instead of calling it
    'only possible'."""
    path = tmp_path / "one.yaml"
    path.write_text(ONE_LOOP)
    app = make_app(path)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        finding = next(
            f
            for f in app.results.findings  # type: ignore[union-attr]
            if f.rule == "decisions-without-reason"
        )
        assert finding.status == "confirmed"
        app.action_results(finding.id)
        await settle(pilot)
        assert isinstance(app.screen, ResultsScreen)
        app.screen.select_finding(finding.id)
        await pilot.pause()
        explanation = str(app.screen.query_one("#explanation", Static).content)
        assert "only possible" not in explanation
        assert "itself the gap" in explanation
