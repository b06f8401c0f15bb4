"""Render the risk map of the built-in examples and of generated assessments in headless
Chromium: the HTML report's SVG map and the Markdown report's Mermaid diagram, each to a PNG,
and check that the report loads and the diagram renders. Prints each report's size.

    uv run python tests/benchmarks/render_maps.py OUT_DIR [--sizes 100,300]
        [--mermaid-js PATH/TO/mermaid.min.js]

Chromium is Debian's `chromium` (or CHROMIUM=path). The Mermaid diagram is rendered only when
mermaid.min.js is given (or MERMAID_JS names it): npm's `mermaid` package ships it in dist/.
Exit 0 when every page loaded, 1 when one did not, 2 on bad arguments or no Chromium.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).parents[2] / "expert" / "examples"
TIMEOUT = 120  # seconds for one Chromium run; a hung browser is a failure, not a wait


def chromium() -> str | None:
    """The Chromium to run, or None."""
    named = os.environ.get("CHROMIUM")
    if named:
        return named if shutil.which(named) else None
    return next((p for n in ("chromium", "chromium-browser") if (p := shutil.which(n))), None)


def _run(browser: str, args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def screenshot(browser: str, page: Path, png: Path, size: str = "1600,1200") -> bool:
    """Render a page to a PNG; True when the PNG was written."""
    png.unlink(missing_ok=True)
    _run(
        browser,
        [
            f"--window-size={size}",
            "--virtual-time-budget=15000",
            f"--screenshot={png}",
            page.as_uri(),
        ],
    )
    return png.exists() and png.stat().st_size > 0


def dom(browser: str, page: Path) -> str:
    """The page's DOM after its scripts ran."""
    return _run(browser, ["--virtual-time-budget=15000", "--dump-dom", page.as_uri()]).stdout


def assessments(sizes: list[int]) -> list[tuple[str, object, object]]:
    """(name, results, assessment) for both examples and a generated assessment per size."""
    from expert.analysis.assess import Assessor, load_assessment
    from expert.assessment import model as assessment
    from expert.deliverables import complete as deliverables
    from expert.knowledge.knowledgebase import load
    from tests.benchmarks.generate import generate

    kb = load([])
    models = [(p.stem, load_assessment(p, kb)) for p in sorted(EXAMPLES.glob("*.yaml"))]
    models += [
        (f"generated-{n}", assessment.validate(generate(n, seed=1, kb=kb), kb.vocabulary, "<gen>"))
        for n in sizes
    ]
    out = []
    for name, a in models:
        with Assessor(kb) as ax:
            results = ax.assess(a)
        out.append((name, deliverables.complete(results, a, kb), a))
    return out


def map_page(report: str) -> str:
    """The HTML report's map section alone, with the report's styles."""
    style = re.search(r"<style>.*?</style>", report, re.S)
    section = re.search(r'<section id="map">.*?</section>', report, re.S)
    if section is None:
        raise ValueError("the report has no map section")
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"{style.group(0) if style else ''}</head><body>{section.group(0)}</body></html>"
    )


def mermaid_page(markdown: str, script: Path) -> str | None:
    """A page that renders the Markdown report's Mermaid block, or None if it has none."""
    block = re.search(r"```mermaid\n(.*?)```", markdown, re.S)
    if block is None:
        return None
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f'<script src="{script.as_uri()}"></script></head><body>'
        f'<pre class="mermaid">{html.escape(block.group(1))}</pre>'
        "<script>mermaid.initialize({startOnLoad: true});</script></body></html>"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--sizes", default="100,300", help="generated loop counts, comma-separated")
    parser.add_argument("--mermaid-js", type=Path, default=os.environ.get("MERMAID_JS"))
    args = parser.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        print(f"--sizes {args.sizes!r}: give whole numbers, e.g. 100,300", file=sys.stderr)
        return 2
    if any(n < 1 for n in sizes):
        print(f"--sizes {args.sizes!r}: every size must be at least 1", file=sys.stderr)
        return 2
    browser = chromium()
    if browser is None:
        print(
            "chromium is not installed (apt-get install chromium, or set CHROMIUM)", file=sys.stderr
        )
        return 2
    if args.mermaid_js is not None and not args.mermaid_js.is_file():
        print(
            f"{args.mermaid_js}: no such file (npm's mermaid has dist/mermaid.min.js)",
            file=sys.stderr,
        )
        return 2

    from expert.render.reports import render

    args.out.mkdir(parents=True, exist_ok=True)
    failed = []
    for name, results, a in assessments(sizes):
        report = render("html", results, a)
        markdown = render("markdown", results, a)
        page = args.out / f"{name}.html"
        page.write_text(report, encoding="utf-8")
        loaded = 'id="map"' in dom(browser, page)
        only_map = args.out / f"{name}-map.html"
        only_map.write_text(map_page(report), encoding="utf-8")
        shot = screenshot(browser, only_map, args.out / f"{name}-map.png")
        line = f"{name}: HTML {len(report.encode()):,} bytes, loads: {loaded}, map PNG: {shot}"
        ok = loaded and shot
        if args.mermaid_js is not None:
            mpage = mermaid_page(markdown, args.mermaid_js)
            if mpage is not None:
                mpath = args.out / f"{name}-mermaid.html"
                mpath.write_text(mpage, encoding="utf-8")
                tree = dom(browser, mpath)
                drawn = "<svg" in tree and "Syntax error" not in tree
                drawn = drawn and "Maximum text size" not in tree
                mshot = screenshot(browser, mpath, args.out / f"{name}-mermaid.png", "2400,1600")
                block = re.search(r"```mermaid\n(.*?)```", markdown, re.S)
                size = len(block.group(1)) if block else 0
                line += f", Mermaid {size:,} characters, drawn: {drawn}, PNG: {mshot}"
                ok = ok and drawn and mshot
        print(line)
        if not ok:
            failed.append(name)
    if failed:
        print(f"did not render: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
