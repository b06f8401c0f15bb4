"""Derive the influence structure of an assessment: the part of reasoning that is graph
analysis rather than rule matching.

- influence edges: loop A's action produces a signal that loop B reacts to, on a resource
  both act on, or carried along the call path (load downstream, failures and latency upstream);
- pairs: two loops acting on one resource, with the ratio of their reaction timescales;
- deadline nestings: a loop with a deadline upstream of another loop with a deadline;
- amplification paths: retrying loops stacked along a call path, (r1+1)(r2+1)... attempts;
- feedback cycles in the influence graph.

Only what the user stated as known contributes an edge; unknowns are left to the rules,
which mark findings as possible and ask the question that would settle them.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import Any

from expert.assessment import durations, masking
from expert.assessment.model import UNKNOWN, Assessment, Loop
from expert.assessment.vocabulary import CycleKind, RoleWay, Vocabulary

Tri = str  # "yes" | "no" | "unknown"
MAX_CYCLES = 500
CYCLE_SEARCH_CAP = 2 * MAX_CYCLES  # cycles collected before the shortest are kept
UNKNOWN_RETRIES_HI = 10  # an unknown retry count is taken as 0..10 retries
# Deadline loops nested inside one outer loop, and retry amplification paths, beyond which
# the rest are counted rather than kept (Structure.left_out): inverted nestings and the
# highest factors are kept first, so the findings that matter most are the ones that stay.
MAX_NESTINGS_PER_LOOP = 50
MAX_AMPLIFICATIONS = 200
# Loops on one resource are compared pair by pair, so k loops make k(k-1) pair facts and as
# many same-resource edges. Beyond MAX_PARTNERS + 1 loops on a resource, each loop is
# compared with its MAX_PARTNERS nearest in timescale (then in declaration order), and with
# every loop that chose it; likewise an influence reaches at most MAX_PARTNERS loops on any
# one resource. Real platforms put a handful of loops on a resource; the rest is counted.
MAX_PARTNERS = 30
_INVERTED_RANK = {"yes": 0, "unknown": 1, "no": 2}


def tri_and(a: Tri, b: Tri) -> Tri:
    if a == "no" or b == "no":
        return "no"
    if a == "yes" and b == "yes":
        return "yes"
    return "unknown"


def membership(values: list[str] | str | None, universe: list[str]) -> dict[str, Tri]:
    """Three-valued membership of each term in a list that may be unknown or partial.

    `unknown` (or absent) -> every term unknown; a list containing "unknown" -> its other
    items yes and the rest unknown; a plain list -> its items yes and the rest no.
    """
    if values is None or values == UNKNOWN:
        return dict.fromkeys(universe, "unknown")
    partial = UNKNOWN in values
    return {t: "yes" if t in values else ("unknown" if partial else "no") for t in universe}


def _or_into(target: dict[str, Tri], term: str, value: Tri) -> None:
    current = target.get(term, "no")
    if current == "yes" or value == "no":
        return
    target[term] = value if current == "no" or value == "yes" else current


def emits(loop: Loop, vocab: Vocabulary) -> dict[str, Tri]:
    """Signals a loop's action produces: via its actuations, plus what it `changes`."""
    signals = vocab.terms("signals")
    out = dict.fromkeys(signals, "no")
    for act, has in membership(loop.actuations, vocab.terms("actuations")).items():
        for sig in vocab.produces(act):
            _or_into(out, sig, has)
    for sig, has in membership(loop.changes, signals).items():
        _or_into(out, sig, has if loop.changes is not None else "no")
    return out


def reacts(loop: Loop, vocab: Vocabulary) -> dict[str, Tri]:
    """Signals a loop reacts to: via its triggers, plus what it `observes`."""
    signals = vocab.terms("signals")
    out = dict.fromkeys(signals, "no")
    for trig, has in membership(loop.triggers, vocab.terms("triggers")).items():
        for sig in vocab.reacts_to(trig):
            _or_into(out, sig, has)
    for sig, has in membership(loop.observes, signals).items():
        _or_into(out, sig, has if loop.observes is not None else "no")
    return out


def tri_or(values: Iterable[Tri]) -> Tri:
    """Three-valued "any": yes if one is yes, else unknown if one is unknown, else no."""
    out = "no"
    for v in values:
        if v == "yes":
            return "yes"
        if v == "unknown":
            out = "unknown"
    return out


def _category_in(value: str | None, accepted: list[str]) -> Tri:
    if value in (None, UNKNOWN, ""):
        return "unknown"
    return "yes" if value in accepted else "no"


def synchronized_reach(loop: Loop, sync: dict[str, Tri]) -> Tri:
    """Whether a loop acts on a resource whose members must all take part in each step."""
    if not isinstance(loop.acts_on, list):
        return "unknown"
    found = tri_or(sync.get(r, "unknown") for r in loop.acts_on if r != UNKNOWN)
    return "unknown" if found == "no" and UNKNOWN in loop.acts_on else found


