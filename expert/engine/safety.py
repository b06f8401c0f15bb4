"""Static checks for the durable-rules 2.0.28 JSON subset the rule compiler may emit.

Why this exists: durable-rules 2.0.28 reads out of bounds in ``events.c:reduceExpressionSequence``
when the last evaluated term of a correlated ``$and``/``$or`` group short-circuits, and it has
semantic defects (``$or``/``any`` fire duplicates, ``none`` is not retracted, values of different
types are coerced into matches). See shared/notes/durable-rules.md. The compiler therefore emits
only a small grammar that tests/conformance proves safe and correct; this module rejects
everything outside that grammar before it reaches the C engine.

Allowed grammar (anything else is a violation):

* ruleset: non-empty dict ``{rule_name: rule}``; the ruleset name contains no ``$``.
* rule: ``{"all": [pattern, ...], "run": action, "pri": int}`` with 1-3 patterns,
  ``run`` a non-empty action name (or a callable) and optional ``pri`` in 0..65535.
* pattern: ``{fact_name: expr}``; ``expr`` is one alpha test or ``{"$and": [term, ...]}``.
* alpha test on the pattern's own fact: ``{"attr": str|int}``, ``{"$neq": {"attr": str|int}}``,
  ``{"$lt"|"$lte"|"$gt"|"$gte": {"attr": int}}``, ``{"$ex": {"attr": 1}}``.
* correlated term: ``{"attr": {"<earlier fact name>": "otherattr"}}`` (equality only), allowed
  only inside an ``$and`` group whose LAST term is the sentinel
  ``{"scope": {"<earlier fact name>": "scope"}}``.

The correlated equality must compare strings; the type of an attribute is a property of the
facts, so it is checked by ``check_fact`` (str/int only) and by the compiler's schema, not here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

SCOPE = "scope"
REQUIRED_FACT_KEYS = ("id", "kind", SCOPE)
MAX_PATTERNS = 3
MAX_PRI = 65535  # the engine stores pri as an unsigned short via atoi: -1 becomes 65535
ORDER_OPS = ("$lt", "$lte", "$gt", "$gte")
# Fixed-size structures of the 2.0.28 C engine (src/rules/*.h), checked statically below.
MAX_ALPHA_STACK = 64  # events.c handleAlpha: alpha *stack[64]; more -> error 303, fact lost
MAX_PATTERNS_PER_CHAIN = 255  # rules.h BETA_LIST_LENGTH 256: a full list has no 0 terminator
MAX_CHILDREN = 511  # a node's child hashset has 512 buckets -> error 106 at creation
MAX_CORRELATED_TERMS = 16  # a pattern's expression sequence holds 32 slots (error 113)
MAX_FACT_KEYS = 200  # a fact holds at most 255 properties incl. sid/id (error 302)
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

# Why each well-known construct is refused (shown in the violation text).
_FORBIDDEN_OPS = {
    "$or": "$or is forbidden: fires duplicates; a true last term of a correlated $or overflows",
    "$nex": "$nex is outside the allowed grammar",
    "$mt": "$mt (regex) is outside the allowed grammar",
    "$imt": "$imt (regex) is outside the allowed grammar",
    "$iall": "$iall (array test) is outside the allowed grammar",
    "$iany": "$iany (array test) is outside the allowed grammar",
    "$s": "$s (state test) is outside the allowed grammar",
    "$t": "$t (timer) is outside the allowed grammar",
}
_FORBIDDEN_RULE_KEYS = {
    "any": "'any' is forbidden: it refires earlier facts (duplicates)",
    "count": "'count' is outside the allowed grammar",
    "cap": "'cap' is outside the allowed grammar",
    "dist": "'dist' is outside the allowed grammar (default distinct facts is assumed)",
    "to": "statechart/flowchart transitions are outside the allowed grammar",
}


def fnv1a32(text: str) -> int:
    """32-bit FNV-1a exactly as ``state.c:fnv1Hash32`` computes it on x86.

    Why: the engine deduplicates facts per sid by this hash of the id only, so two distinct ids
    with equal hashes raise a false "already observed" (#376). The C loop XORs a signed ``char``,
    so bytes >= 0x80 are sign-extended (verified against the engine with non-ASCII ids).
    """
    h = 0x811C9DC5
    for byte in text.encode("utf-8"):
        if byte >= 0x80:
            byte = (byte - 0x100) & 0xFFFFFFFF
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h


def _is_int(value: object) -> bool:
    # bool is a subclass of int; the engine coerces true == 1, so bools are never allowed.
    return type(value) is int


def _is_scalar(value: object) -> bool:
    return type(value) is str or _is_int(value)


def _check_attr(attr: object, where: str, errors: list[str]) -> bool:
    """Attribute names: flat, non-reserved. Returns True when usable."""
    if type(attr) is not str or not attr:
        errors.append(f"{where}: attribute name must be a non-empty string, got {attr!r}")
        return False
    if attr.startswith("$"):
        errors.append(f"{where}: unsupported operator or reserved name {attr!r}")
        return False
    if "." in attr:
        # A dotted name is a nested path in durable-rules; facts are flat.
        errors.append(f"{where}: nested attribute path {attr!r} is outside the allowed grammar")
        return False
    if attr == "sid":
        # sid partitions engine state; using it as data would split or merge assessments.
        errors.append(f"{where}: attribute 'sid' is reserved by the engine")
        return False
    return True


def _single_item(obj: object, where: str, what: str, errors: list[str]) -> tuple[Any, Any] | None:
    if not isinstance(obj, Mapping) or len(obj) != 1:
        errors.append(f"{where}: {what} must be a dict with exactly one key, got {obj!r}")
        return None
    return next(iter(obj.items()))


def _check_term(term: object, earlier: list[str], where: str, errors: list[str]) -> str:
    """Classify one term of a pattern: 'alpha', 'corr', 'sentinel' or 'bad'."""
    item = _single_item(term, where, "a test", errors)
    if item is None:
        return "bad"
    key, value = item
    if type(key) is not str:
        errors.append(f"{where}: test key must be a string, got {key!r}")
        return "bad"
    if key == "$and":
        errors.append(f"{where}: nested $and is outside the allowed grammar (flatten it)")
        return "bad"
    if key in _FORBIDDEN_OPS:
        errors.append(f"{where}: {_FORBIDDEN_OPS[key]}")
        return "bad"
    if key == "$neq" or key in ORDER_OPS or key == "$ex":
        inner = _single_item(value, where, f"{key} operand", errors)
        if inner is None:
            return "bad"
        attr, operand = inner
        if not _check_attr(attr, f"{where} {key}", errors):
            return "bad"
        if isinstance(operand, Mapping):
            # Correlated inequality is the measured crash shape (events.c:612-618).
            errors.append(
                f"{where}: correlated {key} on {attr!r} is forbidden (out-of-bounds read when "
                "it short-circuits); only correlated string equality is allowed"
            )
            return "bad"
        if key == "$ex":
            if not _is_int(operand) or operand != 1:
                errors.append(f"{where}: $ex operand must be the int 1, got {operand!r}")
                return "bad"
        elif key in ORDER_OPS:
            if not _is_int(operand):
                errors.append(f"{where}: {key} on {attr!r} needs an int, got {operand!r}")
                return "bad"
        elif not _is_scalar(operand):
            errors.append(f"{where}: $neq on {attr!r} needs str or int, got {operand!r}")
            return "bad"
        if _is_int(operand) and not INT64_MIN <= operand <= INT64_MAX:
            errors.append(f"{where}: int {operand} does not fit the engine's 64-bit ints")
            return "bad"
        return "alpha"
    if not _check_attr(key, where, errors):
        return "bad"
    if _is_scalar(value):
        if _is_int(value) and not INT64_MIN <= value <= INT64_MAX:
            errors.append(f"{where}: int {value} does not fit the engine's 64-bit ints")
            return "bad"
        return "alpha"
    if not isinstance(value, Mapping):
        errors.append(f"{where}: value of {key!r} must be str or int, got {value!r}")
        return "bad"
    ref = _single_item(value, where, f"correlated reference of {key!r}", errors)
    if ref is None:
        return "bad"
    ref_name, ref_attr = ref
    if type(ref_name) is not str or ref_name.startswith("$"):
        # {"$add": ...}, {"$m": ...} and friends: arithmetic/self references are not allowed.
        errors.append(f"{where}: {key!r} must reference an earlier fact, got {value!r}")
        return "bad"
    if ref_name not in earlier:
        errors.append(
            f"{where}: {key!r} references {ref_name!r}, which is not an earlier fact of this rule"
        )
        return "bad"
    if not _check_attr(ref_attr, f"{where} reference", errors):
        return "bad"
    if key == SCOPE and ref_attr == SCOPE:
        return "sentinel"
    return "corr"


def _check_expr(expr: object, earlier: list[str], where: str, errors: list[str]) -> None:
    item = _single_item(expr, where, "a pattern expression", errors)
    if item is None:
        return
    key, value = item
    if key != "$and":
        kind = _check_term(expr, earlier, where, errors)
        if kind in ("corr", "sentinel"):
            errors.append(
                f"{where}: a correlated term must sit in an $and group that ends with the "
                f"sentinel {{'scope': {{'<earlier fact>': 'scope'}}}}"
            )
        return
    if not isinstance(value, list) or not value:
        errors.append(f"{where}: $and needs a non-empty list, got {value!r}")
        return
    kinds = [_check_term(t, earlier, f"{where} $and[{i}]", errors) for i, t in enumerate(value)]
    if ("corr" in kinds or "sentinel" in kinds) and kinds[-1] != "sentinel":
        # The sentinel is always true, so the group never short-circuits on its last term.
        errors.append(
            f"{where}: $and group with a correlated reference must END with the sentinel "
            f"{{'scope': {{'<earlier fact>': 'scope'}}}} (missing sentinel = crash shape)"
        )


def _check_rule(rule_name: object, rule: object, where: str, errors: list[str]) -> None:
    if type(rule_name) is not str or not rule_name or "$" in rule_name:
        errors.append(f"{where}: rule name must be a non-empty string without '$'")
    if not isinstance(rule, Mapping):
        errors.append(f"{where}: rule must be a dict, got {type(rule).__name__}")
        return
    for key in rule:
        if key in _FORBIDDEN_RULE_KEYS:
            errors.append(f"{where}: {_FORBIDDEN_RULE_KEYS[key]}")
        elif key not in ("all", "run", "pri"):
            errors.append(f"{where}: unsupported rule key {key!r}")
    if "run" not in rule:
        errors.append(f"{where}: missing 'run' (action)")
    else:
        run = rule["run"]
        if not (callable(run) or (type(run) is str and run)):
            errors.append(f"{where}: 'run' must be a non-empty action name, got {run!r}")
    if "pri" in rule:
        pri = rule["pri"]
        if not _is_int(pri) or not 0 <= pri <= MAX_PRI:
            errors.append(f"{where}: 'pri' must be an int in 0..{MAX_PRI}, got {pri!r}")
    if "all" not in rule:
        if "any" not in rule:
            errors.append(f"{where}: missing 'all'")
        return
    patterns = rule["all"]
    if not isinstance(patterns, list) or not 1 <= len(patterns) <= MAX_PATTERNS:
        errors.append(f"{where}: 'all' must be a list of 1..{MAX_PATTERNS} fact patterns")
        return
    earlier: list[str] = []
    for index, pattern in enumerate(patterns):
        pwhere = f"{where} all[{index}]"
        item = _single_item(pattern, pwhere, "a fact pattern", errors)
        if item is None:
            continue
        fact_name, expr = item
        if type(fact_name) is not str or not fact_name.isidentifier():
            # '$not' (none), '$all'/'$any' suffixes and dotted names change engine semantics.
            errors.append(f"{pwhere}: fact name must be a plain identifier, got {fact_name!r}")
            continue
        if fact_name in earlier:
            errors.append(f"{pwhere}: duplicate fact name {fact_name!r}")
            continue
        _check_expr(expr, earlier, f"{pwhere} {fact_name}", errors)
        earlier.append(fact_name)


class _AlphaNode:
    """One node of the engine's alpha network (a trie of tests shared between patterns)."""

    def __init__(self) -> None:
        self.children: dict[tuple[Any, ...], _AlphaNode] = {}

    def fanout(self) -> int:
        """Upper bound of children one fact can match (all are pushed on the DFS stack).

        Literal equalities on one attribute exclude each other (at most one per value type,
        because the engine coerces 1 == "1"); every other literal test may match; correlated
        terms are pushed without any test whenever the fact has the attribute.
        """
        eq_types: set[tuple[str, str]] = set()
        others = 0
        for key in self.children:
            if key[0] == "lit" and key[2] == "$eq":
                eq_types.add((key[1], key[3]))
            else:
                others += 1
        return len(eq_types) + others


def _term_key(term: Mapping[str, Any], serial: int) -> tuple[Any, ...]:
    """Identity of the alpha node a term creates (rete.c findAlpha/compareValue)."""
    ((key, value),) = term.items()
    if key.startswith("$"):
        ((attr, operand),) = value.items()
        if isinstance(operand, Mapping):  # correlated inequality (rejected, but keep counting)
            return ("ref", attr, key, repr(operand), serial)
        return ("lit", attr, key, type(operand).__name__, operand)
    if isinstance(value, Mapping):
        # Measured: a correlated term gets its own node in every pattern (never shared).
        ((ref_name, ref_attr),) = value.items()
        return ("ref", key, ref_name, ref_attr, serial)
    return ("lit", key, "$eq", type(value).__name__, value)


def _describe(keys: tuple[tuple[Any, ...], ...]) -> str:
    parts = []
    for key in keys:
        if key[0] == "lit":
            parts.append(f"{key[1]} {key[2]} {key[4]!r}")
        else:
            parts.append(f"{key[1]} ~ {key[2]}.{key[3]}")
    return "[" + " & ".join(parts) + "]"


def _pattern_terms(pattern: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    ((_fact_name, expr),) = pattern.items()
    ((key, value),) = expr.items()
    return list(value) if key == "$and" else [expr]


def _alpha_network(ruleset: Mapping[str, Any]) -> _AlphaNode:
    """Rebuild the engine's alpha network: one chain per pattern, in $and order, from one root."""
    limits = EngineLimits("")
    limits.add(ruleset)
    return limits.root


def _stack_bound(root: _AlphaNode) -> tuple[int, int]:
    """(worst-case DFS stack, largest child count) of events.c handleAlpha over the network.

    When a node is popped, all its matching children are pushed; siblings pushed earlier wait
    below. So the stack is bounded by the fan-out of the node being expanded plus, for each
    ancestor, its fan-out minus the one child on the current path.
    """
    worst = widest = 0
    stack: list[tuple[_AlphaNode, int]] = [(root, 0)]
    while stack:
        node, pending = stack.pop()
        fanout = node.fanout()
        worst = max(worst, pending + fanout)
        widest = max(widest, len(node.children))
        stack.extend((child, pending + fanout - 1) for child in node.children.values())
    return worst, widest


def alpha_stack_bound(ruleset: dict) -> int:
    """Worst-case alpha stack of a grammatically valid ruleset (the engine allows 64)."""
    return _stack_bound(_alpha_network(ruleset))[0]


class EngineLimits:
    """The engine's fixed-size structures for a ruleset built up rule by rule, so a compiler
    can fill rulesets to the limits without rebuilding the network for every rule it adds.

    Why: these limits bite valid rulesets too. Measured on 2.0.28: 65 matching sibling tests
    -> 'error code: 303' and the fact is dropped; 256 patterns ending on one identical alpha
    chain -> SIGSEGV (the node's betaList loses its 0 terminator).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.root = _AlphaNode()
        self.chains: dict[tuple[Any, ...], int] = {}
        self.rule_errors: list[str] = []
        self._serial = 0

    def add(self, rules: Mapping[str, Any]) -> None:
        """Add grammatically valid rules."""
        for rule_name, rule in rules.items():
            for index, pattern in enumerate(rule["all"]):
                node, chain = self.root, []
                for term in _pattern_terms(pattern):
                    self._serial += 1
                    key = _term_key(term, self._serial)
                    node = node.children.setdefault(key, _AlphaNode())
                    # Counted as if correlated nodes were shared: conservative for betaList.
                    chain.append(key if key[0] == "lit" else (*key[:-1], 0))
                keys = tuple(chain)
                self.chains[keys] = self.chains.get(keys, 0) + 1
                refs = sum(1 for k in keys if k[0] == "ref")
                if refs > MAX_CORRELATED_TERMS:
                    self.rule_errors.append(
                        f"{self.name}.{rule_name} all[{index}]: {refs} correlated terms > "
                        f"{MAX_CORRELATED_TERMS} (the engine's sequence has 32 slots)"
                    )

    def usage(self) -> tuple[int, int, int]:
        """(worst-case alpha stack, most children of one alpha node, most patterns on one
        alpha chain); the engine allows MAX_ALPHA_STACK, MAX_CHILDREN and
        MAX_PATTERNS_PER_CHAIN."""
        worst, widest = _stack_bound(self.root)
        return worst, widest, max(self.chains.values(), default=0)

    def violations(self) -> list[str]:
        errors = list(self.rule_errors)
        for keys, count in self.chains.items():
            if count > MAX_PATTERNS_PER_CHAIN:
                errors.append(
                    f"{self.name}: {count} patterns share the alpha chain {_describe(keys)} > "
                    f"{MAX_PATTERNS_PER_CHAIN} (256 -> SIGSEGV); add a distinguishing test or "
                    "split the ruleset"
                )
        worst, widest = _stack_bound(self.root)
        if widest > MAX_CHILDREN:
            errors.append(f"{self.name}: an alpha node has {widest} children > {MAX_CHILDREN}")
        if worst > MAX_ALPHA_STACK:
            errors.append(
                f"{self.name}: worst-case alpha stack {worst} > {MAX_ALPHA_STACK} (engine error "
                "303 drops the fact); put the 'kind' equality first in every pattern, literal "
                "tests before correlated ones, or split the ruleset"
            )
        return errors


def engine_usage(ruleset: Mapping[str, Any]) -> tuple[int, int, int]:
    """EngineLimits.usage of a whole grammatically valid ruleset."""
    limits = EngineLimits("")
    limits.add(ruleset)
    return limits.usage()


def engine_limits(name: str, ruleset: Mapping[str, Any]) -> list[str]:
    """Violations of the engine's fixed-size structures by a grammatically valid ruleset."""
    limits = EngineLimits(name)
    limits.add(ruleset)
    return limits.violations()


def check_ruleset(name: str, ruleset: dict) -> list[str]:
    """Return human-readable violations of the allowed grammar; an empty list means safe."""
    errors: list[str] = []
    if type(name) is not str or not name or "$" in name:
        # Host turns names containing '$state' / '$flow' into statecharts / flowcharts.
        errors.append(f"ruleset name must be a non-empty string without '$', got {name!r}")
    if not isinstance(ruleset, Mapping) or not ruleset:
        errors.append(f"ruleset {name!r} must be a non-empty dict of rules")
        return errors
    for rule_name, rule in ruleset.items():
        _check_rule(rule_name, rule, f"{name}.{rule_name}", errors)
    if not errors:
        # Only a well-formed ruleset can be mapped onto the engine's alpha network.
        errors += engine_limits(str(name), ruleset)
    return errors


def check_fact(fact: dict) -> list[str]:
    """Return violations of the fact contract: flat str/int values, id/kind/scope, no sid."""
    if not isinstance(fact, Mapping):
        return [f"fact must be a dict, got {type(fact).__name__}"]
    errors: list[str] = []
    label = fact.get("id", "<no id>")
    if len(fact) > MAX_FACT_KEYS:
        errors.append(f"fact {label!r}: {len(fact)} keys > {MAX_FACT_KEYS}")
    for key in REQUIRED_FACT_KEYS:
        if type(fact.get(key)) is not str or not fact.get(key):
            errors.append(f"fact {label!r}: {key!r} must be a non-empty string")
    for key, value in fact.items():
        if type(key) is not str or not key:
            errors.append(f"fact {label!r}: key {key!r} must be a non-empty string")
            continue
        if key == "sid":
            errors.append(f"fact {label!r}: 'sid' is reserved by the engine (partitions state)")
        elif key.startswith("$"):
            errors.append(f"fact {label!r}: key {key!r} starts with '$' (engine markers)")
        elif "." in key:
            errors.append(f"fact {label!r}: key {key!r} contains '.' (rules read it as a path)")
        if type(value) is str:
            if "\x00" in value:
                errors.append(f"fact {label!r}: {key!r} contains a NUL character")
        elif _is_int(value):
            if not INT64_MIN <= value <= INT64_MAX:
                errors.append(f"fact {label!r}: {key!r}={value} exceeds 64-bit ints")
        else:
            # float, bool, None, list and dict are coerced or unsupported by the allowed grammar.
            errors.append(f"fact {label!r}: {key!r} must be str or int, got {type(value).__name__}")
    return errors


def check_facts(facts: Iterable[dict]) -> list[str]:
    """check_fact on every fact, plus what the driver must dedupe before asserting.

    Why: one assessment shares one scope; a repeated id raises "already observed"; two distinct
    ids with the same fnv1a32 also raise it (#376) and make retract hit the wrong fact.
    """
    errors: list[str] = []
    scopes: set[object] = set()
    by_hash: dict[int, str] = {}
    seen: set[str] = set()
    for index, fact in enumerate(facts):
        errors.extend(f"[{index}] {e}" for e in check_fact(fact))
        if not isinstance(fact, Mapping):
            continue
        scopes.add(fact.get(SCOPE))
        fid = fact.get("id")
        if type(fid) is not str:
            continue
        if fid in seen:
            errors.append(f"[{index}] duplicate id {fid!r} (engine raises 'already observed')")
            continue
        seen.add(fid)
        other = by_hash.setdefault(fnv1a32(fid), fid)
        if other != fid:
            errors.append(f"[{index}] id {fid!r} collides with {other!r} under fnv1a32 (#376)")
    if len(scopes) > 1:
        errors.append(f"facts carry more than one scope: {sorted(map(repr, scopes))}")
    return errors
