"""The collector pause used around assessing and rendering restores what it found."""

from __future__ import annotations

import gc

import pytest

from expert import collector


@pytest.mark.parametrize("was_enabled", [True, False])
def test_paused_restores_the_previous_state(was_enabled: bool) -> None:
    before = gc.isenabled()
    try:
        (gc.enable if was_enabled else gc.disable)()
        with collector.paused():
            assert not gc.isenabled()
        assert gc.isenabled() is was_enabled
        with pytest.raises(RuntimeError), collector.paused():
            raise RuntimeError("an error inside the block")
        assert gc.isenabled() is was_enabled
    finally:
        (gc.enable if before else gc.disable)()


def test_assessing_pauses_the_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    from expert.analysis.assess import Assessor
    from expert.assessment.model import load as load_assessment
    from expert.knowledge import knowledgebase as knowledge
    from tests.test_engine_containment import EXAMPLE

    kb = knowledge.load([])
    seen: list[bool] = []
    with Assessor(kb) as ax:
        real = ax.engine.run

        def run(*args: object) -> object:
            seen.append(gc.isenabled())
            return real(*args)  # type: ignore[arg-type]

        monkeypatch.setattr(ax.engine, "run", run)
        ax.assess(load_assessment(EXAMPLE, kb.vocabulary))
    assert seen == [False] and gc.isenabled()


def test_objects_made_in_the_block_skip_the_young_generations() -> None:
    # What the block made must not be walked by the next young collection, and a cycle it
    # left must still be collected by a full collection.
    import weakref

    class Node:
        pass

    before = gc.isenabled()
    try:
        gc.enable()
        with collector.paused():
            cycle = Node()
            cycle.self = cycle  # type: ignore[attr-defined]
            ref = weakref.ref(cycle)
            del cycle
            kept = [[] for _ in range(1000)]
        assert gc.get_count()[0] < 100  # nothing left for the young collection to walk
        assert ref() is not None
        gc.collect()
        assert ref() is None
        assert kept
    finally:
        (gc.enable if before else gc.disable)()


def test_objects_the_program_froze_stay_frozen() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with collector.paused():
            pass
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
