"""No field names, vocabulary ids, condition syntax or signal ids reach the screen: every
question, help text, example and template note, and every finding's narrative and "what
would clear it" for the built-in examples, as the interview shows them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from expert.analysis.assess import Assessor, load_assessment
from expert.analysis.plainwords import clearing_answer, plain
from expert.knowledge import knowledgebase as knowledge
from expert.knowledge.knowledgebase import KnowledgeBase

EXAMPLES = sorted((Path(__file__).parents[2] / "expert" / "examples").glob("*.yaml"))
SNAKE = re.compile(r"\b[a-z]+_[a-z_]+\b")
OPERATORS = re.compile(r"`|\bnot in\b|>=|<=|==|!=|\bnot_in\b")
URL = re.compile(r"https?://\S+")


def internal_tokens(text: str) -> list[str]:
    text = URL.sub("", text)  # addresses are cited as they are
    return SNAKE.findall(text) + OPERATORS.findall(text)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return knowledge.load([])


def test_questions_speak_plainly(kb: KnowledgeBase) -> None:
    found = {
        f"{q.id}.{part}: {internal_tokens(shown)}"
        for q in kb.questions.values()
        for part, text in (("text", q.text), ("help", q.help), ("example", q.example or ""))
        for shown in [plain(kb, text) if part == "example" else text]
        if internal_tokens(shown)
    }
    assert not found, sorted(found)


def test_template_notes_speak_plainly(kb: KnowledgeBase) -> None:
    found = {
        f"{t.id}: {internal_tokens(note)}"
        for t in kb.templates.values()
        for note in [t.description, *(plain(kb, n) for n in t.notes)]
        if internal_tokens(note)
    }
    assert not found, sorted(found)


def test_template_notes_name_questions_by_their_words(kb: KnowledgeBase) -> None:
    """A note says "say whether the budget can reach zero", not "answer
    budget-can-reach-zero" or "guards.exemptions": question ids and field paths are not
    words a reader knows."""
    ids = re.compile(r"(?<![\w/-])(" + "|".join(map(re.escape, kb.questions)) + r")(?![\w-])")
    dotted = re.compile(r"\b(?:retry|guards|answers)\.[a-z_-]+")
    found = {
        f"{t.id}: {ids.findall(text) + dotted.findall(text)}"
        for t in kb.templates.values()
        for note in t.notes
        for text in [URL.sub("", plain(kb, note))]
        if ids.findall(text) or dotted.findall(text)
    }
    assert not found, sorted(found)


@pytest.fixture(scope="module")
def example_findings(kb: KnowledgeBase) -> list[tuple[str, str, str]]:
    assessor = Assessor(kb)
    try:
        out = []
        for path in EXAMPLES:
            results = assessor.assess(load_assessment(path, kb), deliverables=False)
            for f in results.findings:
                out.append((f.rule, "narrative", f.narrative))
                out += [(f.rule, "clears", text) for text in f.would_clear_if]
                out += [(f.rule, "why", f.severity_reason)]
        return out
    finally:
        assessor.close()


def test_findings_as_the_interview_shows_them_speak_plainly(
    kb: KnowledgeBase, example_findings: list[tuple[str, str, str]]
) -> None:
    assert example_findings
    found = {
        f"{rule} {part}: {internal_tokens(plain(kb, text))}"
        for rule, part, text in example_findings
        if internal_tokens(plain(kb, text))
    }
    assert not found, sorted(found)


def test_plain_phrases_ids_and_conditions(kb: KnowledgeBase) -> None:
    assert plain(kb, "Client SDK retries runs per_client") == (
        "Client SDK retries runs " + kb.vocabulary.instances["per_client"]
    )
    said = clearing_answer(kb, "Liveness probe", "answers.caps-removal", "is", "no")
    assert kb.questions["caps-removal"].text in said and said.endswith("with yes")
    assert not internal_tokens(said)
