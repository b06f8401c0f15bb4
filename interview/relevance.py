"""Whether a question can change any finding for one loop or resource.

A question is worth asking only if some pattern reads the field it sets, directly or
through a fact derived from it, and that pattern can still match this loop (or resource):
none of the pattern's other tests on it already fails. Tests are evaluated with the
engine's own three-valued semantics, so an unknown answer never rules a pattern out, and a
loop described from scratch is asked everything that could matter, while a loop started
from a template (whose structure is known) is asked only what can still change a finding.

The pattern reading is computed once per knowledge base.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from expert.analysis.applicability import can_hold
from expert.assessment.fields import derived_from
from expert.knowledge.knowledgebase import KnowledgeBase
from expert.knowledge.patterns import Pattern, Question, Term

# Derived fields and the loop or resource fields they are computed from (expert.analysis.graph,
# expert.analysis.facts): a question setting one of these can move the derived field.
_DERIVED: dict[tuple[str, str], tuple[str, ...]] = {
    ("loop", "emits"): ("actuations", "changes"),
    ("loop", "reacts"): ("triggers", "observes"),
    ("loop", "roles"): ("actuations", "triggers", "instances", "acts_on"),
    ("loop", "window_vs_reaction"): ("window", "timescale"),
    ("acts", "timescale_vs_startup"): ("timescale", "startup_time"),
    ("acts", "deadline_vs_startup"): ("deadline", "startup_time"),
    ("acts", "timescale_vs_checkpoint_interval"): ("timescale", "checkpoint_interval"),
    ("acts", "deadline_vs_checkpoint_duration"): ("deadline", "checkpoint_duration"),
    ("acts", "roles_here"): ("actuations", "triggers", "instances", "acts_on", "kind"),
    ("acts", "actuations_here"): ("actuations", "acts_on"),
    ("edge", "signal"): ("actuations", "changes", "triggers", "observes", "acts_on", "calls"),
    ("pair", "timescale_ratio"): ("timescale",),
    ("pair", "a_faster"): ("timescale",),
    ("pair", "slowest_ratio"): ("timescale",),
    ("pair", "same_layer"): ("layer",),
    ("pair", "common"): ("triggers", "observes"),
    ("pair", "retry_window_vs_deadline"): ("retry.max_retries", "deadline"),
    ("nesting", "outer_deadline"): ("deadline", "calls"),
    ("nesting", "inner_deadline"): ("deadline", "calls"),
    ("nesting", "inverted"): ("deadline", "calls"),
    ("nesting", "cancels"): ("propagates_cancellation", "calls"),
    ("nesting", "inner_retry_window_vs_outer"): ("retry.max_retries", "deadline", "calls"),
    ("amplification", "layers"): ("actuations", "retry.max_retries", "acts_on", "calls"),
    ("amplification", "factor"): ("actuations", "retry.max_retries", "acts_on", "calls"),
    ("cycle", "length"): ("actuations", "changes", "triggers", "observes", "acts_on"),
    ("cycle", "amplifying"): ("actuations", "changes", "triggers", "observes", "acts_on"),
    ("platform", "serves_inference"): ("kind",),
    ("platform", "trains_models"): ("kind",),
    ("platform", "uses_accelerators"): ("kind", "accelerated"),
}
# Where loops and resources become facts; every structural field (what a loop does, reacts
# to and acts on) takes part in the derived facts, so each of them is worth asking.
_OWN = {"loop": "loop", "resource": "resource"}


@dataclass(frozen=True)
class _Reader:
    """One pattern variable that reads a field, and the tests the variable's own fact
    must pass (which can rule the pattern out for a given loop or resource)."""

    pattern: str
    kind: str  # the fact kind of the variable whose tests are checked
    tests: tuple[Term, ...]
    # Tests on a resource the loop acts on, where the pattern joins loop, `acts` and
    # resource so (None: the pattern does not tie a resource to this loop).
    resource_tests: tuple[Term, ...] | None = None


def _acted_on(p: Pattern, loop_var: str) -> tuple[Term, ...] | None:
    """The tests of the resource that `loop_var` acts on in pattern p, if p says which."""
    acts = [
        v
        for v, m in p.match.items()
        if m.fact == "acts" and any(t.same_as == f"{loop_var}.id" for t in m.where)
    ]
    for m in p.match.values():
        if m.fact == "resource" and any(
            t.same_as in {f"{a}.resource" for a in acts} for t in m.where
        ):
            return tuple(t for t in m.where if t.same_as is None)
    return None


# A knowledge base does not change while the interview runs: read its patterns once.
_INDEX: dict[int, tuple[KnowledgeBase, dict[tuple[str, str], list[_Reader]]]] = {}


def _index(kb: KnowledgeBase) -> dict[tuple[str, str], list[_Reader]]:
    """(scope, field) -> the pattern variables whose outcome that field can move."""
    entry = _INDEX.get(id(kb))
    if entry is not None and entry[0] is kb:
        return entry[1]
    index: dict[tuple[str, str], list[_Reader]] = {}
    for p in kb.active():
        terms_of: dict[str, list[Term]] = {v: list(m.where) for v, m in p.match.items()}
        for esc in p.escalate:
            for var, terms in esc.when.items():
                terms_of.setdefault(var, []).extend(terms)
        own = {v: p.match[v].fact for v in p.match}
        # The variables a loop or resource itself binds to: their tests can rule it out.
        anchors = [
            _Reader(p.id, own[v], tuple(t for t in p.match[v].where if t.same_as is None))
            for v in p.match
            if own[v] in _OWN
        ]
        for var, terms in terms_of.items():
            kind = own.get(var, "")
            for term in terms:
                if term.same_as is not None:
                    continue
                if kind in _OWN:
                    reader = _Reader(
                        p.id,
                        kind,
                        tuple(t for t in p.match[var].where if t.same_as is None),
                        _acted_on(p, var) if kind == "loop" else None,
                    )
                    index.setdefault((kind, term.field), []).append(reader)
                    for base in _bases(kind, term.field):
                        index.setdefault((kind, base), []).append(reader)
                        # A loop's derived roles also follow its resources' kinds.
                        index.setdefault(("resource", base), []).extend(
                            a for a in anchors if a.kind == "resource"
                        )
                for base in _bases(kind, term.field):
                    # A derived fact mixes loops and resources: any anchor that can still
                    # match keeps the field worth asking, and without one it always is.
                    for scope in _OWN:
                        readers = [a for a in anchors if a.kind == scope]
                        index.setdefault((scope, base), []).extend(
                            readers or [_Reader(p.id, scope, ())]
                        )
    _INDEX[id(kb)] = (kb, index)
    return index


def _bases(kind: str, name: str) -> tuple[str, ...]:
    """The loop or resource fields a derived field is computed from: the fixed ones above,
    or those of a comparison a pattern declares (registered as the pattern is loaded)."""
    return _DERIVED.get((kind, name), ()) or derived_from(kind, name)


def field_of(q: Question) -> str:
    """The field name rules read q's answer as."""
    return q.field if q.field is not None else f"answers.{q.id}"


