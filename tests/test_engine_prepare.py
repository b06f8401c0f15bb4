"""The engine's children start and load the rules while the facts are built
(EngineProcess.prepare, called by Assessor before the graph): the results are those of a run
without it, rules sent early are answered before anything else, and a child that fails
while loading early is the same plain EngineError as any other."""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from expert.analysis import assess as assess_mod
from expert.analysis import facts as facts_mod
from expert.analysis import graph
from expert.analysis.assess import Assessor, engine_facts
from expert.assessment.model import load as load_assessment
from expert.engine import process as engine_mod
from expert.engine.process import EngineProcess
from expert.errors import EngineError
from expert.knowledge.knowledgebase import KnowledgeBase
from tests.helpers import builtin_kb

EXAMPLE = Path(__file__).resolve().parent.parent / "expert" / "examples" / "llm-platform.yaml"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return builtin_kb()


def _inputs(kb: KnowledgeBase, ax: Assessor) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    a = load_assessment(EXAMPLE, kb.vocabulary)
    structure = graph.derive(a, kb.vocabulary)
    base = facts_mod.build(a, structure, kb.vocabulary, "a", kb.answer_fields())
    return engine_facts(base, ax.compiled), base.loops_of


def _ids(results: Any) -> list[tuple[str, str]]:
    return [(f.id, f.status) for f in results.findings]


def test_the_children_load_before_the_graph_and_find_the_same(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = load_assessment(EXAMPLE, kb.vocabulary)
    with Assessor(kb, EngineProcess(workers=2)) as ax:
        seen: list[list[str | None]] = []
        real = graph.derive

        def derive(*args: Any, **kwargs: Any) -> Any:
            seen.append([w.loading for w in ax.engine._workers])
            return real(*args, **kwargs)

        monkeypatch.setattr(assess_mod.graph, "derive", derive)
        early = ax.assess(a)
        again = ax.assess(a)  # children loaded already: nothing is sent early
    assert seen == [[ax.compiled.key] * 2, [None, None]]
    monkeypatch.setattr(EngineProcess, "prepare", lambda self, compiled: None)
    with Assessor(kb, EngineProcess(workers=2)) as ax:
        late = ax.assess(a)
    assert _ids(early) == _ids(late) == _ids(again)


def test_rules_sent_early_are_replaced_when_the_run_brings_others(kb: KnowledgeBase) -> None:
    with Assessor(kb, EngineProcess(workers=2)) as ax:
        facts, loops_of = _inputs(kb, ax)
        expected = ax.engine.run(ax.compiled, facts, loops_of)
    with Assessor(kb, EngineProcess(workers=2)) as ax:
        ax.engine.prepare(dataclasses.replace(ax.compiled, key="other-rules"))
        assert all(w.loading == "other-rules" for w in ax.engine._workers)
        assert ax.engine.run(ax.compiled, facts, loops_of) == expected
        assert [w.loaded_key for w in ax.engine._workers] == [ax.compiled.key] * 2
        assert [w.loading for w in ax.engine._workers] == [None, None]


def test_prepare_twice_sends_the_rules_once(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[str] = []
    real = engine_mod._Worker.send_later

    def send_later(self: Any, line: str) -> None:
        sent.append(line[:20])
        real(self, line)

    monkeypatch.setattr(engine_mod._Worker, "send_later", send_later)
    with Assessor(kb, EngineProcess(workers=2)) as ax:
        ax.engine.prepare(ax.compiled)
        pids = ax.engine.pids
        ax.engine.prepare(ax.compiled)
        assert ax.engine.pids == pids and all(pids)
        assert len(sent) == 2
    assert ax.engine.pids == [None, None]  # closed without a run: nothing left behind


def test_a_child_that_dies_while_loading_early_is_an_engine_error(kb: KnowledgeBase) -> None:
    dies = [
        sys.executable,
        "-c",
        "import os, signal, sys; sys.stdin.readline(); os.kill(os.getpid(), signal.SIGSEGV)",
    ]
    with Assessor(kb, EngineProcess(command=dies)) as ax:
        facts, loops_of = _inputs(kb, ax)
        ax.engine.prepare(ax.compiled)
        with pytest.raises(EngineError) as exc:
            ax.engine.run(ax.compiled, facts, loops_of)
        assert "loading the rules" in str(exc.value) and "SIGSEGV" in str(exc.value)
        assert ax.engine.pids == [None] * len(ax.engine.pids)


# A child that reads nothing until the file argv[1] exists, then becomes the real engine.
LATE_READER = """
import os, sys, time
while not os.path.exists(sys.argv[1]):
    time.sleep(0.01)
os.execv(sys.executable, [sys.executable, "-m", "expert.engine.child"])
"""


def test_prepare_does_not_wait_for_the_children_to_read_the_rules(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    with Assessor(kb, EngineProcess(workers=2)) as ax:
        facts, loops_of = _inputs(kb, ax)
        expected = ax.engine.run(ax.compiled, facts, loops_of)
    late = [sys.executable, "-c", LATE_READER, str(go)]
    with Assessor(kb, EngineProcess(workers=2, command=late)) as ax:
        assert len(json.dumps(ax.compiled.payload())) > 1 << 16  # more than a pipe holds
        prepared = threading.Thread(target=ax.engine.prepare, args=(ax.compiled,), daemon=True)
        prepared.start()
        prepared.join(60)  # a safety budget: prepare() returns at once, before anything reads
        returned = not prepared.is_alive()
        go.touch()
        assert returned
        assert ax.engine.run(ax.compiled, facts, loops_of) == expected
