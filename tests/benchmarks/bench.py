"""Benchmark: time every stage of an assessment for generated platforms of growing size.

    uv run python tests/benchmarks/bench.py            # sizes 10, 100, 1000, 5000
    uv run python tests/benchmarks/bench.py --quick    # sizes 10, 100 (CI: checks it runs)
    uv run python tests/benchmarks/bench.py --sizes 30,300 --seed 2
    uv run python tests/benchmarks/bench.py --sizes 1000 --cpu   # and CPU seconds per stage

Each size runs in a fresh process, so peak memory is per size (main process and engine child
measured separately). Stages, in the order the CLI runs them:
  kb        load the knowledge base (built-in; independent of size)
  load      read, parse and validate the assessment file (and its answers)
  compile   compile the knowledge base into engine rulesets (independent of size)
  graph     derive the influence structure (edges, pairs, nestings, amplification, cycles)
  facts     encode engine facts
  engine    forward-chain in the engine's child processes, first run (starts them)
  rerun     assess again on the warm children, without the deliverables (what the
            interview pays after one answer)
  explain   turn firings into explained findings, risk map, open questions
  deliver   the deliverables: inventory, economics (with its sensitivity rows), audit gaps,
            executive summary
  <format>  render each report format
  total     kb + load + compile + graph + facts + engine + explain + deliver + markdown
  cli       wall time of `coherence assess FILE -o OUT` in a new process (end to end): the
            median of --cli-runs runs (default 3), each run's time listed below the table.
            Each run reads the knowledge base kept between commands (expert/engine/kbcache.py),
            as every command after the first does; with COHERENCE_NO_CACHE=1 each loads and
            compiles it afresh, as kb and compile do in process
Every figure is wall time, in seconds. CPU time is given too, since a shared machine's wall
time says little: "total cpu" is this process's CPU over the stages in total, "engine cpu"
the engine processes' CPU in the first run (they run at once, so their wall time is about
the larger half), "cli cpu" the CLI process's and its engine processes' together (in the
run of median wall time).
Targets (reported, not asserted): 1,000 loops end to end <= 2 s; growth no worse than linear
in loops plus influence edges (see the "us/(loop+edge)" column).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `expert` and `tests` importable
    sys.path.insert(0, str(ROOT))

FULL_SIZES = [10, 100, 1000, 5000]
QUICK_SIZES = [10, 100]
HEADER = "loops"  # first column; tests look for the header line


def _maxrss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # kB on Linux


class _Clock:
    def __init__(self) -> None:
        self.t: dict[str, float] = {}  # wall seconds
        self.cpu: dict[str, float] = {}  # this process's CPU seconds

    def add(self, key: str, seconds: float, cpu: float = 0.0) -> None:
        self.t[key] = self.t.get(key, 0.0) + seconds
        self.cpu[key] = self.cpu.get(key, 0.0) + cpu

    @contextlib.contextmanager
    def stage(self, key: str) -> Iterator[None]:
        """Time the block under `key`, wall and CPU."""
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.add(key, time.perf_counter() - wall, time.process_time() - cpu)

    def wrap(self, owner: Any, name: str, key: str) -> None:
        """Time every call of owner.name under `key` (the pipeline's own code, unchanged)."""
        real = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.stage(key):
                return real(*args, **kwargs)

        setattr(owner, name, timed)


def _cpu_of(pids: list[int | None]) -> float:
    """CPU seconds (user and system) the live processes `pids` have used (Linux /proc)."""
    total = 0.0
    for pid in pids:
        if pid is None:
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return float("nan")
    return total


def run_one(
    n_loops: int, seed: int, cli: bool, text: str | None = None, cli_runs: int = 3
) -> dict[str, Any]:
    """All stages for one size, in this process; `text`, if given, is the assessment to run
    (else a generated platform of n_loops loops). The CLI is timed `cli_runs` times."""
    from expert.analysis import assess as assess_mod
    from expert.analysis import facts as facts_mod
    from expert.analysis import graph
    from expert.analysis.assess import Assessor, load_assessment
    from expert.deliverables import complete as deliverables
    from expert.engine import kbcache
    from expert.engine.compiler import compile_kb
    from expert.knowledge import knowledgebase as knowledge
    from expert.render.formats import FORMATS
    from expert.render.reports import render
    from tests.benchmarks.generate import generate_yaml

    clock = _Clock()
    with clock.stage("kb"):
        kb = knowledge.load([])

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"platform-{n_loops}.yaml"
        path.write_text(text or generate_yaml(n_loops, seed, kb), encoding="utf-8")
        size_kb = path.stat().st_size / 1024

        with clock.stage("load"):
            a = load_assessment(path, kb)

        with clock.stage("compile"):
            compiled = compile_kb(kb)

        clock.wrap(graph, "derive", "graph")
        clock.wrap(facts_mod, "build", "facts")
        clock.wrap(assess_mod, "complete_deliverables", "deliver")
        ax = Assessor(kb)
        ax.compiled = compiled  # the one compiled above (timed as "compile")
        counts: dict[str, int] = {}
        real_run = ax.engine.run

        def engine_run(c: Any, facts: list[dict[str, Any]], loops_of: Any) -> Any:
            with clock.stage("engine_now"):
                firings, errors = real_run(c, facts, loops_of)
            counts["facts"] = len(facts)
            counts["firings"] = len(firings)
            return firings, errors

        ax.engine.run = engine_run  # type: ignore[method-assign]
        try:
            with clock.stage("assess"):
                results = ax.assess(a)
            engine_cpu = _cpu_of(ax.engine.pids)  # the children started in this run
            clock.add("engine", clock.t.pop("engine_now"), clock.cpu.pop("engine_now"))
            # Whatever assess() does besides graph, facts, engine and deliverables is explanation.
            inner = [
                sum(d.get(k, 0) for k in ("graph", "facts", "engine", "deliver"))
                for d in (clock.t, clock.cpu)
            ]
            clock.add(
                "explain", clock.t.pop("assess") - inner[0], clock.cpu.pop("assess") - inner[1]
            )
            if results.inventory is None:  # an assessor that leaves deliverables to reports
                with clock.stage("deliver"):
                    results = deliverables.complete(results, a, kb)
            if results.engine_errors:
                raise SystemExit(f"engine errors: {results.engine_errors[:3]}")
            # Re-run on the warm children: what one more answer costs in the interview, which
            # leaves the deliverables to its export.
            snapshot, cpu_snapshot = dict(clock.t), dict(clock.cpu)
            with clock.stage("rerun_now"):
                ax.assess(a, deliverables=False)
            rerun_s = clock.t["rerun_now"]
            clock.t, clock.cpu = snapshot, cpu_snapshot
            clock.add("rerun", rerun_s)
            engine_child_mb = _child_peak_mb(ax)
        finally:
            ax.close()
        for fmt in FORMATS:
            with clock.stage(fmt):
                text = render(fmt, results, a)
            counts[f"{fmt}_kb"] = len(text.encode()) // 1024
        structure_edges = len(results.risk_map.edges)
        clock.add(
            "total",
            sum(clock.t.get(k, 0) for k in IN_TOTAL),
            sum(clock.cpu.get(k, 0) for k in IN_TOTAL),
        )
        cpu = {"total cpu": clock.cpu["total"], "engine cpu": engine_cpu}
        cli_times: list[tuple[float, float]] = []  # (wall, CPU) of each CLI run
        if cli and cli_runs and kbcache.enabled():
            # Every timed run reads the knowledge base kept between commands, as a user's
            # commands after the first do: it is kept here, in a folder of this run's own.
            os.environ["COHERENCE_CACHE_DIR"] = str(Path(tmp) / "kbcache")
            kbcache.load()
        for n in range(cli_runs if cli else 0):
            out = Path(tmp) / f"report-{n}.md"  # a new file each time: nothing is replaced
            t0 = time.perf_counter()
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            proc = subprocess.run(
                [sys.executable, "-m", "expert", "assess", str(path), "-o", str(out)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            wall = time.perf_counter() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if proc.returncode != 0:
                raise SystemExit(f"the CLI failed ({proc.returncode}): {proc.stderr[-500:]}")
            # The CLI waits for its engine processes, so their CPU is counted here too.
            used = sum(getattr(after, f) - getattr(before, f) for f in ("ru_utime", "ru_stime"))
            cli_times.append((wall, used))
        if cli_times:
            # One run says little on a shared machine: the median run stands for them all
            # (of an even number, the faster of the two in the middle).
            wall, used = sorted(cli_times)[(len(cli_times) - 1) // 2]
            clock.add("cli", wall)
            cpu["cli cpu"] = used
    return {
        "loops": n_loops,
        "resources": len(a.resource_list()),
        "edges": structure_edges,
        "findings": len(results.findings),
        "file_kb": round(size_kb),
        **counts,
        "seconds": clock.t,
        "cpu": cpu,
        "stage_cpu": clock.cpu,
        "main_mb": _maxrss_mb(resource.RUSAGE_SELF),
        "engine_mb": engine_child_mb,
        "cli_runs": [wall for wall, _cpu in cli_times],
    }


def _child_peak_mb(ax: Any) -> float:
    """Peak RSS of the engine's children together, read from /proc before they exit (Linux)."""
    total = 0.0
    for pid in ax.engine.pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024
        except (OSError, ValueError, IndexError):
            return float("nan")
    return total


COLUMNS = [
    ("loops", "loops", "{}"),
    ("res", "resources", "{}"),
    ("edges", "edges", "{}"),
    ("facts", "facts", "{}"),
    ("firings", "firings", "{}"),
    ("findings", "findings", "{}"),
]
STAGES = [
    "kb",
    "load",
    "compile",
    "graph",
    "facts",
    "engine",
    "rerun",
    "explain",
    "deliver",
    "markdown",
    "html",
    "json",
    "sarif",
    "csv",
    "total",
    "cli",
]
CPU = ["total cpu", "engine cpu", "cli cpu"]
# What one run of the CLI pays: the stages up to the Markdown report, less the warm re-run.
IN_TOTAL = [s for s in STAGES[: STAGES.index("markdown") + 1] if s != "rerun"]


def table(rows: list[dict[str, Any]]) -> str:
    head = [c[0] for c in COLUMNS] + [f"{s} s" for s in STAGES] + [f"{c} s" for c in CPU]
    head += ["us/(loop+edge)", "main MB", "engine MB"]
    body = []
    for r in rows:
        cells = [fmt.format(r.get(key, "")).strip() for _, key, fmt in COLUMNS]
        secs = r["seconds"]
        cells += [f"{secs[s]:.3f}" if s in secs else "-" for s in STAGES]
        cells += [f"{r['cpu'][c]:.3f}" if c in r.get("cpu", {}) else "-" for c in CPU]
        per = secs["total"] / max(1, r["loops"] + r["edges"]) * 1e6
        cells += [f"{per:.0f}", f"{r['main_mb']:.0f}", f"{r['engine_mb']:.0f}"]
        body.append(cells)
    return markdown_table(head, body)


def cpu_table(rows: list[dict[str, Any]]) -> str:
    """This process's CPU seconds per stage, and the engine processes' (first run): on a
    shared machine, where the wall times above also count waiting for other programs."""
    # The warm re-run and the CLI are timed by wall clock only (the CLI's CPU is "cli cpu").
    stages = [
        s
        for s in STAGES
        if s not in ("rerun", "cli") and any(s in r.get("stage_cpu", {}) for r in rows)
    ]
    head = ["loops", *stages, "engine processes"]
    body = []
    for r in rows:
        cpu = r.get("stage_cpu", {})
        cells = [str(r["loops"])] + [f"{cpu[s]:.3f}" if s in cpu else "-" for s in stages]
        engine = r.get("cpu", {}).get("engine cpu")
        body.append([*cells, f"{engine:.3f}" if engine is not None else "-"])
    return markdown_table(head, body)


def markdown_table(head: list[str], body: list[list[str]]) -> str:
    """A right-aligned Markdown table, columns as wide as their widest cell."""
    widths = [max([len(h), *(len(b[i]) for b in body)]) for i, h in enumerate(head)]
    lines = ["| " + " | ".join(h.rjust(w) for h, w in zip(head, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|")
    for cells in body:
        lines.append(
            "| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)) + " |"
        )
    return "\n".join(lines)


def positive(text: str) -> int:
    """argparse type: a whole number of at least 1 (a clear message otherwise)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than 1")
    return value


def sizes(text: str) -> list[int]:
    """argparse type: comma-separated loop counts, e.g. 30,300."""
    return [positive(part.strip()) for part in text.split(",")]


def machine_seconds() -> float:
    """Seconds this machine takes to build and encode 100,000 small dicts (best of three),
    printed beside the table. Shared hardware of one kind runs at different speeds on
    different days (seen here: the same code 2.6x slower on one day than a week before), and
    allocation-heavy work like the pipeline's varies more than plain arithmetic, so figures
    from two runs compare only through a yardstick of the same kind of work."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        rows = [{"id": f"loop:{i}", "kind": "loop", "values": [i, i + 1]} for i in range(100_000)]
        json.dumps(sorted(rows, key=lambda r: r["id"]))
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the assessment pipeline.")
    parser.add_argument("--quick", action="store_true", help="sizes 10 and 100 only (CI)")
    parser.add_argument("--sizes", type=sizes, help="comma-separated loop counts")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-cli", action="store_true", help="skip the end-to-end CLI timing")
    parser.add_argument(
        "--cli-runs",
        type=positive,
        default=3,
        help="time the CLI this many times per size and report the median (default 3)",
    )
    parser.add_argument(
        "--cpu", action="store_true", help="also print this process's CPU seconds per stage"
    )
    parser.add_argument(
        "--timeout", type=float, default=1800, help="seconds allowed per size (default 1800)"
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: one size
    args = parser.parse_args(argv)
    if args.one is not None:
        print(json.dumps(run_one(args.one, args.seed, not args.no_cli, cli_runs=args.cli_runs)))
        return 0
    chosen = args.sizes if args.sizes else QUICK_SIZES if args.quick else FULL_SIZES
    # With PYTHONDONTWRITEBYTECODE set, each size's process and the CLI compiled every module
    # from source (0.3-0.5 s of the CLI's time, which an installed copy never pays); keep
    # their bytecode where the test suite keeps its own.
    from tests.bytecode import keep_bytecode

    keep_bytecode()
    rows: list[dict[str, Any]] = []
    failed: list[str] = []
    for n in chosen:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--one", str(n)]
        cmd += ["--seed", str(args.seed), "--cli-runs", str(args.cli_runs)]
        cmd += ["--no-cli"] if args.no_cli else []
        try:
            proc = subprocess.run(
                cmd,
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
                env=dict(os.environ),
                timeout=args.timeout,
            )
        except subprocess.TimeoutExpired:
            failed.append(f"{n} loops: not finished within {args.timeout:g} s")
            continue
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            failed.append(f"{n} loops: failed ({last})")
            print(proc.stderr[-3000:], file=sys.stderr)
            continue
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(f"# {n} loops done", file=sys.stderr, flush=True)
    # Which interpreter, not only which version: on the development machine an optimised
    # build (Debian's) runs the pipeline about a quarter faster than a plain one (pyenv's).
    python = f"python {sys.version.split()[0]} ({Path(sys.executable).resolve()})"
    print(f"# control-coherence benchmark, seed {args.seed}, {python}")
    if not args.no_cli:
        from expert.engine import kbcache

        if not kbcache.enabled():
            print("# CLI runs load the knowledge base afresh (COHERENCE_NO_CACHE is set)")
        else:
            print("# CLI runs read the knowledge base kept between commands")
    yardstick = machine_seconds()
    print(f"# machine: building and encoding 100,000 small dicts takes {yardstick:.3f} s")
    print(table(rows))
    if args.cpu:
        print("\n# CPU seconds: this process per stage, and the engine processes (first run)")
        print(cpu_table(rows))
    timed = [r for r in rows if r.get("cli_runs")]
    if timed:
        print("\n# CLI runs, wall seconds (the table gives the median)")
        for r in timed:
            print(f"# {r['loops']} loops: " + " ".join(f"{t:.3f}" for t in sorted(r["cli_runs"])))
    for line in failed:
        print(f"# {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
