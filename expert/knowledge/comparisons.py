"""Comparisons between values of the facts a pattern binds, declared as data.

A pattern may write `compare: [{left: EXPR, op: ">", right: EXPR}]`, where an expression
combines `VAR.FIELD` references (interval fields: durations and counts), numbers and
durations with `x`, `+`, `min(...)` and `max(...)`; `VAR.FIELD.lower` and `.upper` take one
end of a known interval. The engine cannot compare one fact's field with another's (a
correlated inequality is the construct that crashes durable-rules), so each comparison is
evaluated here, in Python, over intervals, and its outcome ("yes", "no" or "unknown") is
written into one fact as a derived yes/no attribute before the engine runs. The pattern
then tests that attribute like any other field: a strict comparison needs "yes", a lenient
one fails only on "no".

The fact that carries the outcome (the host) is the variable every other referenced
variable is joined to by its id: the pair or nesting that links two loops, or the one fact
itself. Each comparison is registered under a name derived from its content, so the same
comparison in two knowledge bases is one derived field, and facts.build computes every
registered comparison for the facts of its host kind.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from pydantic import Field, field_validator

from expert.assessment import durations
from expert.assessment.fields import FACT_KINDS, FieldSpec, register_derived
from expert.assessment.fields import spec as field_spec
from expert.knowledge.kbmodel import KBModel

Tri = str
OPS = (">", ">=", "<", "<=")
FUNCTIONS = ("min", "max")
BOUNDS = ("lower", "upper")
# Facts another fact can name by id, and the attribute holding that id.
_BY_ID = {"loop": "loop", "resource": "resource"}

_TOKEN = re.compile(
    r"\s*(?:(?P<dur>\d+(?:\.\d+)?\s*(?:ms|s|m|h|d)\b)|(?P<num>\d+(?:\.\d+)?)"
    r"|(?P<ref>[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)+)|(?P<fn>min|max)(?=\s*\()"
    r"|(?P<sym>[()+,x×*]))",
    re.IGNORECASE,
)


class Comparison(KBModel):
    """One comparison between two expressions over the bound facts' values."""

    left: str = Field(description="e.g. `(inner.retry.max_retries + 1) x inner.deadline`")
    op: str = Field(description="one of >, >=, <, <=")
    right: str = Field(description="e.g. `outer.deadline`, `3 x b.timescale.upper`, `30s`")
    strict: bool = Field(
        True,
        description="true: the pattern needs the comparison proven (yes); false: it fails "
        "only when the comparison is disproven (no), and is possible while it is unknown",
    )

    @field_validator("op")
    @classmethod
    def _known_operator(cls, value: str) -> str:
        if value not in OPS:
            raise ValueError(f"unknown operator {value!r}: use one of {', '.join(OPS)}")
        return value

    @field_validator("left", "right")
    @classmethod
    def _parses(cls, value: str) -> str:
        parse(value)  # raises ValueError with the token and what is allowed
        return value

    def refs(self) -> list[tuple[str, str, str | None]]:
        """(variable, field, bound) of every reference on both sides."""
        return _refs(parse(self.left)) + _refs(parse(self.right))


# -- expressions: ("num", value, unit) | ("ref", var, field, bound) | (op, [args])


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            rest = text[pos:].strip()
            raise ValueError(
                f"cannot read {rest[:20]!r} in {text!r}: write VAR.FIELD, numbers, durations "
                "(30s), x, +, min(a, b), max(a, b) and parentheses"
            )
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind).strip()))
        pos = m.end()
    return out


