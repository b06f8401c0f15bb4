"""Interview speed: start-up to the first screen, and the engine re-run after an answer.

Run:  uv run python tests/benchmarks/bench_interview.py [--runs N]

Prints figures; asserts nothing (speed is measured here, never in the test suite).

1. Start-up: the real program (`python -m interview FILE`) in a pseudo-terminal, timed from
   process start to the first screen being shown (it records its position on showing it),
   for a new file and for a four-loop assessment.
2. Re-run latency: in a headless app, the time from the Enter that confirms an answer to
   the findings and follow-ups on screen being updated (the issue's "answer confirmed ->
   findings on screen"), from the answer being saved to the same, plus the assessment run
   alone (engine processes included), over N answers; on the four-loop assessment and on
   a generated one of --loops loops (default 30, the size the re-run target is set for).
   Each is measured with the assessment in its own process (as the interview runs it) and,
   for comparison, in a thread of the interface's own interpreter (--engine both).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
FIXTURE = ROOT / "tests" / "interview" / "fixtures" / "four-loops.yaml"

from tests.benchmarks.bench import positive  # noqa: E402  (needs ROOT on sys.path)
from tests.interview.pty_app import interview_in_pty  # noqa: E402


def startup_seconds(path: Path) -> float:
    """Fork the program in a pty; seconds until it has shown its first screen."""
    from interview import resume

    sidecar = resume.sidecar_path(path)
    sidecar.unlink(missing_ok=True)
    started = time.perf_counter()
    with interview_in_pty(path):
        while not sidecar.exists():
            if time.perf_counter() - started > 60:
                raise RuntimeError("the interview did not start within 60 s")
            time.sleep(0.005)
        return time.perf_counter() - started


async def rerun_latencies(
    path: Path, runs: int, loop_id: str = "replica-hpa", engine_in: str = "process"
) -> tuple[list[float], list[float], list[float]]:
    """(Enter -> findings on screen, saved -> findings on screen, assessment run alone) in
    seconds, per answer to the owner question of loop `loop_id`."""
    from expert.analysis.assess import Assessor
    from expert.knowledge import knowledgebase as knowledge
    from interview import resume
    from interview.app import InterviewApp
    from interview.assessproc import ProcessAssessor
    from interview.session import Session

    resume.save(path, resume.Position(step=f"question:loop:{loop_id}:loop-owner"))
    factory = ProcessAssessor if engine_in == "process" else Assessor
    app = InterviewApp(Session.open(path, knowledge.load([])), assessor_factory=factory)
    saved_at: list[float] = []
    shown_at: list[float] = []
    original_answer = app.session.answer
    original_assessed = app._assessed

    def answer(*args: object, **kwargs: object) -> None:
        original_answer(*args, **kwargs)  # type: ignore[arg-type]
        saved_at.append(time.perf_counter())

    async def assessed(*args: object) -> None:
        await original_assessed(*args)  # type: ignore[arg-type]
        shown_at.append(time.perf_counter())

    app.session.answer = answer  # type: ignore[method-assign]
    app._assessed = assessed  # type: ignore[method-assign]
    engine: list[float] = []
    end_to_end: list[float] = []
    confirmed: list[float] = []
    async with app.run_test(size=(80, 24)) as pilot:
        while app.engine_busy or app.results is None:  # the first run starts the engine
            await pilot.pause(0.01)
        for i in range(runs):
            shown_at.clear()
            saved_at.clear()
            await pilot.press("end", "ctrl+u", *f"team {i}")
            pressed = time.perf_counter()
            await pilot.press("enter")
            # Plain sleeps: pilot.pause() would also force a screen refresh each time,
            # competing with the assessment thread for the interpreter as no user does.
            while not shown_at or app.engine_busy:
                await asyncio.sleep(0.005)
            end_to_end.append(shown_at[-1] - saved_at[0])
            confirmed.append(shown_at[-1] - pressed)
            engine.append(app.last_run_seconds or 0.0)
            await pilot.press("escape")  # back to the same question
    return confirmed, end_to_end, engine


def describe(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"median {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms   (n={len(ms)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=positive, default=20, help="answers to time (default 20)")
    parser.add_argument("--starts", type=positive, default=3, help="start-ups (default 3)")
    parser.add_argument("--loops", type=positive, default=30, help="generated size (default 30)")
    parser.add_argument(
        "--engine",
        choices=("process", "thread", "both"),
        default="both",
        help="where the assessment runs: its own process (as the interview runs it), a "
        "thread of the interface's interpreter, or both for comparison (default both)",
    )
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up figures")
    args = parser.parse_args()
    from expert.assessment.model import load as load_assessment
    from expert.knowledge import knowledgebase as knowledge
    from tests.benchmarks.generate import generate_yaml

    with tempfile.TemporaryDirectory() as tmp:
        new = Path(tmp) / "new.yaml"
        four = Path(tmp) / "four.yaml"
        shutil.copy(FIXTURE, four)
        if not args.no_startup:
            print("start-up to the first screen (python -m interview in a pty):")
            for label, path in (("new file", new), ("four loops", four)):
                times = [startup_seconds(path) for _ in range(args.starts)]
                print(f"  {label:11} {describe(times)}")
        kb = knowledge.load([])
        big = Path(tmp) / "generated.yaml"
        big.write_text(generate_yaml(args.loops, 1, kb), encoding="utf-8")
        first = load_assessment(big, kb.vocabulary).loops[0].id
        engines = ("process", "thread") if args.engine == "both" else (args.engine,)
        for label, path, loop_id in (
            ("four loops", four, "replica-hpa"),
            (f"{args.loops} generated loops", big, first),
        ):
            for engine_in in engines:
                confirmed, end_to_end, engine = asyncio.run(
                    rerun_latencies(path, args.runs, loop_id, engine_in)
                )
                print(f"after an answer ({label}, headless, assessment in its own {engine_in}):")
                print(f"  answer confirmed -> findings on screen  {describe(confirmed)}")
                print(f"  answer saved -> findings on screen      {describe(end_to_end)}")
                print(f"  assessment re-run alone                {describe(engine)}")


if __name__ == "__main__":
    main()