def kind_reach(loop: Loop, kinds: dict[str, str], accepted: set[str], inside: bool) -> Tri:
    """Whether a loop acts on a resource whose kind is (`inside`) or is not in `accepted`.
    A resource that is not declared, or whose kind is not given, could be of any kind."""
    if not isinstance(loop.acts_on, list):
        return "unknown"
    found = tri_or(
        "unknown" if kinds.get(r) in (None, UNKNOWN, "") else _yes((kinds[r] in accepted) == inside)
        for r in loop.acts_on
        if r != UNKNOWN
    )
    return "unknown" if found == "no" and UNKNOWN in loop.acts_on else found


def _yes(value: bool) -> Tri:
    return "yes" if value else "no"


def roles(
    loop: Loop,
    vocab: Vocabulary,
    synchronized: Tri = "unknown",
    kinds: dict[str, str] | None = None,
) -> dict[str, Tri]:
    """The roles a loop plays (see `roles` in the vocabulary), three-valued: a role is played
    when one of its ways holds, and a way holds when each of its conditions does. `kinds`
    maps resource ids to their kinds; without it every resource's kind is unknown."""
    acts = membership(loop.actuations, vocab.terms("actuations"))
    trigs = membership(loop.triggers, vocab.terms("triggers"))
    kinds = kinds or {}
    out: dict[str, Tri] = {}
    for rid, role in vocab.roles.items():
        played = "no"
        for way in role.when:
            held = _way_holds(way, loop, acts, trigs, synchronized, kinds)
            if held == "yes":
                played = "yes"
                break
            if held == "unknown":
                played = "unknown"
        out[rid] = played
    return out


def _way_holds(
    way: RoleWay,
    loop: Loop,
    acts: dict[str, Tri],
    trigs: dict[str, Tri],
    synchronized: Tri,
    kinds: dict[str, str],
) -> Tri:
    """Each of the way's conditions, three-valued and taken together; the rest are not
    looked at once one fails (about 7,000 ways are judged at 1,000 loops)."""
    result = _any_of(acts, way.actuations)
    if way.triggers and result != "no":
        result = tri_and(result, _any_of(trigs, way.triggers))
    if way.instances and result != "no":
        result = tri_and(result, _category_in(loop.instances, way.instances))
    if way.layers and result != "no":
        result = tri_and(result, _category_in(loop.layer, way.layers))
    if way.kinds and result != "no":
        result = tri_and(result, kind_reach(loop, kinds, set(way.kinds), inside=True))
    if way.not_kinds and result != "no":
        result = tri_and(result, kind_reach(loop, kinds, set(way.not_kinds), inside=False))
    if way.synchronized and result != "no":
        result = tri_and(result, synchronized)
    return result


def _any_of(tri: dict[str, Tri], terms: list[str]) -> Tri:
    """tri_or of the terms' values in `tri` (a term it lacks is "no"), without a generator."""
    out = "no"
    for term in terms:
        value = tri.get(term, "no")
        if value == "yes":
            return "yes"
        if value == "unknown":
            out = "unknown"
    return out


def quotient_x100(a: durations.Interval, b: durations.Interval) -> tuple[int, int]:
    """Range of a / b (x100) over every value the intervals allow; unknown if either is."""
    if not a.known or not b.known:
        return 0, 10**9
    lo = max(a.lo, 1) / max(b.hi, 1)
    hi = max(a.hi, 1) / max(b.lo, 1)
    return int(lo * 100), min(int(hi * 100 + 0.999999), 10**9 - 1)


def faster(a: durations.Interval, b: durations.Interval) -> Tri:
    if not a.known or not b.known:
        return "unknown"
    if a.hi < b.lo:
        return "yes"
    if a.lo >= b.hi:
        return "no"
    return "unknown"


def ratio_x100(a: durations.Interval, b: durations.Interval) -> tuple[int, int]:
    """Range of slower/faster timescale ratio (x100) over every value the intervals allow."""
    if not a.known or not b.known:
        return 100, 10**9
    lo_a, hi_a, lo_b, hi_b = max(a.lo, 1), max(a.hi, 1), max(b.lo, 1), max(b.hi, 1)
    if hi_a < lo_b:
        low = lo_b / hi_a
    elif hi_b < lo_a:
        low = lo_a / hi_b
    else:
        low = 1.0
    high = max(hi_a / lo_b, hi_b / lo_a, 1.0)
    return int(low * 100), min(int(high * 100 + 0.999999), 10**9)


@dataclass
class Edge:
    source: str
    target: str
    resource: str
    signal: str


@dataclass
class Pair:
    a: str
    b: str
    resource: str
    ratio: tuple[int, int]
    same_layer: Tri
    a_faster: Tri
    common: dict[str, Tri]


@dataclass
class Nesting:
    outer: str
    inner: str
    outer_deadline: durations.Interval
    inner_deadline: durations.Interval
    inverted: Tri
    cancels: Tri


@dataclass
class Amplification:
    loops: list[str]
    factor: tuple[int, int]


