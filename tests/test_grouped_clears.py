"""A grouped finding (one pattern on one resource, several pairs of loops) clears only when
every pair does, so a clearing condition names every loop its matches put in that place, and
a change built from it is credited with the finding only on those terms."""

from __future__ import annotations

from pathlib import Path

from expert.analysis.assess import Assessor, load_assessment
from expert.knowledge import knowledgebase as knowledge

EXAMPLE = Path(__file__).resolve().parent.parent / "expert" / "examples" / "llm-platform.yaml"


def test_a_grouped_finding_names_every_killer_in_its_condition() -> None:
    kb = knowledge.load()
    with Assessor(kb) as ax:
        r = ax.assess(load_assessment(EXAMPLE, kb))
    f = r.by_id()["shutdown-vs-retry@public-api"]
    killers = {lp for m in f.members for lp in m.loops} - {"sdk-retries"}
    assert len(f.members) > 1 and len(killers) > 1
    names = {lp.id: lp.name for lp in load_assessment(EXAMPLE, kb).loops}
    marks = next(c for c in f.would_clear_if if "each termination with its reason" in c)
    assert all(names[k] in marks for k in killers), marks
    # The change the summary builds from it names them too, and their owners.
    summary = r.executive_summary
    assert summary is not None
    action = next(a for a in summary.actions if "each termination with its reason" in a.text)
    assert all(names[k] in action.text for k in killers), action.text
