"""Settling what respondents disagree about, in a file `coherence merge` wrote: the
interview shows who said what on the question, takes the answer picked (or the user's own),
and saves the file without the disagreement, so the finding about it goes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from textual.widgets import OptionList, Static

from expert.analysis.assess import Assessor
from expert.assessment import respondents
from expert.assessment.model import load
from expert.errors import InputError
from interview import resume
from interview.flow import Step
from interview.screens.dispute import DisputeDialog
from interview.session import Session
from tests.helpers import builtin_kb

from .keyboard import make_app, settle

DATA = Path(__file__).parents[1] / "data" / "lifecycle"
QUESTION = "loop-propagates-cancellation"
STEP = Step("question", "loop", "gateway-timeout", QUESTION)


def merged(tmp_path: Path) -> Path:
    """The two respondents' files merged: they disagree on the gateway's cancellation."""
    pairs = [
        ("Platform SRE", yaml.safe_load((DATA / "platform-sre.yaml").read_text())),
        ("Inference team", yaml.safe_load((DATA / "inference-team.yaml").read_text())),
    ]
    result = respondents.merge(pairs, vocab=builtin_kb().vocabulary)
    assert [(d.id, d.field) for d in result.disputes] == [
        ("gateway-timeout", "propagates_cancellation")
    ]
    path = tmp_path / "merged.yaml"
    path.write_text(result.to_yaml(), encoding="utf-8")
    return path


def gateway(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return next(lp for lp in data["loops"] if lp["id"] == "gateway-timeout")


def rules_fired(path: Path) -> set[str]:
    kb = builtin_kb()
    with Assessor(kb) as ax:
        return {f.rule for f in ax.assess(load(path, kb.vocabulary), deliverables=False).findings}


async def test_the_interview_settles_a_disagreement_with_the_answer_picked(
    tmp_path: Path,
) -> None:
    path = merged(tmp_path)
    assert "respondents-disagree" in rules_fired(path)
    resume.save(path, resume.Position(step=STEP.key))
    app = make_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.screen.current == STEP  # type: ignore[attr-defined]
        assert "respondents-disagree" in {f.rule for f in app.results.findings}  # type: ignore[union-attr]
        card = str(app.screen.query_one("#saved", Static).content)
        assert "Platform SRE says: No · Inference team says: Yes" in card
        await pilot.press("ctrl+t")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, DisputeDialog)
        said = str(dialog.query_one("#dispute-said", Static).content)
        assert said == "Platform SRE says: No · Inference team says: Yes"
        choices = dialog.query_one("#dispute-choices", OptionList)
        assert choices.has_focus
        await pilot.press("home", "down", "enter")  # the inference team's answer
        await settle(pilot)
        assert not isinstance(app.screen, DisputeDialog)
        # Saved at once, in place: the answer taken, the disagreement gone.
        loop = gateway(path)
        assert loop["propagates_cancellation"] == "yes"
        assert "disputed" not in loop
        assert app.screen.current != STEP  # type: ignore[attr-defined]
        assert "respondents-disagree" not in {f.rule for f in app.results.findings}  # type: ignore[union-attr]
    fired = rules_fired(path)
    assert "respondents-disagree" not in fired
    assert "cancellation-not-propagated" not in fired  # the answer taken counts


async def test_giving_ones_own_answer_settles_it_too(tmp_path: Path) -> None:
    path = merged(tmp_path)
    resume.save(path, resume.Position(step=STEP.key))
    app = make_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert isinstance(app.screen, DisputeDialog)
        await pilot.press("end", "enter")  # give my own answer
        await pilot.pause()
        assert not isinstance(app.screen, DisputeDialog)
        assert app.screen.current == STEP  # type: ignore[attr-defined]
        assert "disputed" in gateway(path)  # nothing chosen yet
        card = app.screen.query_one("#answer", OptionList)
        assert card.has_focus
        labels = [str(card.get_option_at_index(i).prompt).strip() for i in range(card.option_count)]
        no = labels.index("No")
        card.highlighted = no
        await pilot.press("enter")
        await settle(pilot)
        loop = gateway(path)
        assert loop["propagates_cancellation"] == "no" and "disputed" not in loop
    assert "respondents-disagree" not in rules_fired(path)


def test_a_question_without_a_disagreement_offers_nothing_to_settle(tmp_path: Path) -> None:
    kb = builtin_kb()
    session = Session.open(merged(tmp_path), kb)
    try:
        q = kb.questions[QUESTION]
        assert session.dispute(q, "gateway-timeout") == [
            ("Platform SRE", "no"),
            ("Inference team", "yes"),
        ]
        assert session.dispute(q, "sdk-retries") == []
        # Don't know settles nothing: the respondents' answers stay on record.
        session.answer(q, "gateway-timeout", "unknown")
        assert "disputed" in gateway(session.path)
        with pytest.raises(InputError, match="do not disagree about loop sdk-retries"):
            session.resolve_dispute("loops", "sdk-retries", "propagates_cancellation", "no")
        session.resolve_dispute("loops", "gateway-timeout", "propagates_cancellation", "no")
        with pytest.raises(InputError, match="settled already"):
            session.resolve_dispute("loops", "gateway-timeout", "propagates_cancellation", "yes")
        assert gateway(session.path)["propagates_cancellation"] == "no"
    finally:
        session.close()
