"""A brute-force evaluator of the knowledge base, independent of durable-rules.

Given the facts `expert.analysis.facts.build` made for an assessment, it enumerates every binding of
every stage-1 pattern's match variables with nested loops, evaluates each term with
`expert.knowledge.conditions.evaluate` (the reference three-valued semantics) and joins by comparing
attributes. A binding matches when no term evaluates "no" (a strict term already turns
"unknown" into "no"). As in the engine, one fact is never bound to two variables of one
binding (durable-rules joins distinct facts).

From the matches it derives what the engine plus explain.py must report:
- stage 1: a match's loops are the loops of its bound facts; the finding is
  "possible" when some non-join term of a match is "unknown" (unless the pattern counts
  unknown as evidence), and "confirmed" as soon as one match is confirmed;
- stages 2 and 3: a pattern fires when a pattern that `feeds` it fired at an earlier stage
  and the platform fact passes its own terms; its id is the pattern's, and it is confirmed
  when one of its causes is and no term of its platform test is "unknown".

What is reported differs from the raw matches in three ways, each re-derived here by brute
force from the facts:
- a match that would rest on an unknown core answer (CORE_FIELDS: what a loop does, what it
  reacts to, what it acts on) of a loop is no finding;
- the matches of one auditability pattern are one finding; the matches of one other pattern
  between two or more loops on one resource (or set of resources) are one finding; the id is
  expert.engine.ids.group_id's (the rule for a gap, the rule @ the resources for pairs, the rule
  and the loops for a single match) and it is confirmed when one match is;
- an auditability match that reads an answer the assessment says does not apply is no
  finding;
- a match that passes a test only as unknown, where the answer it reads (or, for a loop
  field another answer stands for, that answer: fields.LOOP_FALLBACKS) is said not to
  apply, is no finding;
- an auditability match that reads an answer left out of the assessment (a question not
  answered yet, as opposed to "unknown") is possible, and groups apart from the confirmed
  matches of its pattern (`rule:unanswered`); the facts do not tell the two apart, so the
  oracle reads the assessment for it;
- a confirmed auditability finding leads to a ghost cost only when every loop of one of its
  matches takes part in a confirmed incoherence finding, which then counts among the cost's
  causes;
- a finding of a pattern another one `subsumes` is no finding when that other pattern's
  finding has exactly the same matches (loops and resources) and is confirmed, or rests on no
  more unknown answers (distinct fact and field) than it;
- a symptom or cost that `needs_confirmed_cause` follows only from confirmed causes;
- a symptom or cost a pattern feeds only `when` some terms hold (`feeds_when`) follows from
  that pattern's finding only when one of its matches passes every one of those terms.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from expert.analysis.facts import FactBase
from expert.assessment.fields import LOOP_FALLBACKS
from expert.engine.ids import group_id
from expert.knowledge.conditions import CORE_FIELDS, ResolvedField, evaluate, resolve
from expert.knowledge.knowledgebase import KnowledgeBase
from expert.knowledge.patterns import Pattern, Term

Fact = dict[str, Any]


@dataclass
class Expected:
    """What the engine must find, by finding id."""

    status: dict[str, str] = field(default_factory=dict)  # finding id -> confirmed | possible
    rule: dict[str, str] = field(default_factory=dict)  # finding id -> pattern id
    loops: dict[str, list[str]] = field(default_factory=dict)  # finding id -> loop ids
    # finding id -> the loops of each match grouped into it (stage 1 only)
    members: dict[str, list[list[str]]] = field(default_factory=dict)
    # pattern id -> every matching binding {variable: fact id} (stage 1 only)
    bindings: dict[str, set[frozenset[tuple[str, str]]]] = field(default_factory=dict)


# kb.answer_fields() builds its table anew on each call; the oracle resolves every term of
# every pattern for every assessment, so it takes the table once per assessment.
AnswerFields = dict[str, Any]


def _attr_of(p: Pattern, kb: KnowledgeBase, fields: AnswerFields) -> dict[tuple[str, str], str]:
    """(variable, field) -> attribute, for every field a same_as join reads."""
    out: dict[tuple[str, str], str] = {}
    for fm in p.match.values():
        for term in fm.where:
            if term.op == "same_as":
                var, name = term.operand.split(".", 1)
                target = resolve(p.match[var].fact, name, kb.vocabulary, fields)
                assert target is not None, f"{p.id}: same_as {term.operand}"
                out[(var, name)] = target.spec.attr
    return out


def _terms(
    p: Pattern, kb: KnowledgeBase, fields: AnswerFields
) -> dict[str, list[tuple[Term, ResolvedField]]]:
    out: dict[str, list[tuple[Term, ResolvedField]]] = {}
    for var, fm in p.match.items():
        out[var] = []
        for term in fm.where:
            rf = resolve(fm.fact, term.field, kb.vocabulary, fields)
            assert rf is not None, f"{p.id}: {term.field}"
            out[var].append((term, rf))
    return out


def by_kind(base: FactBase) -> dict[str, list[Fact]]:
    out: dict[str, list[Fact]] = {}
    for fact in base.facts.values():
        out.setdefault(fact["kind"], []).append(fact)
    return out


Unknowns = list[tuple[str, Term]]


def matches(
    p: Pattern, kb: KnowledgeBase, facts: dict[str, list[Fact]], fields: AnswerFields
) -> Iterator[tuple[dict[str, Fact], Unknowns]]:
    """Every binding of p's variables to distinct facts that no term rejects, with the
    non-join terms of it that were "unknown" (by variable)."""
    variables = list(p.match)
    terms = _terms(p, kb, fields)
    attr_of = _attr_of(p, kb, fields)

    def extend(
        i: int, bound: dict[str, Fact], unknown: Unknowns
    ) -> Iterator[tuple[dict[str, Fact], Unknowns]]:
        if i == len(variables):
            yield dict(bound), unknown
            return
        var = variables[i]
        used = {f["id"] for f in bound.values()}
        for fact in facts.get(p.match[var].fact, []):
            if fact["id"] in used:
                continue
            results = [(term, evaluate(term, rf, fact, bound, attr_of)) for term, rf in terms[var]]
            if any(r == "no" for _, r in results):
                continue
            here = [(var, term) for term, r in results if r == "unknown" and term.op != "same_as"]
            bound[var] = fact
            yield from extend(i + 1, bound, unknown + here)
            del bound[var]

    yield from extend(0, {}, [])


def _unsure(fact: Fact, stem: str) -> bool:
    """Some member of a loop fact's set field is unknown (the list is unknown or partial)."""
    return any(v == "unknown" for k, v in fact.items() if k.startswith(f"{stem}__"))


