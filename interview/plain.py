"""Plain words on screen: vocabulary ids, field names and condition syntax read as labels.

Narratives and "what would clear it" texts are built by the engine's explainer from the
knowledge base, and can carry the ids a rule matched (`per_client`, `task_terminated`) or a
condition (`answers.scaler-metric in [gpu_utilization, ...]`). The interview shows them
through `plain`, which phrases each from the vocabulary's labels and the question texts.
"""

from __future__ import annotations

import re

from expert.knowledge import KnowledgeBase

SNAKE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
# The explainer's clause for an unknown answer (expert/explain.py, Explainer._clears).
_CLAUSE = re.compile(
    r"^(?P<who>.*?): answering (?P<field>\S+) \(now unknown\) with a value that does not "
    r"satisfy `(?P<condition>[^`]*)`$"
)
_CONDITION = re.compile(r"^(?P<field>\S+) (?P<op>[a-z ]+?) (?P<operand>\[.*\]|\S+)$")
# The answers that would clear a finding, given what the condition requires for it to hold.
_CLEARING_ANSWER = {
    "in": "with anything but {}",
    "is": "with anything but {}",
    "not in": "with {}",
    "has": "without {}",
    "has any": "with none of {}",
    "lacks": "with {}",
    "below": "with {} or more",
    "at most": "with more than {}",
    "above": "with {} or less",
    "at least": "with less than {}",
}


_LABELS: dict[int, tuple[KnowledgeBase, dict[str, str]]] = {}


def _labels(kb: KnowledgeBase) -> dict[str, str]:
    # A knowledge base does not change while the interview runs: read its labels once.
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


def _operand(kb: KnowledgeBase, operand: str) -> str:
    items = [item.strip() for item in operand.strip("[]").split(",") if item.strip()]
    return ", ".join(label(kb, item) for item in items)


def _clause(kb: KnowledgeBase, text: str) -> str | None:
    m = _CLAUSE.match(text)
    if m is None:
        return None
    condition = _CONDITION.match(m.group("condition"))
    ending = ""
    yes_no = {"yes": "no", "no": "yes"}
    if (
        condition is not None
        and condition.group("op") == "is"
        and (condition.group("operand") in yes_no)
    ):
        ending = " with " + yes_no[condition.group("operand")]
    elif condition is not None and condition.group("op") in _CLEARING_ANSWER:
        value = _operand(kb, condition.group("operand"))
        ending = " " + _CLEARING_ANSWER[condition.group("op")].format(value)
    return (
        f"{m.group('who')}: answering {field_words(kb, m.group('field'))} (now don't know)"
        f"{ending or ' with another answer'}"
    )


def plain(kb: KnowledgeBase, text: str) -> str:
    """`text` with ids as labels and conditions as sentences."""
    clause = _clause(kb, text)
    if clause is not None:
        text = clause
    text = re.sub(r"\(decision_record: (\w+)\)", lambda m: f"({label(kb, m.group(1))})", text)
    text = SNAKE.sub(lambda m: label(kb, m.group(0)), text)
    return text.replace("`", "")


def value_words(kb: KnowledgeBase, value: str) -> str:
    """An answer as the interview offered it: ids ("terminate", "transient, timeout") read
    as their labels; anything else in plain words."""
    items = [item.strip() for item in value.split(",")]
    known = _labels(kb)
    if items and all(item in known for item in items):
        return ", ".join(known[item] for item in items)
    return plain(kb, value)
