"""Each team is asked each question about a loop once: the owner of a loop nobody could name
was asked for twice, in two wordings (the deliverable's and the knowledge base's)."""

from __future__ import annotations

from pathlib import Path

from expert.analysis.assess import Assessor, load_assessment
from expert.knowledge import knowledgebase as knowledge

EXAMPLE = Path(__file__).resolve().parent.parent / "expert" / "examples" / "llm-platform.yaml"


def test_no_team_is_asked_the_same_thing_twice_about_one_loop() -> None:
    kb = knowledge.load()
    with Assessor(kb) as ax:
        r = ax.assess(load_assessment(EXAMPLE, kb))
    assert r.audit_gaps is not None
    owner_asks = 0
    for team in r.audit_gaps.teams:
        texts = [(q.loop, q.text) for q in team.questions]
        assert len(texts) == len(set(texts)), team.owner
        owner_asks += sum("owns" in q.text for q in team.questions if q.loop == "liveness-probe")
    assert owner_asks == 1  # the liveness probe has no known owner: asked once