def parse(text: str) -> tuple[Any, ...]:
    """The expression tree of `text`; ValueError naming what cannot be read."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("an empty expression: write e.g. `outer.deadline`")
    tokens = _tokens(text)
    pos = 0

    def peek() -> str:
        return tokens[pos][1] if pos < len(tokens) else ""

    def take(expected: str | None = None) -> tuple[str, str]:
        nonlocal pos
        if pos >= len(tokens):
            raise ValueError(
                f"{text!r} ends too early" + (f": {expected!r} missing" if expected else "")
            )
        tok = tokens[pos]
        if expected is not None and tok[1] != expected:
            raise ValueError(f"expected {expected!r} in {text!r}, found {tok[1]!r}")
        pos += 1
        return tok

    def expr() -> tuple[Any, ...]:
        args = [product()]
        while peek() == "+":
            take()
            args.append(product())
        return args[0] if len(args) == 1 else ("+", args)

    def product() -> tuple[Any, ...]:
        args = [atom()]
        while peek().lower() in ("x", "×", "*"):
            take()
            args.append(atom())
        return args[0] if len(args) == 1 else ("x", args)

    def atom() -> tuple[Any, ...]:
        kind, value = take()
        if kind == "num":
            return ("num", float(value), "count")
        if kind == "dur":
            return ("num", float(durations.parse(value.replace(" ", "")).lo), "ms")
        if kind == "ref":
            parts = value.split(".")
            bound = parts[-1] if len(parts) > 2 and parts[-1] in BOUNDS else None
            body = parts[:-1] if bound else parts
            return ("ref", body[0], ".".join(body[1:]), bound)
        if kind == "fn":
            take("(")
            args = [expr()]
            while peek() == ",":
                take()
                args.append(expr())
            take(")")
            if len(args) < 2:
                raise ValueError(f"{value}(...) in {text!r} needs at least two values")
            return (value.lower(), args)
        if value == "(":
            inner = expr()
            take(")")
            return inner
        raise ValueError(f"unexpected {value!r} in {text!r}")

    tree = expr()
    if pos != len(tokens):
        raise ValueError(f"unexpected {tokens[pos][1]!r} in {text!r}")
    return tree


def _refs(tree: tuple[Any, ...]) -> list[tuple[str, str, str | None]]:
    if tree[0] == "num":
        return []
    if tree[0] == "ref":
        return [(tree[1], tree[2], tree[3])]
    return [r for arg in tree[1] for r in _refs(arg)]


# -- validation against a pattern's match


def check_fields(c: Comparison, kinds: dict[str, str]) -> list[str]:
    """Unknown variables and fields that are not numbers or durations, as messages."""
    problems = []
    for var, name, _bound in c.refs():
        if var not in kinds:
            problems.append(
                f"{var}.{name}: {var!r} is not a matched fact; matched: {', '.join(kinds)}"
            )
            continue
        spec = field_spec(kinds[var], name)
        numeric = [f.name for f in FACT_KINDS.get(kinds[var], []) if f.type == "interval"]
        if spec is None or spec.type != "interval":
            problems.append(
                f"{var}.{name}: {kinds[var]} facts have no number or duration field {name!r}; "
                f"known: {', '.join(numeric) or 'none'}"
            )
    return problems


def _unit(tree: tuple[Any, ...], kinds: dict[str, str]) -> str:
    """'ms' for a duration, 'count' for a plain number; ValueError when units do not mix."""
    if tree[0] == "num":
        return str(tree[2])
    if tree[0] == "ref":
        spec = field_spec(kinds[tree[1]], tree[2])
        return "ms" if spec is not None and spec.unit == "ms" else "count"
    units = [_unit(a, kinds) for a in tree[1]]
    if tree[0] == "x":
        if units.count("ms") > 1:
            raise ValueError("a duration times a duration is not a duration: multiply by counts")
        return "ms" if "ms" in units else "count"
    if len(set(units)) > 1:
        word = {"+": "add", "min": "take min of", "max": "take max of"}[tree[0]]
        raise ValueError(f"cannot {word} a duration and a plain number")
    return units[0]


def check_units(c: Comparison, kinds: dict[str, str]) -> list[str]:
    """Sides that mix durations with plain numbers, as messages."""
    try:
        left, right = _unit(parse(c.left), kinds), _unit(parse(c.right), kinds)
    except ValueError as exc:
        return [str(exc)]
    if left != right:
        return [
            f"{c.left!r} is {'a duration' if left == 'ms' else 'a plain number'} but "
            f"{c.right!r} is {'a duration' if right == 'ms' else 'a plain number'}: "
            "compare like with like"
        ]
    return []


def host(c: Comparison, match: dict[str, Any]) -> tuple[str, dict[str, str]] | str:
    """The variable whose fact carries the outcome, and for every other referenced variable
    the host's field holding its id; or a message saying why there is none."""
    used = list(dict.fromkeys(var for var, _f, _b in c.refs()))
    for candidate in [*used, *(v for v in match if v not in used)]:
        links: dict[str, str] = {}
        for var in used:
            if var == candidate:
                continue
            link = _link(match, candidate, var)
            if link is None:
                break
            links[var] = link
        else:
            return candidate, links
    return (
        f"the facts {', '.join(used)} are not all joined by id to one matched fact: compare "
        "values of facts that one pair, nesting or other linking fact ties together"
    )