def _on_unknown_structure(
    p: Pattern, bound: dict[str, Fact], unknown: Unknowns, facts: dict[str, list[Fact]]
) -> bool:
    """Whether an unknown term rests on a loop's unknown structure."""
    if p.unknown_is_evidence:
        return False
    loops = {f["loop"]: f for f in facts.get("loop", [])}
    for var, term in unknown:
        kind, fact = p.match[var].fact, bound[var]
        if (kind, term.field) not in CORE_FIELDS:
            continue
        if kind == "loop" and term.field == "roles":
            if _unsure(fact, "actuations") or _unsure(fact, "triggers"):
                return True
        elif kind == "loop":
            return True
        elif kind == "pair":
            signals = term.operand if isinstance(term.operand, list) else [term.operand]
            for lp in (fact["a"], fact["b"]):
                if any(loops[lp].get(f"reacts__{sig}") == "unknown" for sig in signals):
                    return True
        elif kind == "acts":
            on = [a["loop"] for a in facts.get("acts", []) if a["resource"] == fact["resource"]]
            if any(_unsure(loops[lp], "actuations") for lp in on):
                return True
        else:
            return True
    return False


def _left_out(a: Any, kind: str, fact: Fact, path: str) -> bool:
    """Whether the assessment leaves the answer at `path` of the fact's loop or resource out."""
    if a is None or kind not in ("loop", "resource"):
        return False
    owners = a.loops if kind == "loop" else a.resource_list()
    value: Any = next((o for o in owners if o.id == fact[kind]), None)
    if value is None:  # a resource named only by a loop's acts_on: nothing was answered
        return True
    for name in path.split("."):
        value = value.get(name) if isinstance(value, dict) else getattr(value, name, None)
        if value is None:
            return True
    return False


