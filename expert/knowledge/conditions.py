"""Three-valued meaning of a pattern's terms: "yes", "no" or "unknown" for one fact.

This is the reference semantics. The compiler (compiler.py) translates every term into an
engine test that passes exactly when this evaluation is not "no" (or is "yes", for strict
terms), and explain.py uses it to say which answers a finding rests on and whether any of
them was unknown (then the finding is possible, not confirmed). It also validates terms
against the field registry so knowledge-base mistakes are caught at load time.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from expert.assessment import durations
from expert.assessment.fields import FACT_KINDS, FieldSpec
from expert.assessment.fields import spec as field_spec
from expert.assessment.vocabulary import Vocabulary
from expert.knowledge.patterns import Pattern, Term

Tri = str
_RANK = {"no": 0, "unknown": 1, "yes": 2}

# The structure a finding must rest on, by (fact kind, field): what a loop does, what it reacts
# to and what it acts on. A possible finding may rest on unknown details (retry properties,
# deadlines, guards, intervals, recording, answers to detail questions), never on an unknown
# one of these: explain.py turns such a match into one open question per loop and dimension.
# Dimensions: "acts" (what it does), "reacts" (what makes it act), "reach" (what it acts on).
CORE_FIELDS: dict[tuple[str, str], str] = {
    ("loop", "actuations"): "acts",
    ("loop", "changes"): "acts",
    ("loop", "emits"): "acts",
    ("loop", "roles"): "acts",
    ("loop", "triggers"): "reacts",
    ("loop", "observes"): "reacts",
    ("loop", "reacts"): "reacts",
    ("loop", "acts_on"): "reach",
    ("acts", "roles_here"): "acts",
    ("acts", "actuations_here"): "acts",
    ("pair", "common"): "reacts",
    ("edge", "signal"): "reacts",
}


@dataclass(frozen=True)
class ResolvedField:
    spec: FieldSpec
    values: tuple[str, ...]  # the closed set of values for category/set/yesno fields


def resolve(
    kind: str,
    name: str,
    vocab: Vocabulary,
    answer_fields: dict[str, tuple[FieldSpec, list[str] | None]],
) -> ResolvedField | None:
    spec: FieldSpec | None
    choices: list[str] | None = None
    if kind == "loop" and name.startswith("answers."):
        entry = answer_fields.get(name[len("answers.") :])
        if entry is None:
            return None
        spec, choices = entry
    else:
        spec = field_spec(kind, name)
        if spec is None:
            return None
    if spec.type == "yesno":
        values: tuple[str, ...] = ("yes", "no")
    elif spec.type == "known":
        values = ("known",)
    elif spec.type in ("category", "set"):
        values = tuple(choices or spec.values or (vocab.terms(spec.table) if spec.table else ()))
    else:
        values = ()
    return ResolvedField(spec, values)


def number(field: ResolvedField, operand: Any) -> int:
    """A comparison operand in the field's encoded unit (ms for durations, x100 for ratios)."""
    unit = field.spec.unit
    if unit == "ms":
        iv = durations.parse(operand)
        if not iv.exact:
            raise ValueError(f"compare durations against one value, not {operand!r}")
        return iv.lo
    if isinstance(operand, bool) or not isinstance(operand, (int, float)):
        raise ValueError(f"{operand!r} is not a number")
    return round(operand * 100) if unit == "x100" else int(operand)


def evaluate(
    term: Term,
    field: ResolvedField,
    fact: dict[str, Any],
    bound: dict[str, dict[str, Any]],
    attr_of: dict[tuple[str, str], str],
) -> Tri:
    """Evaluate one term on one encoded fact. `bound` holds earlier facts by variable and
    `attr_of` maps (variable, field name) to the attribute a same_as join reads."""
    return evaluate_op(term.op, term.operand, term.strict, field, fact, bound, attr_of)


def evaluate_op(
    op: str,
    operand: Any,
    strict: bool,
    field: ResolvedField,
    fact: dict[str, Any],
    bound: dict[str, dict[str, Any]],
    attr_of: dict[tuple[str, str], str],
) -> Tri:
    """`evaluate` with the term's parts read once by the caller: explaining 10,000 findings
    evaluates a few terms 100,000 times, and reading a term's operator is not free."""
    spec = field.spec
    result: Tri
    if spec.type == "interval":
        lo, hi = fact[f"{spec.attr}_lo"], fact[f"{spec.attr}_hi"]
        if op == "is":
            unknown = hi >= spec.unknown_hi
            result = "yes" if (operand == "unknown") == unknown else "no"
        else:
            x = number(field, operand)
            yes, no = {
                "below": (hi < x, lo >= x),
                "at_most": (hi <= x, lo > x),
                "above": (lo > x, hi <= x),
                "at_least": (lo >= x, hi < x),
            }[op]
            result = "yes" if yes else "no" if no else "unknown"
    elif spec.type == "set":
        flags = [
            fact[f"{spec.attr}__{v}"] for v in ([operand] if op in ("has", "lacks") else operand)
        ]
        if op == "lacks":
            result = {"yes": "no", "no": "yes"}.get(flags[0], "unknown")
        else:
            result = max(flags, key=_RANK.__getitem__)
    elif spec.type == "ident":
        value = fact[spec.attr]
        if op == "same_as":
            var, other = operand.split(".", 1)
            result = "yes" if value == bound[var][attr_of[(var, other)]] else "no"
        else:
            result = "yes" if value in operand else "no"
    else:  # category, yesno, known
        value = fact[spec.attr]
        if op == "is":
            if operand == "unknown" or spec.type == "known":
                result = "yes" if value == operand else "no"
            else:
                result = "yes" if value == operand else "unknown" if value == "unknown" else "no"
        elif op == "in":
            result = "yes" if value in operand else "unknown" if value == "unknown" else "no"
        else:  # not_in
            result = "no" if value in operand else "unknown" if value == "unknown" else "yes"
    if strict and result == "unknown":
        return "no"
    return result


