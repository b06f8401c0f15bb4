"""The benchmark script runs (short mode) and prints its table; timings are not asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from expert.analysis.assess import check_answers
from expert.assessment import model as assessment
from expert.knowledge import knowledgebase as knowledge
from tests.benchmarks.generate import generate

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "tests" / "benchmarks" / "bench.py"


def _bench(*args: str) -> list[str]:
    """The lines bench.py prints with these arguments (it must succeed)."""
    proc = subprocess.run(
        [sys.executable, str(BENCH), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.splitlines()


def test_bench_quick_runs_and_prints_the_table() -> None:
    lines = _bench("--quick", "--no-cli")
    header = next(line for line in lines if line.startswith("| loops"))
    for column in ("load s", "graph s", "engine s", "markdown s", "total s", "main MB"):
        assert column in header
    rows = [line for line in lines if line.startswith("|") and line.split("|")[1].strip().isdigit()]
    assert [int(r.split("|")[1]) for r in rows] == [10, 100]
    # the interpreter that ran it (an optimised build is much faster), and the yardstick that
    # makes figures from two days comparable
    title = next(line for line in lines if line.startswith("# control-coherence benchmark"))
    assert str(Path(sys.executable).resolve()) in title
    machine = next(line for line in lines if line.startswith("# machine:"))
    assert float(machine.split("takes ")[1].split(" s")[0]) > 0


@pytest.mark.slow
def test_bench_times_the_cli_several_times_and_reports_the_median() -> None:
    lines = _bench("--sizes", "2", "--cli-runs", "3")
    header = [c.strip() for c in next(x for x in lines if x.startswith("| loops")).split("|")]
    row = [c.strip() for c in next(x for x in lines if x.startswith("|     2 |")).split("|")]
    runs = next(x for x in lines if x.startswith("# 2 loops:")).split(":")[1].split()
    assert len(runs) == 3
    assert row[header.index("cli s")] == runs[1]  # the median of the three
    # as a user's commands after the first: the knowledge base read back, kept beforehand
    assert "# CLI runs read the knowledge base kept between commands" in lines


def test_generator_is_deterministic_and_sized() -> None:
    a, b = generate(200, seed=7), generate(200, seed=7)
    assert a == b
    assert generate(200, seed=8) != a
    assert len(a["loops"]) == 200 and len(a["resources"]) == 40
    assert len({lp["id"] for lp in a["loops"]}) == 200


def test_generated_assessments_are_valid() -> None:
    kb = knowledge.load([])
    for n in (1, 10, 120):
        a = assessment.validate(generate(n, seed=n, kb=kb), kb.vocabulary, f"<generated {n}>")
        assert check_answers(a, kb) == []
        assert any(lp.answers for lp in a.loops) or n < 10


def test_bench_refuses_bad_sizes_with_a_message() -> None:
    import pytest

    from tests.benchmarks.bench import main

    for bad in ("abc", "10,0", "10,-5"):
        with pytest.raises(SystemExit) as exc:
            main(["--sizes", bad])
        assert exc.value.code == 2, bad


def test_the_answer_trace_follows_a_typed_deadline_into_the_report() -> None:
    from tests.benchmarks.trace_answer import trace

    touched = trace()
    # parsed where it is typed and where it is read, encoded for the engine, shown in the report
    for module in (
        "interview/questions.py",
        "expert/assessment/naturalinput.py",
        "interview/session.py",
        "expert/assessment/model.py",
        "expert/analysis/facts.py",
        "expert/engine/process.py",
        "expert/analysis/explain.py",
        "expert/render/reports.py",
    ):
        assert module in touched, touched
    assert touched.index("interview/questions.py") < touched.index("expert/analysis/facts.py")
