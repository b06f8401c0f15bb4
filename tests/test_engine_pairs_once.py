"""Loop pairs are the most numerous facts, and every ruleset that reads them is sent all of
them: the compiler packs the rules that read pairs into one ruleset while they fit."""

from __future__ import annotations

from expert.engine.compiler import compile_kb
from expert.engine.safety import EngineLimits
from expert.knowledge import knowledgebase as knowledge


def test_one_stage1_ruleset_reads_loop_pairs() -> None:
    compiled = compile_kb(knowledge.load([]))
    readers = [name for name in compiled.by_stage[0] if "pair" in compiled.kinds[name]]
    # Growing past one ruleset is slower, not wrong: if new pair patterns do it, check the
    # 1,000-loop benchmark's engine column and accept the second ruleset here.
    assert len(readers) == 1, (
        f"the loop-pair rules now span {readers}: each is sent every pair fact (see above)"
    )
    # ... and only they: the other rules go to a ruleset the other process can take.
    meta = compiled.meta
    pair_rules = compiled.rulesets[readers[0]]
    assert all("pair" in str(rule["all"]) for rule in pair_rules.values()), [
        meta[name].pattern for name, rule in pair_rules.items() if "pair" not in str(rule["all"])
    ]
    # Every ruleset still within the engine's limits.
    for name, ruleset in compiled.rulesets.items():
        limits = EngineLimits("ruleset")
        limits.add(ruleset)
        assert limits.violations() == [], name