def _link(match: dict[str, Any], hostvar: str, var: str) -> str | None:
    """The field of `hostvar` that holds `var`'s id, from a same_as join either way."""
    if match[var].fact not in _BY_ID:
        return None
    for term in match[var].where:
        if term.op == "same_as" and term.field == "id":
            other, field = term.operand.split(".", 1)
            if other == hostvar:
                return str(field)
    for term in match[hostvar].where:
        if term.op == "same_as" and term.operand == f"{var}.id":
            return str(term.field)
    return None


# -- the derived field


@dataclass(frozen=True)
class Derivation:
    """A registered comparison: where its outcome goes and how to compute it."""

    kind: str  # fact kind of the host
    attr: str  # engine attribute on the host fact
    field: str  # field name patterns test
    left: tuple[Any, ...]
    op: str
    right: tuple[Any, ...]
    links: tuple[tuple[str, str, str], ...]  # (variable, its fact kind, host id attribute)
    hostvar: str
    kinds: tuple[tuple[str, str], ...]  # variable -> fact kind
    comparison: Comparison


# host kind -> field name -> derivation. A table of interned names, not state: a field's
# name is the digest of its comparison, so two patterns (or two knowledge bases in one
# process) that name the same field mean the same computation, and an entry never changes.
# A comparison registered by a pack that a later run does not load is still computed for
# that run's facts; it costs a little time and no rule reads it.
_REGISTRY: dict[str, dict[str, Derivation]] = {}


def register(c: Comparison, match: dict[str, Any]) -> tuple[str, str]:
    """Register `c` (already validated against `match`); (host variable, field name)."""
    found = host(c, match)
    assert not isinstance(found, str)  # checked by the pattern's validator
    hostvar, links = found
    kinds = {var: fm.fact for var, fm in match.items()}
    used = sorted({var for var, _f, _b in c.refs()} | {hostvar})
    link_rows = []
    for var in used:
        if var == hostvar:
            continue
        spec = field_spec(kinds[hostvar], links[var])
        assert spec is not None
        link_rows.append((var, kinds[var], spec.attr))
    canonical = repr(
        (kinds[hostvar], hostvar, link_rows, [(v, kinds[v]) for v in used], c.left, c.op, c.right)
    )
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:10]
    name = f"compare.{digest}"
    derivation = Derivation(
        kinds[hostvar],
        f"cmp_{digest}",
        name,
        parse(c.left),
        c.op,
        parse(c.right),
        tuple(link_rows),
        hostvar,
        tuple((v, kinds[v]) for v in used),
        c,
    )
    _REGISTRY.setdefault(kinds[hostvar], {})[name] = derivation
    register_derived(
        kinds[hostvar],
        FieldSpec(name, "yesno", derivation.attr, help=words(derivation, {})),
        _reads(derivation),
    )
    return hostvar, name


def _reads(d: Derivation) -> tuple[str, ...]:
    """The plain fields the comparison is computed from (for which questions can move it)."""
    return tuple(dict.fromkeys(f for _v, f, _b in d.comparison.refs()))


def derivation(kind: str, name: str) -> Derivation | None:
    return _REGISTRY.get(kind, {}).get(name)


def derivations(kind: str) -> list[Derivation]:
    """Every registered comparison carried by facts of `kind` (a copy: the interview
    compiles in one thread while facts are built in another)."""
    return list(dict(_REGISTRY.get(kind, {})).values())


# -- evaluation over intervals