FALLBACKS = dict(LOOP_FALLBACKS)


def _does_not_apply(a: Any, kind: str, fact: Fact, path: str) -> bool:
    """Whether the assessment says the answer at `path` does not apply to the fact's loop
    or resource (a gap on it is then no finding)."""
    if a is None or kind not in ("loop", "resource"):
        return False
    owners = a.loops if kind == "loop" else a.resource_list()
    item = next((o for o in owners if o.id == fact[kind]), None)
    return item is not None and path in (getattr(item, "not_applicable", None) or [])


def _reads_not_applicable(a: Any, kind: str, fact: Fact, path: str) -> bool:
    """Whether the answer a test reads is said not to apply, or, for a loop field another
    answer stands for where it is unanswered (the give-up count), that answer is."""
    reads = [path, *([FALLBACKS[path]] if kind == "loop" and path in FALLBACKS else [])]
    return any(_does_not_apply(a, kind, fact, read) for read in reads)


def _group(
    p: Pattern, bound: dict[str, Fact], loops: list[str], waiting: bool = False
) -> tuple[str, ...]:
    if p.kind == "auditability":
        return ("gap", "unanswered") if waiting else ("gap",)
    resources = sorted(
        {
            f["resource"]
            for var, f in bound.items()
            if p.match[var].fact in ("pair", "edge", "acts", "resource")
        }
    )
    if len(loops) >= 2 and resources:
        return ("pairs", *resources)
    return ("one", *loops)


def _passes(
    p: Pattern,
    when: dict[str, list[Term]],
    bound: dict[str, Fact],
    kb: KnowledgeBase,
    fields: AnswerFields,
) -> bool:
    """Every term of a conditional feed is "yes" on the bound facts."""
    attr_of = _attr_of(p, kb, fields)
    for var, terms in when.items():
        for term in terms:
            rf = resolve(p.match[var].fact, term.field, kb.vocabulary, fields)
            assert rf is not None, f"{p.id}: {term.field}"
            if evaluate(term, rf, bound[var], bound, attr_of) != "yes":
                return False
    return True


