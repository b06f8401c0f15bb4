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
    from expert import knowledge
    from expert.assess import Assessor
    from expert.assessment import load as load_assessment
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
