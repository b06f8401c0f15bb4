"""Interview speed: start-up to the first screen, and the engine re-run after an answer.

Run:  uv run python tests/benchmarks/bench_interview.py [--runs N]

Prints figures; asserts nothing (speed is measured here, never in the test suite).

1. Start-up: the real program (`python -m interview FILE`) in a pseudo-terminal, timed from
   process start to the first screen being shown (it records its position on showing it),
   for a new file and for a four-loop assessment.
2. Re-run latency: in a headless app on the four-loop assessment, the time from an answer
   being saved to the findings and follow-ups on screen being updated, plus the engine run
   alone (child process included), over N answers.
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

from tests.interview.pty_app import interview_in_pty  # noqa: E402  (needs ROOT on sys.path)


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


async def rerun_latencies(path: Path, runs: int) -> tuple[list[float], list[float]]:
    """(saved -> findings on screen, engine run alone) in seconds, per answer."""
    from expert import knowledge
    from interview import resume
    from interview.app import InterviewApp
    from interview.session import Session

    resume.save(path, resume.Position(step="question:loop:replica-hpa:loop-owner"))
    app = InterviewApp(Session.open(path, knowledge.load([])))
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
    async with app.run_test(size=(80, 24)) as pilot:
        while app.engine_busy or app.results is None:  # the first run starts the engine
            await pilot.pause(0.01)
        for i in range(runs):
            shown_at.clear()
            saved_at.clear()
            await pilot.press("end", "ctrl+u", *f"team {i}", "enter")
            while not shown_at or app.engine_busy:
                await pilot.pause(0.005)
            end_to_end.append(shown_at[-1] - saved_at[0])
            engine.append(app.last_run_seconds or 0.0)
            await pilot.press("escape")  # back to the same question
    return end_to_end, engine


def describe(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"median {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms   (n={len(ms)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="answers to time (default 20)")
    parser.add_argument("--starts", type=int, default=3, help="start-ups to time (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        new = Path(tmp) / "new.yaml"
        four = Path(tmp) / "four.yaml"
        shutil.copy(FIXTURE, four)
        print("start-up to the first screen (python -m interview in a pty):")
        for label, path in (("new file", new), ("four loops", four)):
            times = [startup_seconds(path) for _ in range(args.starts)]
            print(f"  {label:11} {describe(times)}")
        end_to_end, engine = asyncio.run(rerun_latencies(four, args.runs))
        print("after an answer (four loops, headless):")
        print(f"  answer saved -> findings on screen  {describe(end_to_end)}")
        print(f"  engine re-run alone                {describe(engine)}")


if __name__ == "__main__":
    main()
