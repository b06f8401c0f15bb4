"""How the engine deals a stage's rulesets out to its processes: the largest first, each to
the least loaded process, and each process gets its next ruleset as soon as it answers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from expert.analysis import facts as facts_mod
from expert.analysis import graph
from expert.analysis.assess import Assessor, engine_facts
from expert.assessment.model import load as load_assessment
from expert.engine.compiler import Compiled
from expert.engine.process import EngineProcess
from expert.knowledge.knowledgebase import KnowledgeBase
from tests.helpers import builtin_kb

EXAMPLE = Path(__file__).resolve().parent.parent / "expert" / "examples" / "llm-platform.yaml"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return builtin_kb()


def _stage1(kb: KnowledgeBase, compiled: Compiled) -> tuple[list[str], list[dict[str, Any]]]:
    a = load_assessment(EXAMPLE, kb.vocabulary)
    structure = graph.derive(a, kb.vocabulary)
    base = facts_mod.build(a, structure, kb.vocabulary, "a", kb.answer_fields())
    return compiled.stages()[0], engine_facts(base, compiled)


def _size(compiled: Compiled, ruleset: str, facts: list[dict[str, Any]]) -> int:
    return sum(f["kind"] in compiled.kinds[ruleset] for f in facts)


def test_the_largest_ruleset_has_a_process_to_itself(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Assessor(kb, EngineProcess(workers=2)) as ax:
        rulesets, facts = _stage1(kb, ax.compiled)
        assert len(rulesets) == 3  # the case this test is about
        sent: list[tuple[int, str]] = []

        def exchange(
            requests: list[tuple[Any, dict[str, Any]]], what: str, each: Any = None
        ) -> Any:
            workers = [w for w, _ in requests]
            sent.extend((ax.engine._workers.index(w), r["ruleset"]) for w, r in requests)
            assert len(set(map(id, workers))) == 2
            return [{"ok": True, "fired": []} for _ in requests]

        monkeypatch.setattr(ax.engine, "_exchange", exchange)
        ax.engine._stage(ax.compiled, rulesets, facts)
    largest = max(rulesets, key=lambda r: _size(ax.compiled, r, facts))
    (owner,) = [w for w, r in sent if r == largest]
    assert [r for w, r in sent if w == owner] == [largest]


# A child that is the real engine, except that the process given the ruleset argv[2] holds
# its reply until a process without that ruleset has received its second (marker file
# argv[1]). Were the second ruleset sent only once both processes had answered, this would
# wait until the engine's timeout.
HOLD_UNTIL_SECOND = """
import json, os, sys, time
marker, held = sys.argv[1], sys.argv[2]
from expert.engine.child import serve
def requests():
    asserts, holder = 0, False
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("op") == "assert":
            asserts += 1
            holder = holder or request["ruleset"] == held
            if asserts == 2 and not holder:
                open(marker, "w").close()
            if request["ruleset"] == held:
                for _ in range(2400):  # past the engine's budget: a wrong order times out
                    if os.path.exists(marker):
                        break
                    time.sleep(0.05)
        yield line
serve(requests())
"""


def test_a_process_gets_its_next_ruleset_without_waiting_for_the_other(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    with Assessor(kb, EngineProcess(workers=2)) as ax:
        rulesets, facts = _stage1(kb, ax.compiled)
        want = ax.engine.run(ax.compiled, facts, {})
    largest = max(rulesets, key=lambda r: _size(ax.compiled, r, facts))
    marker = tmp_path / "second-sent"
    command = [sys.executable, "-c", HOLD_UNTIL_SECOND, str(marker), largest]
    # The default budget: a loaded machine may be slow, and the hold outlasts it anyway.
    with Assessor(kb, EngineProcess(workers=2, command=command)) as ax:
        assert ax.engine.run(ax.compiled, facts, {}) == want
    assert marker.exists()