def expected(kb: KnowledgeBase, base: FactBase, a: Any = None) -> Expected:
    """What the engine and explain.py must report for the facts; `a`, the assessment they
    were built from, tells a question not answered yet from "unknown" (see the top)."""
    out = Expected()
    leads: dict[str, set[str]] = {}  # finding id -> conditional feeds one of its matches passes
    active = kb.active()
    fired_rules: dict[str, list[str]] = {}  # pattern id -> its finding ids
    facts = by_kind(base)
    fields = kb.answer_fields()
    span_of: dict[str, set[tuple[tuple[str, ...], str]]] = {}  # finding id -> its matches
    missing_of: dict[str, int] = {}  # finding id -> fewest unknown answers of a match
    for pattern in active:
        if pattern.stage != 1:
            continue
        spans: dict[tuple[Any, ...], set[tuple[tuple[str, ...], str]]] = {}
        fewest: dict[tuple[Any, ...], int] = {}
        groups: dict[tuple[Any, ...], list[tuple[list[str], str]]] = {}
        passed: dict[tuple[Any, ...], set[str]] = {}
        found: list[tuple[tuple[Any, ...], list[str], str, set[str], int, set[str]]] = []
        # Each form of a pattern matches on its own; their matches group as one pattern's.
        for p, (bound, unknown) in (
            (v, m) for v in pattern.variants() for m in matches(v, kb, facts, fields)
        ):
            binding = frozenset((var, f["id"]) for var, f in bound.items())
            out.bindings.setdefault(p.id, set()).add(binding)
            if _on_unknown_structure(p, bound, unknown, facts):
                continue
            if not p.unknown_is_evidence and any(
                _reads_not_applicable(a, p.match[var].fact, bound[var], term.field)
                for var, term in unknown
            ):
                continue
            loops = sorted({lp for f in bound.values() for lp in base.loops_of[f["id"]]})
            if p.unknown_is_evidence and any(
                _does_not_apply(a, fm.fact, bound[var], term.field)
                for var, fm in p.match.items()
                for term in fm.where
                if term.op != "same_as"
            ):
                continue
            if p.unknown_is_evidence:
                unknown = [
                    (var, term)
                    for var, fm in p.match.items()
                    for term in fm.where
                    if term.op != "same_as" and _left_out(a, fm.fact, bound[var], term.field)
                ]
            status = "possible" if unknown else "confirmed"
            key = _group(p, bound, loops, waiting=p.unknown_is_evidence and bool(unknown))
            feeds = {feed.to for feed in p.feeds_when if _passes(p, feed.when, bound, kb, fields)}
            missing = (
                0 if status == "confirmed" else len({(bound[v]["id"], t.field) for v, t in unknown})
            )
            resources = {f["resource"] for v, f in bound.items() if p.match[v].fact in _HELD}
            found.append((key, loops, status, feeds, missing, resources))
        for key, loops, status, feeds, missing, resources in _pairs_once(found, a):
            groups.setdefault(key, []).append((loops, status))
            if feeds:
                passed.setdefault(key, set()).update(feeds)
            spans.setdefault(key, set()).add((tuple(loops), ",".join(sorted(resources))))
            fewest[key] = min(fewest.get(key, missing), missing)
        for key, members in groups.items():
            loops = sorted({lp for ls, _ in members for lp in ls})
            fid = group_id(pattern.id, key, loops)
            leads[fid] = leads.get(fid, set()) | passed.get(key, set())
            span_of[fid] = span_of.get(fid, set()) | spans[key]
            missing_of[fid] = min(missing_of.get(fid, fewest[key]), fewest[key])
            out.members.setdefault(fid, []).extend(ls for ls, _ in members)
            status = "confirmed" if any(st == "confirmed" for _, st in members) else "possible"
            if out.status.get(fid) != "confirmed":
                out.status[fid] = status
            out.rule[fid] = pattern.id
            out.loops[fid] = loops
            fired_rules.setdefault(pattern.id, [])
            if fid not in fired_rules[pattern.id]:
                fired_rules[pattern.id].append(fid)
    _fold_subsumed(kb, out, fired_rules, span_of, missing_of)
    kinds = {p.id: p.kind for p in active}
    conflicts = [
        fid
        for fid, pid in out.rule.items()
        if kinds[pid] == "incoherence" and out.status[fid] == "confirmed"
    ]

    (platform,) = facts["platform"]
    for stage in (2, 3):
        for p in active:
            if p.stage != stage:
                continue
            causes = [
                fid
                for q in active
                if p.id in q.feeds and q.stage < stage
                for fid in fired_rules.get(q.id, [])
            ]
            causes += [
                fid
                for q in active
                if any(feed.to == p.id for feed in q.feeds_when)
                for fid in fired_rules.get(q.id, [])
                if p.id in leads.get(fid, set())
            ]
            gaps = [c for c in causes if kinds[out.rule[c]] == "auditability"]
            causes = [c for c in causes if c not in gaps]
            gaps = [g for g in gaps if out.status[g] == "confirmed"]
            if gaps:
                # A gap crosses a conflict when every loop of one of its matches (the loop it
                # is about, or both loops of an unrecorded influence) takes part in it.
                crossing = [
                    (g, c)
                    for g in gaps
                    for c in conflicts
                    if any(
                        set(span) <= set(out.loops[c])
                        for span in out.members.get(g) or [out.loops[g]]
                    )
                ]
                causes += [c for _, c in crossing if c not in causes]
                causes += list(dict.fromkeys(g for g, _ in crossing))
            if p.needs_confirmed_cause:
                causes = [c for c in causes if out.status[c] == "confirmed"]
            if not causes or not _platform_passes(p, kb, fields, platform):
                continue
            loops = sorted({lp for c in causes for lp in out.loops[c]})
            fid = p.id
            confirmed = any(out.status[c] == "confirmed" for c in causes)
            confirmed = confirmed and not _platform_unknown(p, kb, fields, platform)
            out.status[fid] = "confirmed" if confirmed else "possible"
            out.rule[fid] = p.id
            out.loops[fid] = loops
            fired_rules[p.id] = [fid]
    return out