_OPS_BY_TYPE = {
    "category": {"in", "not_in", "is"},
    "yesno": {"is"},
    "known": {"is"},
    "set": {"has", "has_any", "lacks"},
    "interval": {"below", "at_most", "above", "at_least", "is"},
    "ident": {"same_as", "in"},
}


def _did_you_mean(word: str, known: Iterable[str]) -> str:
    """A suffix offering a close spelling ("synchronised": synchronized), or nothing."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_term(
    term: Term,
    kind: str,
    field: ResolvedField | None,
    earlier: dict[str, str],
    vocab: Vocabulary,
    answer_fields: dict[str, Any],
) -> list[str]:
    """Problems with one term (empty when it is valid)."""
    if field is None:
        known = [f.name for f in FACT_KINDS.get(kind, [])]
        if kind == "loop":
            known += [f"answers.{q}" for q in answer_fields]
        return [
            f"{kind} facts have no field {term.field!r}{_did_you_mean(term.field, known)}; "
            f"known: {', '.join(known)}"
        ]
    op, operand, ftype = term.op, term.operand, field.spec.type
    if op not in _OPS_BY_TYPE[ftype]:
        return [
            f"{term.field!r} is {'an' if ftype[0] in 'aeiou' else 'a'} {ftype} field; "
            f"use one of {sorted(_OPS_BY_TYPE[ftype])}, "
            f"not {op!r}"
        ]
    problems = []
    if ftype in ("category", "set", "yesno", "known"):
        allowed = set(field.values) | ({"unknown"} if op == "is" else set())
        if ftype == "known":
            allowed = {"known", "unknown"}
        values = operand if isinstance(operand, list) else [operand]
        problems += [
            f"{term.field!r} has no value {v!r}{_did_you_mean(str(v), allowed)}; "
            f"known: {', '.join(sorted(allowed))}"
            for v in values
            if v not in allowed
        ]
    elif ftype == "interval" and op != "is":
        try:
            number(field, operand)
        except (ValueError, durations.DurationError) as exc:
            problems.append(f"{term.field!r}: {exc}")
    elif ftype == "interval" and operand not in ("unknown", "known"):
        problems.append(f"{term.field!r}: `is` takes unknown or known")
    elif op == "same_as":
        var, _, other = str(operand).partition(".")
        if var not in earlier:
            problems.append(f"same_as {operand!r}: {var!r} is not a fact matched before this one")
        else:
            target = field_spec(earlier[var], other)
            if target is None or target.type != "ident":
                problems.append(
                    f"same_as {operand!r}: {earlier[var]} facts have no id field {other!r}"
                )
    return problems


def check_pattern(
    p: Pattern, vocab: Vocabulary, answer_fields: dict[str, Any], known_patterns: set[str]
) -> list[str]:
    """Everything that can be wrong with a pattern's logic, as messages."""
    problems: list[str] = []
    earlier: dict[str, str] = {}
    for var, fm in p.match.items():
        if fm.fact not in FACT_KINDS or fm.fact == "finding":
            problems.append(
                f"match.{var}: unknown fact kind {fm.fact!r}; known: "
                f"{', '.join(k for k in FACT_KINDS if k != 'finding')}"
            )
            continue
        for i, term in enumerate(fm.where):
            field = resolve(fm.fact, term.field, vocab, answer_fields)
            problems += [
                f"match.{var}.where[{i}]: {msg}"
                for msg in check_term(term, fm.fact, field, earlier, vocab, answer_fields)
            ]
        earlier[var] = fm.fact
    # Terms that test a match's facts again (an escalation, a conditional feed) are checked
    # like the match's own.
    whens = [(f"escalate[{i}]", esc.when) for i, esc in enumerate(p.escalate)]
    whens += [(f"feeds_when[{i}]", feed.when) for i, feed in enumerate(p.feeds_when)]
    for where, when in whens:
        for var, terms in when.items():
            if var not in p.match:
                problems.append(f"{where}: {var!r} is not a matched fact")
                continue
            for term in terms:
                field = resolve(p.match[var].fact, term.field, vocab, answer_fields)
                problems += [
                    f"{where}.{var}: {msg}"
                    for msg in check_term(
                        term, p.match[var].fact, field, earlier, vocab, answer_fields
                    )
                ]
    for ask in p.asks:
        if ask.about not in p.match or p.match[ask.about].fact != "loop":
            problems.append(f"asks: {ask.about!r} is not a matched loop")
    problems += [
        f"layers: unknown layer {layer!r}" for layer in p.layers if layer not in vocab.layers
    ]
    problems += [f"feeds: unknown pattern {f!r}" for f in p.leads_to if f not in known_patterns]
    return problems
