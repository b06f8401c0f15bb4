"""Benchmark: the two input shapes whose analysis once grew with the square of their size.

    uv run python tests/benchmarks/bench_limits.py           # 10,000-resource chain; 400 loops
    uv run python tests/benchmarks/bench_limits.py --quick   # 1,000 and 40 (checks that it runs)

- chain: a call chain of N resources, each calling the next, with 40 retrying or deadline
  loops spread along it (tests/benchmarks/generate.py: chain);
- crowd: N loops of every kind, all acting on one resource (generate.py: crowd).

For each, it prints the influence structure's size (edges, loop pairs, deadline nestings,
amplification paths, and what the caps in expert/analysis/graph.py left out) and the wall time, peak
memory and output size of `coherence assess FILE --format json -o OUT` in a new process. The
CLI runs once on a small file first so that Python's bytecode cache is warm, as it is for an
installed package. Target (reported, not asserted): each under 5 s end to end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `expert` and `tests` importable
    sys.path.insert(0, str(ROOT))

from tests.benchmarks.bench import markdown_table, positive  # noqa: E402
from tests.benchmarks.generate import chain, crowd, dump  # noqa: E402

TARGET_S = 5.0
CHAIN_LOOPS = 40


def _cli(path: Path, out: Path) -> tuple[float, float]:
    """Wall seconds and peak MB of the largest process of one `coherence assess` to JSON."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    command = [sys.executable, "-m", "expert", "assess", str(path), "--format", "json"]
    proc = subprocess.run(
        [*command, "-o", str(out), "--force"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"the CLI failed ({proc.returncode}): {proc.stderr[-500:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024


def measure(shape: str, size: int, tmp: Path) -> dict[str, Any]:
    from expert.analysis import graph
    from expert.assessment import model as assessment
    from expert.knowledge import knowledgebase as knowledge

    kb = knowledge.load([])
    doc = chain(size, CHAIN_LOOPS, kb=kb) if shape == "chain" else crowd(size, kb=kb)
    path = tmp / f"{shape}-{size}.yaml"
    path.write_text(dump(doc), encoding="utf-8")
    structure = graph.derive(assessment.validate(doc, kb.vocabulary, str(path)), kb.vocabulary)
    out = tmp / f"{shape}-{size}.json"
    seconds, peak_mb = _cli(path, out)
    findings = len(json.loads(out.read_text(encoding="utf-8"))["findings"])
    return {
        "shape": shape,
        "size": size,
        "loops": len(doc["loops"]),
        "resources": len(doc["resources"]),
        "file_kb": round(path.stat().st_size / 1024),
        "edges": len(structure.edges),
        "pairs": len(structure.pairs),
        "nestings": len(structure.nestings),
        "amplifications": len(structure.amplifications),
        "left_out": structure.left_out,
        "findings": findings,
        "json_mb": out.stat().st_size / 2**20,
        "cli_s": seconds,
        "peak_mb": peak_mb,
    }


def table(rows: list[dict[str, Any]]) -> str:
    head = ["shape", "loops", "resources", "file KB", "edges", "pairs", "nestings", "amp paths"]
    head += ["left out", "findings", "json MB", "cli s", "peak MB", f"< {TARGET_S:g} s"]
    body = []
    for r in rows:
        left = ", ".join(f"{v} {k}" for k, v in sorted(r["left_out"].items())) or "-"
        body.append(
            [r["shape"], str(r["loops"]), str(r["resources"]), str(r["file_kb"])]
            + [str(r[k]) for k in ("edges", "pairs", "nestings", "amplifications")]
            + [left, str(r["findings"]), f"{r['json_mb']:.1f}", f"{r['cli_s']:.2f}"]
            + [f"{r['peak_mb']:.0f}", "yes" if r["cli_s"] < TARGET_S else "NO"]
        )
    return markdown_table(head, body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the two quadratic input shapes.")
    parser.add_argument("--quick", action="store_true", help="chain 1,000 and crowd 40 (CI)")
    parser.add_argument("--chain", type=positive, help="resources in the chain (10,000)")
    parser.add_argument("--crowd", type=positive, help="loops on the one resource (400)")
    args = parser.parse_args(argv)
    chain_n = args.chain or (1000 if args.quick else 10_000)
    crowd_n = args.crowd or (40 if args.quick else 400)
    with tempfile.TemporaryDirectory() as tmp:
        warm = Path(tmp) / "warm.yaml"
        warm.write_text(dump(crowd(2)), encoding="utf-8")
        _cli(warm, Path(tmp) / "warm.json")
        rows = [measure("chain", chain_n, Path(tmp)), measure("crowd", crowd_n, Path(tmp))]
    print(f"# control-coherence limits benchmark, python {sys.version.split()[0]}")
    print(table(rows))
    return 0 if all(r["cli_s"] < TARGET_S for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
