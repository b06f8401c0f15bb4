"""Plain words for what a respondent reads: vocabulary ids as their labels, fields as the
questions that ask for them, and a condition as the answer that would change it.

The explainer phrases "what would clear it" with these, so every report and the interview
show sentences, never `field op operand`. The interview also uses them for its own texts.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from expert.assessment.fields import FieldSpec

if TYPE_CHECKING:
    from expert.knowledge.knowledgebase import KnowledgeBase

SNAKE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")

# The answers that would clear a finding, given the operator its condition uses.
_CLEARING_ANSWER = {
    "in": "with anything but {}",
    "is": "with anything but {}",
    "not_in": "with {}",
    "has": "without {}",
    "has_any": "with none of {}",
    "lacks": "with {}",
    "below": "with {} or more",
    "at_most": "with more than {}",
    "above": "with {} or less",
    "at_least": "with less than {}",
}
_OPPOSITE = {"yes": "no", "no": "yes"}

_LABELS: dict[int, tuple[KnowledgeBase, dict[str, str]]] = {}


def _labels(kb: KnowledgeBase) -> dict[str, str]:
    # A knowledge base does not change once loaded: read its labels once.
    entry = _LABELS.get(id(kb))
    if entry is None or entry[0] is not kb:
        entry = _LABELS[id(kb)] = (kb, _read_labels(kb))
    return entry[1]


def _read_labels(kb: KnowledgeBase) -> dict[str, str]:
    vocab = kb.vocabulary
    out: dict[str, str] = {}
    for name in type(vocab).model_fields:
        table = getattr(vocab, name)
        if not isinstance(table, dict):
            continue
        for term_id, term in table.items():
            out.setdefault(term_id, term if isinstance(term, str) else term.label)
    for q in kb.questions.values():
        for choice in q.choices:
            out.setdefault(str(choice.value), choice.label)
    return out


def label(kb: KnowledgeBase, term_id: str) -> str:
    """The vocabulary's label for an id, or the id in words."""
    found = _labels(kb).get(term_id)
    if found:
        return found
    return term_id.replace("_", " ")


def field_words(kb: KnowledgeBase, field: str) -> str:
    """A field as a person asks about it: its question's text, else its name in words."""
    q = kb.question_for_field(field)
    if q is not None:
        return f"“{q.text}”"
    name = field.removeprefix("answers.").rsplit(".", 1)[-1]
    return name.replace("_", " ").replace("-", " ")


def clearing_answer(kb: KnowledgeBase, who: str, field: str, op: str, operand: Any) -> str:
    """What answering an unknown field differently would do, in a sentence: the condition
    `field op operand` read as the answer that makes it false."""
    if op == "is" and operand in _OPPOSITE:
        ending = f"with {_OPPOSITE[operand]}"
    elif op in _CLEARING_ANSWER:
        items = operand if isinstance(operand, list) else [operand]
        ending = _CLEARING_ANSWER[op].format(", ".join(label(kb, str(i)) for i in items))
    else:
        ending = "with another answer"
    return f"{who}: answering {field_words(kb, field)} (now don't know) {ending}"


def plain(kb: KnowledgeBase, text: str) -> str:
    """`text` with vocabulary ids read as their labels."""
    text = SNAKE.sub(lambda m: label(kb, m.group(0)), text)
    return text.replace("`", "")


def category_words(kb: KnowledgeBase, table: str, value: str) -> str:
    """One vocabulary value as its label ("events" reads "decisions are logged as events,
    without the reason"). An objective stays its word ("throughput"): its labels are
    imperatives ("keep the service available") that no sentence around it could take."""
    terms = getattr(kb.vocabulary, table, None) if table and table != "objectives" else None
    term = terms.get(value) if isinstance(terms, dict) else None
    if term is not None:
        return term if isinstance(term, str) else str(term.label)
    return plain(kb, value)


def value_words(kb: KnowledgeBase, value: str) -> str:
    """An answer as the interview offered it: ids ("terminate", "transient, timeout") read
    as their labels; anything else in plain words."""
    items = [item.strip() for item in value.split(",")]
    known = _labels(kb)
    # A list answered in part ("transient, unknown") reads as its labels too.
    if items and all(item in known or item == "unknown" for item in items):
        return ", ".join(known.get(item, item) for item in items)
    return plain(kb, value)


_FACT_KINDS = (
    "edge",
    "pair",
    "platform",
    "resource",
    "cycle",
    "path",
    "nesting",
    "acts",
    "waits",
    "mask",
)


def because_field(kb: KnowledgeBase, field: str) -> str:
    """What an answer a finding rests on is about, in words (its question, if it has one)."""
    if field == "roles":  # derived from its actions and triggers: no question asks it
        return "what it does"
    kind, _, rest = field.partition(".")
    if kind in _FACT_KINDS and rest:
        return rest.replace("_", " ").replace("-", " ").replace(".", ": ")
    return field_words(kb, field).strip("“”")


def fact_says(kb: KnowledgeBase, spec: FieldSpec, value: str, names: dict[str, str]) -> str | None:
    """A derived fact's value as the registry's sentence for it (`FieldSpec.says`), with the
    fact's loops and resources by their names; None when the field has no sentence, or its
    value is not known and its sentence cannot say so (the caller then names the question)."""
    if not spec.says:
        return None
    if value == "unknown":
        # A sentence that ends on its value ("X acts when: {value}") says so plainly; others
        # ("X is {value}") would read wrongly, and the caller names the question instead.
        template = spec.says[0]
        if spec.type in ("set", "category") and template.endswith(": {value}"):
            try:
                return template.format(value="not known", **names)
            except (KeyError, IndexError):
                return None
        return None
    if spec.type == "yesno":
        if value not in ("yes", "no") or len(spec.says) < 2:
            return None
        template = spec.says[0] if value == "yes" else spec.says[1]
    else:
        template = spec.says[0]
    words = value_words(kb, value) if spec.type in ("set", "category") else value
    try:
        return template.format(value=words, **names)
    except (KeyError, IndexError):  # a sentence naming an id this fact lacks: say it plainly
        return None


def because_words(kb: KnowledgeBase, field: str, value: str) -> str:
    """One answer a finding rests on, as a reader takes it: "its question: its value"."""
    return f"{because_field(kb, field)}: {value_words(kb, value)}"


def held_back_subject(findings: int, effects: int, more: bool = True) -> tuple[str, bool]:
    """What waits under "To check", as a sentence's subject, and whether it is plural:
    ("2 more possible findings and 1 symptom or cost", True). Findings and their effects
    are counted apart, as everywhere else."""
    parts = []
    if findings:
        parts.append(f"{findings} {'more ' if more else ''}possible finding{_s(findings)}")
    if effects:
        lead = "" if findings or not more else "more "
        parts.append(f"{effects} {lead}symptom{_s(effects)} or cost{_s(effects)}")
    return " and ".join(parts), findings + effects != 1


def effects_words(symptoms: int, costs: int) -> str:
    """The effects findings lead to, counted as the reports count them: "8 symptoms and 2
    ghost costs" ("" when there are none)."""
    parts = [
        f"{n} {word}{_s(n)}" for n, word in ((symptoms, "symptom"), (costs, "ghost cost")) if n
    ]
    return " and ".join(parts)


def counted(n: int, one: str, many: str) -> str:
    """ "1 conflict between loops", "0 conflicts between loops"."""
    return f"{n} {one if n == 1 else many}"


def series(items: list[str]) -> str:
    """Names as a reader lists them: "A", "A and B", "A, B and C"."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _s(n: int) -> str:
    return "s" if n != 1 else ""