def compare(left: tuple[float, float], op: str, right: tuple[float, float]) -> Tri:
    """Three-valued `left op right`: yes when it holds for every value both intervals allow,
    no when it holds for none, unknown otherwise."""
    (llo, lhi), (rlo, rhi) = left, right
    # Only the operator's own pair of tests (about 60,000 comparisons at 1,000 loops).
    if op == ">":
        yes, no = llo > rhi, lhi <= rlo
    elif op == ">=":
        yes, no = llo >= rhi, lhi < rlo
    elif op == "<":
        yes, no = lhi < rlo, llo >= rhi
    elif op == "<=":
        yes, no = lhi <= rlo, llo > rhi
    else:
        raise KeyError(op)
    return "yes" if yes else "no" if no else "unknown"


def evaluate(d: Derivation, facts: dict[str, dict[str, Any]]) -> Tri:
    """The outcome over the facts bound to the comparison's variables."""
    plan = _PLANS.get(id(d))
    if plan is None or plan[0] is not d:
        kinds = dict(d.kinds)
        plan = _PLANS[id(d)] = (d, _planned(d.left, kinds), _planned(d.right, kinds))
    return compare(plan[1](facts), d.op, plan[2](facts))


# Derivation (held, so its id is not reused) -> its two sides as functions of the bound
# facts, built once: facts.build evaluates about 60,000 comparisons at 1,000 loops, and
# walking each tree and looking up every field's spec again was half of its time.
_PLANS: dict[int, tuple[Derivation, Any, Any]] = {}


def _planned(tree: tuple[Any, ...], kinds: dict[str, str]) -> Any:
    """The interval an expression tree takes over the bound facts, as a function of the facts,
    with the field specs resolved now."""
    if tree[0] == "num":
        ends = (tree[1], tree[1])
        return lambda facts: ends
    if tree[0] == "ref":
        _t, var, name, bound = tree
        spec = field_spec(kinds[var], name)
        assert spec is not None
        lo_attr, hi_attr, unknown_hi = f"{spec.attr}_lo", f"{spec.attr}_hi", spec.unknown_hi
        x100 = spec.unit == "x100"

        def ref(facts: dict[str, dict[str, Any]]) -> tuple[float, float]:
            fact = facts[var]
            lo, hi = fact[lo_attr], fact[hi_attr]
            if x100:
                lo, hi = lo / 100, hi / 100
            if hi >= unknown_hi:  # an unknown value has no known end
                return 0, unknown_hi
            if bound == "lower":
                return lo, lo
            if bound == "upper":
                return hi, hi
            return lo, hi

        return ref
    parts = [_planned(a, kinds) for a in tree[1]]
    op = tree[0]

    def combined(facts: dict[str, dict[str, Any]]) -> tuple[float, float]:
        values = [part(facts) for part in parts]
        if op == "+":
            return sum(v[0] for v in values), sum(v[1] for v in values)
        if op == "x":  # every value is at least 0, so the ends multiply
            lo = hi = 1
            for v in values:
                lo, hi = lo * v[0], hi * v[1]
            return lo, hi
        pick = min if op == "min" else max
        return pick(v[0] for v in values), pick(v[1] for v in values)

    return combined


def _inputs(d: Derivation) -> tuple[tuple[str, Callable[[dict[str, Any]], Any]], ...]:
    """Per variable the comparison reads, a function of its fact giving every value read
    there: the outcome depends on nothing else."""
    kinds = dict(d.kinds)
    attrs: dict[str, list[str]] = {}
    for var, name, _bound in d.comparison.refs():
        spec = field_spec(kinds[var], name)
        assert spec is not None
        attrs.setdefault(var, []).extend((f"{spec.attr}_lo", f"{spec.attr}_hi"))
    return tuple((var, itemgetter(*dict.fromkeys(names))) for var, names in attrs.items())