@dataclass
class Cycle:
    """Loops each reacting to the one before; hop i runs from loops[i] to the next loop (the
    last hop back to the first). Per hop: the direction it pushes the resource it runs over
    ("reinforces", "relieves", or None when none of its signals has one) and the signal named
    for it."""

    loops: list[str]
    directions: list[str | None] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)

    @property
    def kind(self) -> CycleKind:
        return cycle_kind(self.directions)

    @property
    def amplifying(self) -> Tri:
        """yes for an amplifying cycle; unknown where a hop of no known direction could still
        make it one (no hop relieves); no otherwise."""
        if self.kind == "amplifying":
            return "yes"
        return "no" if "relieves" in self.directions else "unknown"


def hop_direction(signals: Iterable[str], vocab: Vocabulary) -> str | None:
    """reinforces when one of a hop's signals reinforces, relieves when one relieves and none
    reinforces, None when none has a direction (or the signal is not in the vocabulary)."""
    found = {vocab.signals[s].direction for s in signals if s in vocab.signals}
    if "reinforces" in found:
        return "reinforces"
    return "relieves" if "relieves" in found else None


def cycle_kind(directions: list[str | None]) -> CycleKind:
    """amplifying: every hop reinforces; damping: every hop relieves; oscillating: some hops
    reinforce and some relieve, so the loops pull the resource back and forth (a sign change
    among the hops of known direction is enough); unclassified otherwise."""
    known = {d for d in directions if d is not None}
    if known == {"reinforces", "relieves"}:
        return "oscillating"
    if None in directions or not known:
        return "unclassified"
    return "amplifying" if known == {"reinforces"} else "damping"


def classify(hops: list[list[str]], vocab: Vocabulary) -> CycleKind:
    """The kind of a cycle whose hops carry these signals."""
    return cycle_kind([hop_direction(h, vocab) for h in hops])


def cycle_of(
    loops: list[str], on_hop: dict[tuple[str, str], list[str]], vocab: Vocabulary
) -> Cycle:
    """A cycle through `loops`, classified from the signals `on_hop` each hop carries. Each hop
    names the first signal that gave it its direction (its first signal when none did)."""
    hops = [on_hop.get(h, []) for h in zip(loops, loops[1:] + loops[:1], strict=True)]
    directions = [hop_direction(h, vocab) for h in hops]
    signals = [
        next(
            (s for s in h if d is None or (s in vocab.signals and vocab.signals[s].direction == d)),
            "",
        )
        for h, d in zip(hops, directions, strict=True)
    ]
    return Cycle(list(loops), directions, signals)


@dataclass
class Structure:
    edges: list[Edge] = field(default_factory=list)
    pairs: list[Pair] = field(default_factory=list)
    nestings: list[Nesting] = field(default_factory=list)
    amplifications: list[Amplification] = field(default_factory=list)
    cycles: list[Cycle] = field(default_factory=list)
    # (loop, resource): a loop with a deadline, and a resource its own resources' calls reach
    # further down, which some loop acts on (what its deadline waits on).
    waits: list[tuple[str, str]] = field(default_factory=list)
    # A loop hides, delays or averages away a signal another loop reads (assessment/masking.py).
    masks: list[masking.Mask] = field(default_factory=list)
    cycles_truncated: bool = False
    # What a cap left out, counted: "nestings" and "amplification paths" (see _capped).
    left_out: dict[str, int] = field(default_factory=dict)
    emits: dict[str, dict[str, Tri]] = field(default_factory=dict)
    reacts: dict[str, dict[str, Tri]] = field(default_factory=dict)
    roles: dict[str, dict[str, Tri]] = field(default_factory=dict)
    # What the loops acting on a resource do, taken together (three-valued "any"), so that a
    # pattern can find a mechanism on one resource however its loops were divided.
    roles_here: dict[str, dict[str, Tri]] = field(default_factory=dict)
    actuations_here: dict[str, dict[str, Tri]] = field(default_factory=dict)


def _acts_on(loop: Loop) -> list[str]:
    return [r for r in loop.acts_on if r != UNKNOWN] if isinstance(loop.acts_on, list) else []