def readers(kb: KnowledgeBase, q: Question) -> list[str]:
    """Ids of the patterns whose outcome q's answer can move (for any loop)."""
    return sorted({r.pattern for r in _index(kb).get((q.about, field_of(q)), [])})


def can_change_finding(
    kb: KnowledgeBase,
    q: Question,
    fact: dict[str, Any],
    acted_on: list[dict[str, Any]] | None = None,
) -> bool:
    """Whether q's answer can change some pattern's outcome for the loop or resource whose
    fact is `fact` (expert.analysis.applicability.item_fact): some pattern reads q's field
    and none of that pattern's other tests on this loop or resource already fails.

    `acted_on`: the encoded facts of the resources a loop acts on (None while they are not
    known); a pattern that needs one of them to be, say, a job cannot match a loop acting
    only on services.

    Questions about the platform or the economic figures are always worth asking (their
    readers are symptoms and costs); so is any question while the fact is unknown.
    """
    if q.about not in _OWN or not fact:
        return True
    field = field_of(q)
    own = {field, *(d for (k, d), bases in _DERIVED.items() if k == q.about and field in bases)}
    for reader in _index(kb).get((q.about, field), []):
        if reader.kind != q.about:
            continue
        if not all(can_hold(kb, reader.kind, t, fact) for t in reader.tests if t.field not in own):
            continue
        if reader.resource_tests is None or acted_on is None:
            return True
        # A resource not described yet could still be anything.
        if any(
            not res or all(can_hold(kb, "resource", t, res) for t in reader.resource_tests)
            for res in acted_on
        ):
            return True
    return False