def annotate(facts: list[dict[str, Any]]) -> None:
    """Write every registered comparison's outcome into the facts of its host kind. A fact
    whose linked loop or resource is not among `facts` gets "unknown"."""
    by_id: dict[tuple[str, str], dict[str, Any]] = {}
    for fact in facts:
        attr = _BY_ID.get(fact.get("kind", ""))
        if attr is not None:
            by_id[(fact["kind"], fact[attr])] = fact
    of_kind: dict[str, list[dict[str, Any]]] = {}
    for fact in facts:
        of_kind.setdefault(fact.get("kind", ""), []).append(fact)
    for kind, hosts in of_kind.items():
        # Thousands of facts (pairs of loops) show a comparison a few dozen distinct values:
        # each outcome is computed once per combination of the values it reads.
        mine: list[tuple[Derivation, Any, dict[tuple[Any, ...], Tri]]] = [
            (d, _inputs(d), {}) for d in derivations(kind)
        ]
        if not mine:
            continue
        for fact in hosts:
            for d, inputs, outcomes in mine:
                bound = {d.hostvar: fact}
                for var, var_kind, attr in d.links:
                    other = by_id.get((var_kind, str(fact.get(attr))))
                    if other is None:
                        break
                    bound[var] = other
                else:
                    key = tuple([read(bound[var]) for var, read in inputs])
                    outcome = outcomes.get(key)
                    if outcome is None:
                        outcome = outcomes[key] = evaluate(d, bound)
                    fact[d.attr] = outcome
                    continue
                fact[d.attr] = "unknown"


# -- plain words


def _field_words(name: str, bound: str | None, spec: FieldSpec | None) -> str:
    # The registry's label where the field has one ("time between interruptions"), else
    # its name in words ("checkpoint interval").
    words = spec.label if spec and spec.label else name.rsplit(".", 1)[-1].replace("_", " ")
    if bound == "lower":
        return f"shortest {words}"
    if bound == "upper":
        return f"longest {words}"
    return words


def _words(tree: tuple[Any, ...], kinds: dict[str, str], names: dict[str, str]) -> str:
    if tree[0] == "num":
        if tree[2] == "ms":
            return durations.format_ms(int(tree[1]))
        return f"{tree[1]:g}"
    if tree[0] == "ref":
        _t, var, name, bound = tree
        spec = field_spec(kinds[var], name)
        who = names.get(var, var)
        return f"the {_field_words(name, bound, spec)} of {who}"
    parts = [_words(a, kinds, names) for a in tree[1]]
    if tree[0] == "+":
        return " plus ".join(parts)
    if tree[0] == "x":  # a sum inside a product is read as one quantity
        return " times ".join(
            f"({part})" if arg[0] == "+" else part for part, arg in zip(parts, tree[1], strict=True)
        )
    which = "smaller" if tree[0] == "min" else "larger"
    return f"the {which} of {', '.join(parts[:-1])} and {parts[-1]}"


_OP_WORDS = {
    (">", "ms"): "is longer than",
    (">=", "ms"): "is at least as long as",
    ("<", "ms"): "is shorter than",
    ("<=", "ms"): "is no longer than",
    (">", "count"): "is more than",
    (">=", "count"): "is at least",
    ("<", "count"): "is less than",
    ("<=", "count"): "is at most",
}


def words(d: Derivation, names: dict[str, str]) -> str:
    """The comparison as a sentence, with `names` (variable -> a loop's or resource's name)
    in place of the variables: no field names and no operators."""
    kinds = dict(d.kinds)
    try:
        unit = _unit(d.left, kinds)
    except ValueError:
        unit = "count"
    left, right = _words(d.left, kinds, names), _words(d.right, kinds, names)
    return f"{left} {_OP_WORDS[(d.op, unit)]} {right}"


def sentence(kind: str, field: str, host_fact: dict[str, Any], name: Any) -> str | None:
    """What a finding rests on when it tests a declared comparison, in words: the loops
    (or resources) named by `name(id)`, read from the ids the host fact links; None when
    `field` is no declared comparison of `kind` facts."""
    d = derivation(kind, field)
    if d is None:
        return None
    names = {var: name(str(host_fact.get(attr, var))) for var, _kind, attr in d.links}
    own = _BY_ID.get(kind)
    if own is not None:
        names[d.hostvar] = name(str(host_fact.get(own, d.hostvar)))
    return words(d, names)