def _key(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _same_answers_once(
    loops: list[Loop], answers: Callable[[Loop], Any], compute: Callable[[Loop], dict[str, Tri]]
) -> dict[str, dict[str, Tri]]:
    """compute(loop) for each loop, computed once per distinct `answers(loop)` (what compute
    reads of a loop): large platforms repeat a few kinds of loop many times. Each loop gets
    its own copy, which derive() may change."""
    seen: dict[Any, dict[str, Tri]] = {}
    out = {}
    for lp in loops:
        key = answers(lp)
        if key not in seen:
            seen[key] = compute(lp)
        out[lp.id] = dict(seen[key])
    return out


def derive(assessment: Assessment, vocab: Vocabulary) -> Structure:
    s = Structure()
    loops = assessment.loops
    s.emits = _same_answers_once(
        loops, lambda lp: (_key(lp.actuations), _key(lp.changes)), lambda lp: emits(lp, vocab)
    )
    s.reacts = _same_answers_once(
        loops, lambda lp: (_key(lp.triggers), _key(lp.observes)), lambda lp: reacts(lp, vocab)
    )

    on: dict[str, list[Loop]] = {}
    for lp in loops:
        for rid in _acts_on(lp):
            on.setdefault(rid, []).append(lp)

    resources = assessment.resource_list()
    _roles(
        s,
        vocab,
        loops,
        on,
        {r.id: r.synchronized or "unknown" for r in resources},
        {r.id: r.kind for r in resources if r.kind},
    )
    # A task is ended by a control action only where the loop stops work: a model server
    # preempting sequences inside its engine recomputes them, so its callers see a slower
    # answer, not an ended request (the `stops_work` role tells the two preemptions apart).
    # A signal the loop is declared to cause (`changes`) stands.
    for lp in loops:
        declared = isinstance(lp.changes, list) and "task_terminated" in lp.changes
        if s.roles[lp.id].get("stops_work") == "no" and not declared:
            s.emits[lp.id]["task_terminated"] = "no"
    calls: dict[str, list[str]] = {res.id: list(res.calls) for res in resources}
    callers: dict[str, list[str]] = {rid: [] for rid in calls}
    for rid, callees in calls.items():
        for callee in callees:
            callers.setdefault(callee, []).append(rid)
    # Only resources that loops act on can end an edge, a nesting or an amplification, so
    # reachability is kept for those alone (see _reach).
    downstream = _reach(calls, set(on))
    upstream = _reach(callers, set(on))

    rank = {lp.id: _rank(lp, i) for i, lp in enumerate(loops)}
    partners = {rid: _partners(actors, rank) for rid, actors in on.items()}
    gone = _stopped_with(s, vocab, on, resources)
    _edges(s, vocab, on, downstream, upstream, partners, rank, gone)
    _pairs(s, vocab, on, partners)
    by_id = {lp.id: lp for lp in loops}
    _nestings(s, loops, on, downstream)
    _waits(s, loops, downstream)
    _amplifications(s, loops, on, downstream, by_id)
    _cycles(s, vocab, by_id)
    s.masks = masking.derive(loops, on, downstream, s.reacts, vocab)
    return s


def _roles(
    s: Structure,
    vocab: Vocabulary,
    loops: list[Loop],
    on: dict[str, list[Loop]],
    sync: dict[str, Tri],
    kinds: dict[str, str],
) -> None:
    def reach(lp: Loop) -> Any:  # the kinds of what the loop acts on, as roles() reads them
        if not isinstance(lp.acts_on, list):
            return None
        return tuple(UNKNOWN if r == UNKNOWN else kinds.get(r) for r in lp.acts_on)

    s.roles = _same_answers_once(
        loops,
        lambda lp: (
            _key(lp.actuations),
            _key(lp.triggers),
            lp.instances,
            lp.layer,
            reach(lp),
            synchronized_reach(lp, sync),
        ),
        lambda lp: roles(lp, vocab, synchronized_reach(lp, sync), kinds),
    )
    actuations = vocab.terms("actuations")
    acts = _same_answers_once(
        loops, lambda lp: _key(lp.actuations), lambda lp: membership(lp.actuations, actuations)
    )
    role_names = list(vocab.roles)
    for rid in sync.keys() | on.keys():
        here = on.get(rid, [])
        s.roles_here[rid] = _any_here([s.roles[lp.id] for lp in here], role_names)
        s.actuations_here[rid] = _any_here([acts[lp.id] for lp in here], actuations)


def _any_here(each: list[dict[str, Tri]], terms: list[str]) -> dict[str, Tri]:
    """term -> tri_or of its value in each of `each` (the loops on one resource), read a
    column of values at a time (about 8,000 terms on 200 resources at 1,000 loops)."""
    if not each:
        return dict.fromkeys(terms, "no")
    columns = zip(*(map(d.__getitem__, terms) for d in each), strict=True)
    return {
        t: "yes" if "yes" in column else "unknown" if "unknown" in column else "no"
        for t, column in zip(terms, columns, strict=True)
    }


# The knowledge base's question whether a loop stops a job as one unit (Kueue suspending a
# whole workload) or one node or pod at a time.
WHOLE_JOB_QUESTION = "stops-whole-job"


def _stopped_with(
    s: Structure, vocab: Vocabulary, on: dict[str, list[Loop]], resources: list[Any]
) -> set[tuple[str, str, str]]:
    """(stopper, loop, resource) where the stopper ends the whole of a job and the loop runs
    inside that job (`restarts_in_place`): the loop is stopped with the job, so the stop never
    reaches it as an ended task to react to. Only where both are known, as a task's end is
    dropped only where a loop is known to stop no work; an unknown keeps the edge."""
    if "restarts_in_place" not in vocab.roles:
        return set()
    sync = {r.id: r.synchronized or "unknown" for r in resources}
    kinds = {r.id: r.kind for r in resources if r.kind}
    out: set[tuple[str, str, str]] = set()
    for rid, actors in on.items():
        whole = [
            a
            for a in actors
            if a.answers.get(WHOLE_JOB_QUESTION) == "yes" and s.roles[a.id]["stops_work"] == "yes"
        ]
        if not whole:
            continue
        for b in actors:
            if s.roles[b.id]["restarts_in_place"] != "yes":
                continue
            # Inside this job, not only inside some other one it also acts on.
            here = b.model_copy(update={"acts_on": [rid]})
            if roles(here, vocab, sync.get(rid, "unknown"), kinds)["restarts_in_place"] == "yes":
                out.update((a.id, b.id, rid) for a in whole if a.id != b.id)
    return out


def _reach(below_of: dict[str, list[str]], marked: set[str]) -> dict[str, frozenset[str]]:
    """For each marked resource, the marked resources strictly below it in the call graph
    `below_of` (each resource's successors).

    One pass in reverse topological order over the call graph's strongly connected
    components (validation rejects call cycles, so each is one resource, but any graph
    works). A component's set is shared with the one below it when it adds nothing, so a
    long chain with few marked resources costs time and memory linear in its length, not
    the square of it, as one descendants set per resource did.
    """
    upward, groups, successors = _components_upward(below_of)
    empty: frozenset[str] = frozenset()
    below: dict[Any, frozenset[str]] = {}  # marked resources strictly below a component
    full: dict[Any, frozenset[str]] = {}  # ... and its own marked members
    for c in upward:
        parts = {id(full[d]): full[d] for d in successors(c) if full[d]}
        if not parts:
            below[c] = empty
        elif len(parts) == 1:
            (below[c],) = parts.values()
        else:
            below[c] = frozenset().union(*parts.values())
        own = [r for r in groups[c] if r in marked]
        full[c] = (below[c] | frozenset(own)) if own else below[c]
    out: dict[str, frozenset[str]] = {}
    for c in upward:
        own = [r for r in groups[c] if r in marked]
        for r in own:
            # In a cycle a resource reaches the others of its component, never itself.
            out[r] = (below[c] | frozenset(own).difference([r])) if len(own) > 1 else below[c]
    return out


def _components_upward(
    below_of: dict[str, list[str]],
) -> tuple[list[Any], dict[Any, list[str]], Callable[[Any], Iterable[Any]]]:
    """The call graph's strongly connected components, each after those below it: their
    order, each one's resources, and the components right below one."""
    try:
        # Successors given as predecessors put every resource after those below it.
        upward: list[Any] = list(TopologicalSorter(below_of).static_order())
        return upward, {r: [r] for r in upward}, lambda r: below_of.get(r, ())
    except CycleError:  # networkx only where there is a cycle to condense
        import networkx as nx

        graph: nx.DiGraph[str] = nx.DiGraph()
        graph.add_nodes_from(below_of)
        graph.add_edges_from((r, callee) for r, callees in below_of.items() for callee in callees)
        dag = nx.condensation(graph)  # its nodes are numbered components
        upward = list(reversed(list(nx.topological_sort(dag))))
        return upward, {c: sorted(dag.nodes[c]["members"]) for c in upward}, dag.successors


def _edges(
    s: Structure,
    vocab: Vocabulary,
    on: dict[str, list[Loop]],
    downstream: dict[str, frozenset[str]],
    upstream: dict[str, frozenset[str]],
    partners: dict[str, dict[str, list[Loop]] | None],
    rank: dict[str, tuple[float, int]],
    gone: set[tuple[str, str, str]],
) -> None:
    seen: set[tuple[str, str, str, str]] = set()
    left_out = 0
    # (resource, signal) -> the loops there that react to it, in declaration order and by
    # rank, with the ranks and the ids
    reacting: dict[tuple[str, str], _Ranked] = {}
    for rid, actors in on.items():
        reach = {
            "none": [rid],
            "downstream": sorted({rid} | downstream.get(rid, frozenset())),
            "upstream": sorted({rid} | upstream.get(rid, frozenset())),
        }
        for a in actors:
            aid = a.id
            produced = [sig for sig, v in s.emits[aid].items() if v == "yes"]
            for sig in produced:
                stopped = sig == "task_terminated"
                for r2 in reach[vocab.signals[sig].propagates]:
                    if (r2, sig) not in reacting:
                        loops = [b for b in on.get(r2, []) if s.reacts[b.id].get(sig) == "yes"]
                        reacting[r2, sig] = _Ranked(loops, rank)
                    targets = reacting[r2, sig]
                    count = len(targets.loops) - (aid in targets.ids)
                    chosen = partners.get(r2)
                    if r2 == rid and chosen is not None:
                        kept = [b.id for b in chosen[aid] if b.id in targets.ids]
                    elif count > MAX_PARTNERS:
                        kept = [b.id for b in targets.nearest(rank[aid], aid)]
                    else:
                        kept = [b for b in targets.order if b != aid]
                    left_out += count - len(kept)
                    for bid in kept:
                        key = (aid, bid, r2, sig)
                        if key in seen or (stopped and (aid, bid, r2) in gone):
                            continue
                        seen.add(key)
                        s.edges.append(Edge(aid, bid, r2, sig))
    if left_out:
        s.left_out["edges"] = left_out


def _pairs(
    s: Structure,
    vocab: Vocabulary,
    on: dict[str, list[Loop]],
    partners: dict[str, dict[str, list[Loop]] | None],
) -> None:
    signals = vocab.terms("signals")
    # Loops made from one template react alike: each distinct pair of reactions is
    # combined once, and its facts share the result (read, never changed).
    reaction = {lp.id: tuple(s.reacts[lp.id].values()) for actors in on.values() for lp in actors}
    commons: dict[tuple[tuple[str, ...], tuple[str, ...]], dict[str, Tri]] = {}
    # Loops made from one template share their timescales too: each pair of timescales is
    # compared once (the ratio is a tuple of ints, shared as the common reactions are).
    speeds: dict[tuple[Any, Any], tuple[tuple[int, int], Tri]] = {}
    left_out = 0
    for rid, actors in on.items():
        chosen = partners[rid]
        for a in actors:
            aid, a_layer, a_reaction = a.id, a.layer, reaction[a.id]
            a_layer_known = a_layer not in (None, UNKNOWN)
            others = actors if chosen is None else chosen[aid]
            left_out += len(actors) - 1 - (len(others) if chosen is not None else len(actors) - 1)
            for b in others:
                bid = b.id
                if aid == bid:
                    continue
                if not a_layer_known or b.layer in (None, UNKNOWN):
                    same = "unknown"
                else:
                    same = "yes" if a_layer == b.layer else "no"
                both = (a_reaction, reaction[bid])
                common = commons.get(both)
                if common is None:
                    common = {
                        sig: tri_and(s.reacts[aid][sig], s.reacts[bid][sig]) for sig in signals
                    }
                    commons[both] = common
                timed = (a.timescale, b.timescale)
                compared = speeds.get(timed)
                if compared is None:
                    ta, tb = durations.interval_of(a.timescale), durations.interval_of(b.timescale)
                    compared = speeds[timed] = (ratio_x100(ta, tb), faster(ta, tb))
                s.pairs.append(Pair(aid, bid, rid, compared[0], same, compared[1], common))
    if left_out:
        s.left_out["pairs"] = left_out


def _rank(loop: Loop, index: int) -> tuple[float, int]:
    """Where a loop's timescale lies (log scale; unknown last), then its declaration order."""
    t = durations.interval_of(loop.timescale)
    return (math.log(max(t.lo, 1) * max(t.hi, 1)) / 2 if t.known else math.inf), index


class _Ranked:
    """Loops in declaration order (and their ids), and ordered by rank (timescale, then
    declaration) once `nearest` is first asked."""

    def __init__(self, loops: list[Loop], rank: dict[str, tuple[float, int]]) -> None:
        self.loops = loops
        self.order = [lp.id for lp in loops]
        self.ids = set(self.order)
        self.rank = rank
        self.ranked: list[Loop] = []
        self.keys: list[tuple[float, int]] = []
        self.position: dict[str, int] = {}  # id -> place in declaration order

    def nearest(self, key: tuple[float, int], skip: str) -> list[Loop]:
        """The MAX_PARTNERS loops around `key` in rank order (half on each side where there
        are enough), never `skip`, in declaration order."""
        if not self.ranked:  # most sets of loops are never asked (too few to need it)
            self.ranked = sorted(self.loops, key=lambda lp: self.rank[lp.id])
            self.keys = [self.rank[lp.id] for lp in self.ranked]
            self.position = {lp.id: i for i, lp in enumerate(self.loops)}
        at = bisect.bisect_left(self.keys, key)
        start = max(0, min(at - MAX_PARTNERS // 2, len(self.ranked) - MAX_PARTNERS - 1))
        window = [lp for lp in self.ranked[start : start + MAX_PARTNERS + 1] if lp.id != skip]
        return sorted(window[:MAX_PARTNERS], key=lambda lp: self.position[lp.id])


def _partners(
    actors: list[Loop], rank: dict[str, tuple[float, int]]
) -> dict[str, list[Loop]] | None:
    """Which loops each loop on a resource is compared with, in declaration order; None for
    all of them. Each loop takes its MAX_PARTNERS neighbours in rank order and is taken by
    those that choose it."""
    if len(actors) <= MAX_PARTNERS + 1:
        return None
    ranked = _Ranked(actors, rank)
    chosen: dict[str, set[str]] = {lp.id: set() for lp in actors}
    for lp in actors:
        for other in ranked.nearest(rank[lp.id], lp.id):
            chosen[lp.id].add(other.id)
            chosen[other.id].add(lp.id)
    return {
        a: [actors[i] for i in sorted(ranked.position[b] for b in bs)] for a, bs in chosen.items()
    }


def _nestings(
    s: Structure,
    loops: list[Loop],
    on: dict[str, list[Loop]],
    downstream: dict[str, frozenset[str]],
) -> None:
    with_deadline = [lp for lp in loops if lp.deadline is not None and _acts_on(lp)]
    position = {lp.id: i for i, lp in enumerate(with_deadline)}
    for outer in with_deadline:
        level = frozenset(_acts_on(outer))
        below: set[str] = set()
        for rid in level:
            below |= downstream.get(rid, frozenset())
        # Only loops on a resource below can nest inside: found through `on`, not by trying
        # every deadline loop against every other.
        inside = {lp.id for r in below for lp in on.get(r, []) if lp.id in position}
        inside.discard(outer.id)
        found = []
        for inner_id in sorted(inside, key=position.__getitem__):
            inner = with_deadline[position[inner_id]]
            # A loop that also acts at the outer loop's level or above it is not further
            # down the call path: a client acting on a gateway and on the servers behind it
            # calls the gateway, whose timeout does not enclose the client's.
            if any(r in level or level & downstream.get(r, frozenset()) for r in _acts_on(inner)):
                continue
            od, idl = durations.interval_of(outer.deadline), durations.interval_of(inner.deadline)
            if od.known and idl.known and idl.lo >= od.hi:
                inverted = "yes"
            elif od.known and idl.known and idl.hi < od.lo:
                inverted = "no"
            else:
                inverted = "unknown"
            cancels = outer.propagates_cancellation or "unknown"
            found.append(Nesting(outer.id, inner.id, od, idl, inverted, cancels))
        s.nestings += _capped(found, MAX_NESTINGS_PER_LOOP, _inverted_first, s, "nestings")


def _waits(s: Structure, loops: list[Loop], downstream: dict[str, frozenset[str]]) -> None:
    for lp in loops:
        if lp.deadline is None:
            continue
        own = _acts_on(lp)
        below = set().union(*(downstream.get(rid, frozenset()) for rid in own)) - set(own)
        s.waits += [(lp.id, rid) for rid in sorted(below)]


def _capped(
    items: list[Any], cap: int, rank: Callable[[Any], Any], s: Structure, what: str
) -> list[Any]:
    """At most `cap` items: the first by `rank` (stable, so ties keep input order), returned
    in input order; how many were left out is added to s.left_out[what]."""
    if len(items) <= cap:
        return items
    keep = set(sorted(range(len(items)), key=lambda i: rank(items[i]))[:cap])
    s.left_out[what] = s.left_out.get(what, 0) + len(items) - cap
    return [item for i, item in enumerate(items) if i in keep]


def _retries(loop: Loop) -> tuple[int, int]:
    r = loop.retry.max_retries if loop.retry is not None else None
    if r is None or r == UNKNOWN:
        return 0, UNKNOWN_RETRIES_HI
    return int(r), int(r)


def _amplifications(
    s: Structure,
    loops: list[Loop],
    on: dict[str, list[Loop]],
    downstream: dict[str, frozenset[str]],
    by_id: dict[str, Loop],
) -> None:
    retriers = [
        lp
        for lp in loops
        if isinstance(lp.actuations, list) and "retry" in lp.actuations and _acts_on(lp)
    ]
    if len(retriers) < 2:
        return
    # Who follows whom, in the order of `retriers`, each one's followers in the order added.
    follow: dict[str, list[str]] = {lp.id: [] for lp in retriers}
    # Retriers stacked on one resource chain in this order: a client's own retries first (a
    # caller's SDK sits above the gateway it calls, whichever was described first), then in
    # the order they were described.
    order = {
        lp.id: i
        for i, lp in enumerate(sorted(retriers, key=lambda lp: lp.instances != "per_client"))
    }
    own = {lp.id: set(_acts_on(lp)) for lp in retriers}
    below = {
        lp.id: set().union(*(downstream.get(r, frozenset()) for r in own[lp.id])) for lp in retriers
    }
    for a in retriers:
        ra, below_a = own[a.id], below[a.id]
        # Only retriers on the same resource or below can follow a: found through `on`.
        near = {b.id for r in ra | below_a for b in on.get(r, []) if b.id in order}
        for b_id in sorted(near, key=order.__getitem__):
            if a.id == b_id:
                continue
            rb = own[b_id]
            # Stacked on one resource: chain in declaration order so the DAG stays acyclic.
            if (below_a & rb and not (below[b_id] & ra)) or (ra & rb and order[a.id] < order[b_id]):
                follow[a.id].append(b_id)
    links = [(lead, then) for lead, followers in follow.items() for then in followers]
    nodes = list(follow)
    try:
        TopologicalSorter(follow).prepare()
    except CycleError:  # keep the links in declaration order, and the retriers they join
        links = [(lead, then) for lead, then in links if order[lead] < order[then]]
        nodes = list(dict.fromkeys(lp for link in links for lp in link))
    after: dict[str, list[str]] = {node: [] for node in nodes}  # each one's predecessors
    for lead, then in links:
        after[then].append(lead)
    leads = {lead for lead, _ in links}
    # Longest chain (by worst-case factor) ending at each sink: dynamic programming, O(V+E).
    best: dict[str, tuple[int, int, list[str]]] = {}
    for node in TopologicalSorter(after).static_order():
        lo, hi = _retries(by_id[node])
        factor = (lo + 1, min(hi, UNKNOWN_RETRIES_HI) + 1)
        prev = [best[p] for p in after[node]]
        if prev:
            blo, bhi, path = max(prev, key=lambda t: (t[1], len(t[2]), t[2]))
            best[node] = (blo * factor[0], bhi * factor[1], [*path, node])
        else:
            best[node] = (factor[0], factor[1], [node])
    found = []
    for node in nodes:
        if node not in leads and len(best[node][2]) >= 2:
            lo, hi, path = best[node]
            found.append(Amplification(path, (lo, hi)))
    s.amplifications += _capped(
        found, MAX_AMPLIFICATIONS, _worst_factor_first, s, "amplification paths"
    )


def _inverted_first(n: Nesting) -> int:
    return _INVERTED_RANK[n.inverted]


def _worst_factor_first(a: Amplification) -> tuple[int, int]:
    return (-a.factor[1], -a.factor[0])


def _canonical(cycle: list[str]) -> tuple[str, ...]:
    """One cycle, one form: rotated to start at its smallest loop id (direction kept)."""
    start = cycle.index(min(cycle))
    return tuple(cycle[start:] + cycle[:start])


def _passes_through(
    loop: Loop | None, inbound: list[str], outbound: list[str], vocab: Vocabulary
) -> bool:
    """Whether a cycle can run through a loop: one signal it receives on the way in leads to
    an action of it that produces one it sends on the way out. A scaler entered on rising
    load leaves on what its scale-out produces, not on the ended tasks of its scale-in."""
    if loop is None or not isinstance(loop.actuations, list) or UNKNOWN in loop.actuations:
        return True  # what it does is not known: the cycle cannot be ruled out
    if isinstance(loop.changes, list) and any(sig in loop.changes for sig in outbound):
        return True  # a stated effect, whatever causes it
    for act in loop.actuations:
        term = vocab.actuations.get(act)
        if term is None:
            return True
        out = [sig for sig in outbound if sig in term.produces]
        if out and any(sig not in term.not_after for sig in inbound):
            return True
    return False


def _cycles(s: Structure, vocab: Vocabulary, by_id: dict[str, Loop]) -> None:
    # Each hop (source, target) once, in the order the edges first name it, with its signals.
    on_hop: dict[tuple[str, str], list[str]] = {}
    for e in s.edges:
        hop = (e.source, e.target)
        signals = on_hop.get(hop)
        if signals is None:
            on_hop[hop] = [e.signal]
        elif e.signal not in signals:
            signals.append(e.signal)
    # networkx walks sets of nodes; with string labels their order changes with Python's
    # hash seed, and so would the cycles kept when there are more than MAX_CYCLES. Integer
    # labels in sorted order make the same input give the same cycles in every run.
    names = sorted({a for a, _ in on_hop} | {b for _, b in on_hop})
    number = {name: i for i, name in enumerate(names)}
    hops = [(number[a], number[b]) for a, b in on_hop]
    # When there are too many, keep the tightest. Two-loop cycles (each loop reacting to the
    # other) come straight from the edges; longer ones from one lazy networkx pass, stopped
    # at CYCLE_SEARCH_CAP so that a graph of many long paths stays cheap. The
    # search's first cycles are not the shortest, so it collects more than it keeps.
    links = set(hops)
    found: dict[tuple[str, ...], None] = {}
    for a, b in sorted(links):
        if a == b or (a < b and (b, a) in links):
            found[_canonical([names[a]] if a == b else [names[a], names[b]])] = None

    # Whether a cycle runs through a loop depends only on the loops before and after it, which
    # the cycles found share: each such step is judged once (456 distinct of 4,735 on a
    # generated 30-loop platform, whose graph the interview derives after every answer).
    through: dict[tuple[str, str, str], bool] = {}

    def passes(c: tuple[str, ...]) -> bool:
        for i, lp in enumerate(c):
            step = (c[i - 1], lp, c[(i + 1) % len(c)])
            ok = through.get(step)
            if ok is None:
                ok = through[step] = _passes_through(
                    by_id.get(lp), on_hop.get(step[:2], []), on_hop.get(step[1:], []), vocab
                )
            if not ok:
                return False
        return True

    tight = {c: passes(c) for c in found}
    if sum(tight.values()) > MAX_CYCLES:
        # The search adds only cycles of three loops or more, kept after every one of these
        # (shortest first), which already fill the cycles kept and make them truncated: what
        # it would add could change nothing, so it is not made (a large platform's case).
        found = {c: None for c, ok in tight.items() if ok}
    else:
        # Added at once in the edges' order: the same graph, node by node and successor by
        # successor, as adding each edge in turn (networkx's search follows that order).
        import networkx as nx  # loaded only for this search, which a large platform skips

        simple: nx.DiGraph[int] = nx.DiGraph()
        simple.add_nodes_from(range(len(names)))
        simple.add_edges_from(hops)
        for cyc in nx.simple_cycles(simple, length_bound=vocab.settings.max_cycle_length):
            found[_canonical([names[i] for i in cyc])] = None
            if len(found) > CYCLE_SEARCH_CAP:
                break
        found = {c: None for c in found if (tight[c] if c in tight else passes(c))}
    kept = sorted(found, key=lambda c: (len(c), c))
    s.cycles_truncated = len(kept) > MAX_CYCLES
    for loops in kept[:MAX_CYCLES]:
        s.cycles.append(cycle_of(list(loops), on_hop, vocab))
    s.cycles.sort(key=lambda c: (len(c.loops), c.loops))