_HELD = ("pair", "edge", "acts", "waits", "resource")  # facts that name the resource a match is on


def _pairs_once(found: list[Any], a: Any) -> list[Any]:
    """One pattern's matches between the same loops on several sets of resources count once:
    on the set most of those loops act on themselves (by the assessment), then the first."""
    acts = {lp.id: set(lp.acts_on) if isinstance(lp.acts_on, list) else set() for lp in a.loops}
    places: dict[tuple[str, ...], set[tuple[Any, ...]]] = {}
    for key, loops, *_ in found:
        if key[0] == "pairs":
            places.setdefault(tuple(loops), set()).add(key[1:])
    best = {
        loops: min(sets, key=lambda rs: (-sum(set(rs) <= acts[lp] for lp in loops), rs))
        for loops, sets in places.items()
    }
    return [m for m in found if m[0][0] != "pairs" or best[tuple(m[1])] == m[0][1:]]


def _fold_subsumed(
    kb: KnowledgeBase,
    out: Expected,
    fired_rules: dict[str, list[str]],
    span_of: dict[str, set[tuple[tuple[str, ...], str]]],
    missing_of: dict[str, int],
) -> None:
    """Remove every stage-1 finding that a finding of a subsuming pattern covers."""
    dropped = set()
    for fid, pid in out.rule.items():
        for general in kb.patterns[pid].subsumes:
            for gid in fired_rules.get(general, []):
                if span_of[gid] != span_of[fid]:
                    continue
                if out.status[fid] == "confirmed" or (
                    out.status[gid] == "possible" and missing_of[fid] <= missing_of[gid]
                ):
                    dropped.add(gid)
    # Matches of one pattern's forms that lie within another finding of it fold into it.
    for pid, fids in fired_rules.items():
        if not kb.patterns[pid].forms:
            continue
        for gid in fids:
            for fid in fids:
                if fid == gid or fid in dropped or gid in dropped:
                    continue
                inside = all(
                    any(set(lo) <= set(big) and r == big_r for big, big_r in span_of[fid])
                    for lo, r in span_of[gid]
                )
                if inside and (
                    out.status[fid] == "confirmed"
                    or (out.status[gid] == "possible" and missing_of[fid] <= missing_of[gid])
                ):
                    dropped.add(gid)
    for gid in dropped:
        for table in (out.status, out.rule, out.loops, out.members):
            table.pop(gid, None)
    for pid, fids in fired_rules.items():
        fired_rules[pid] = [f for f in fids if f not in dropped]


def _platform_unknown(p: Pattern, kb: KnowledgeBase, fields: AnswerFields, platform: Fact) -> bool:
    """Whether a term of p's platform test is "unknown" (then p is only possible)."""
    for fm in p.match.values():
        for term in fm.where:
            rf = resolve(fm.fact, term.field, kb.vocabulary, fields)
            assert rf is not None
            if evaluate(term, rf, platform, {}, {}) == "unknown":
                return True
    return False


def _platform_passes(p: Pattern, kb: KnowledgeBase, fields: AnswerFields, platform: Fact) -> bool:
    for fm in p.match.values():  # symptoms and costs may only test the platform fact
        for term in fm.where:
            rf = resolve(fm.fact, term.field, kb.vocabulary, fields)
            assert rf is not None
            if evaluate(term, rf, platform, {}, {}) == "no":
                return False
    return True
