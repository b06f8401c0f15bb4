"""Which modules one typed answer passes through on its way from the interview to the report.

The answer is the gateway timeout's deadline of the llm-platform example, left out of a copy
of the example and typed again as "45s". Not its own "60s": the same loop's timescale is also
"60s", so every module that shows the timescale (the maps, the audit report) would count as
on the deadline's path. The script reads it as the
interview's question card does (questions.parse_typed), saves it through the interview's
session, assesses the file and renders the Markdown report, with a profiler hook that notes
every project module one of whose functions holds the answer: the text "45s" (alone or in
the text being written or shown), the interval it means, or a fact that carries it. The
engine's child process is not profiled; the module that sends it the facts is.

    uv run python tests/benchmarks/trace_answer.py

It prints the modules in the order the answer first reaches them. The question card's
widget (interview/widgets/question_card.py) hands the typed text to parse_typed and is not
run here: add it to the count.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ORIGINAL = "60s"  # the example's deadline, left out of the copy
TYPED = "45s"  # what is typed instead: no other value of the example reads the same
MS = 45_000  # the answer in milliseconds, as facts encode durations
LOOP = "gateway-timeout"


def _carries(value: Any, depth: int = 0) -> bool:
    """Whether a local holds the answer: its text (a Duration is that text), or a fact field
    that encodes it. A bare interval of 45 s is not counted: the knowledge base's own
    thresholds are intervals too."""
    if isinstance(value, str):
        return value == TYPED or (TYPED in value and bool(re.search(rf"\b{TYPED}\b", value)))
    if depth > 0:
        return False
    if isinstance(value, dict):
        return any(
            (isinstance(k, str) and "deadline" in k and v == MS) or _carries(v, 1)
            for k, v in list(value.items())[:200]
        )
    if isinstance(value, (list, tuple)):
        return any(_carries(v, 1) for v in list(value)[:200])
    return False


def trace() -> list[str]:
    """The project files the answer passes through, in the order it first reaches them."""
    from expert.analysis.assess import Assessor, load_assessment
    from expert.knowledge import knowledgebase as knowledge
    from expert.render.reports import render
    from interview import questions
    from interview.session import Session

    kb = knowledge.load([])
    example = (ROOT / "expert" / "examples" / "llm-platform.yaml").read_text(encoding="utf-8")
    assert example.count(f"deadline: {ORIGINAL}") == 1, "the example's gateway deadline moved"
    assert TYPED not in example, "the typed answer must be a value the example does not hold"
    touched: dict[str, None] = {}

    def hook(frame: FrameType, event: str, _arg: Any) -> None:
        if event != "call":
            return
        name = frame.f_code.co_filename
        if name.startswith("<"):  # frozen or generated code, no file of the project
            return
        try:
            rel = Path(name).resolve().relative_to(ROOT)
        except ValueError:
            return
        if rel.parts[0] in ("tests", ".venv") or str(rel) in touched:
            return
        if any(_carries(v) for v in list(frame.f_locals.values())):
            touched[str(rel)] = None

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "platform.yaml"
        path.write_text(example.replace(f"deadline: {ORIGINAL}", "", 1), encoding="utf-8")
        session = Session.open(path, kb)
        q = kb.questions["loop-deadline"]
        assessor = Assessor(kb)  # compiling the knowledge base is no part of the answer's path
        sys.setprofile(hook)
        try:
            value = questions.parse_typed(
                questions.spec_for(q, kb, session.assessment, LOOP), TYPED
            )
            session.answer(q, LOOP, value)
            session.close()
            a = load_assessment(path, kb)
            results = assessor.assess(a)
            report = render("markdown", results, a)
        finally:
            sys.setprofile(None)
            assessor.close()
    assert re.search(rf"\b{TYPED}\b", report), "the answer did not reach the report"
    return list(touched)


def main() -> int:
    touched = trace()
    print(f"The answer {TYPED!r} passed through {len(touched)} project files:")
    for rel in touched:
        print(f"  {rel}")
    print("plus interview/widgets/question_card.py, which hands the typed text to parse_typed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
