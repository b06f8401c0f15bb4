"""A symptom or ghost cost is held back exactly when every finding it follows from is held back.

It can be no surer than its best-supported cause: one that follows only from findings waiting
in the "to check" list waits there too, under a question that would settle a cause, while one
with any shown cause is shown. Checked on every incident of the corpus and both examples.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from expert.analysis.assess import Assessor, load_assessment
from expert.analysis.results import Results
from expert.knowledge import knowledgebase as knowledge
from tests.benchmarks import accuracy

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "expert" / "examples"
CASES = sorted(p for p in accuracy.CORPUS.iterdir() if (p / "platform.yaml").is_file())
PLATFORMS = [*(p / "platform.yaml" for p in CASES), *sorted(EXAMPLES.glob("*.yaml"))]


@pytest.fixture(scope="module")
def assessed() -> Iterator[dict[str, Results]]:
    kb = knowledge.load()
    with Assessor(kb) as ax:
        yield {str(p.relative_to(ROOT)): ax.assess(load_assessment(p, kb)) for p in PLATFORMS}


def test_derived_findings_are_shown_exactly_when_a_cause_is(
    assessed: dict[str, Results],
) -> None:
    checked = held = 0
    for name, r in assessed.items():
        by_id = r.by_id()
        listed = {i for g in r.to_check for i in g.findings}
        for f in r.effects:
            causes = [by_id[c] for c in f.derived_from if c in by_id]
            # A platform condition left unknown is a missing answer of the finding's own.
            own_unknown = any(b.unknown for b in f.because if b.field.startswith("platform."))
            if not causes or own_unknown:
                continue
            checked += 1
            any_shown = any(c.evidence.shown for c in causes)
            assert f.evidence.shown == any_shown, (
                f"{name}: {f.id} is {'shown' if f.evidence.shown else 'held back'} while "
                f"its causes are {[(c.id, c.evidence.shown) for c in causes]}"
            )
            if not any_shown:
                held += 1
                assert f.status == "possible", f"{name}: {f.id}"
                assert f.id in listed, f"{name}: {f.id} is held back but under no question"
    assert checked and held, "the corpus needs a derived finding with only held-back causes"


# Every DNS location withdraws itself when unhealthy (Facebook, 4 October 2021), described
# before anyone said whether its check goes through the backbone they all share.
UNSETTLED_SELF_REMOVAL = {
    "schema_version": 1,
    "system": {"name": "edge DNS"},
    "resources": [
        {"id": "public-dns", "kind": "request_path", "calls": ["edge-dns"]},
        {"id": "edge-dns", "kind": "service", "calls": ["backbone"]},
        {"id": "backbone", "kind": "service"},
    ],
    "loops": [
        {
            "id": "bgp-health-withdraw",
            "name": "DNS location withdraws its BGP advertisements when unhealthy",
            "layer": "safety",
            "triggers": ["health_check"],
            "actuations": ["eject"],
            "acts_on": ["edge-dns"],
            "instances": "per_node",
            "answers": {"check-fails-under-load": "no", "caps-removal": "unknown"},
        }
    ],
}


def test_a_collapse_from_an_unsettled_self_removal_waits_with_it(tmp_path: Path) -> None:
    # The withdrawal misses two answers (does the check go through a shared dependency, is
    # removal capped), so the collapse it alone explains is held back under the same question.
    path = tmp_path / "platform.yaml"
    path.write_text(yaml.safe_dump(UNSETTLED_SELF_REMOVAL))
    kb = knowledge.load()
    with Assessor(kb) as ax:
        r = ax.assess(load_assessment(path, kb))
    by_id = r.by_id()
    collapse = by_id["capacity-collapse-under-load"]
    assert not collapse.evidence.shown and collapse.status == "possible"
    cause = by_id["fleet-wide-self-removal:bgp-health-withdraw"]
    assert not cause.evidence.shown
    groups = {i: g.question for g in r.to_check for i in g.findings}
    assert groups[collapse.id] and groups[cause.id]
