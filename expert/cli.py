"""The `coherence` command line.

Exit codes: 0 success; 1 `--fail-on` threshold reached (or `kb test`/`kb lint` failed);
2 bad input (nothing written); 3 the rule engine failed (input unchanged); 70 internal error.
"""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import click

from expert import __version__
from expert.errors import EngineError, InputError, Problem
from expert.render import EXTENSIONS, FORMATS

EXIT_FAIL_ON, EXIT_INPUT, EXIT_ENGINE, EXIT_INTERNAL = 1, 2, 3, 70
SEVERITIES = ["low", "medium", "high", "critical"]


def _examples() -> dict[str, Path]:
    base = Path(str(resources.files("expert") / "examples"))
    return {p.stem: p for p in sorted(base.glob("*.yaml"))}


def _kb_option(f: Any) -> Any:
    return click.option(
        "--kb",
        "kb_dirs",
        multiple=True,
        type=click.Path(path_type=Path),
        help="Add an organisation's knowledge-base pack (repeatable).",
    )(f)


def _load_kb(kb_dirs: tuple[Path, ...]) -> Any:
    from expert import knowledge

    return knowledge.load(list(kb_dirs))


def _write(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    from expert.yamlio import atomic_write_text

    if output.is_dir():
        raise InputError(Problem(str(output), "is a directory", fix="give a file name for -o"))
    if not output.parent.exists():
        raise InputError(
            Problem(
                str(output), "its directory does not exist", fix=f"create {output.parent} first"
            )
        )
    try:
        atomic_write_text(output, text)
    except OSError as exc:
        raise InputError(Problem(str(output), f"cannot write: {exc.strerror}")) from None
    click.echo(f"wrote {output}", err=True)


class _Group(click.Group):
    """Turns the project's errors into messages and exit codes, never tracebacks."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InputError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_INPUT)
        except EngineError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_ENGINE)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:  # a bug: say so plainly; traceback only on request
            if os.environ.get("COHERENCE_DEBUG"):
                raise
            click.echo(
                f"internal error: {type(exc).__name__}: {exc}\n"
                "Your input files are unchanged. Please report this with the command "
                "you ran (set COHERENCE_DEBUG=1 to see the traceback).",
                err=True,
            )
            sys.exit(EXIT_INTERNAL)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="coherence")
def main() -> None:
    """Find why an AI platform gets more expensive and less predictable while every
    component reports healthy: control loops (schedulers, orchestrators, runtimes,
    model-level control, safety layers) that work against each other.

    Start with `coherence example llm-platform -o platform.yaml`, edit it, then
    `coherence assess platform.yaml`.
    """


@main.command()
@click.argument("name", required=False)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to this file.")
@click.option("--list", "list_", is_flag=True, help="List the built-in examples.")
def example(name: str | None, output: Path | None, list_: bool) -> None:
    """Write a built-in example assessment (YAML) to edit into your own."""
    examples = _examples()
    if list_ or not name:
        for stem, path in examples.items():
            first = next(
                (ln[2:].strip() for ln in path.read_text().splitlines() if ln.startswith("# ")), ""
            )
            click.echo(f"{stem:20} {first}")
        return
    if name not in examples:
        from expert.vocabulary import suggest

        raise InputError(
            Problem(
                name,
                "no such example",
                fix=suggest(name, list(examples)).replace(", or unknown", ""),
            )
        )
    _write(examples[name].read_text(), output)


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(list(FORMATS)),
    default="markdown",
    show_default=True,
    help="Report format.",
)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to this file.")
@click.option(
    "--fail-on",
    type=click.Choice(SEVERITIES),
    help="Exit 1 if a confirmed finding has at least this severity (for CI).",
)
@_kb_option
def assess(
    file: Path, fmt: str, output: Path | None, fail_on: str | None, kb_dirs: tuple[Path, ...]
) -> None:
    """Assess FILE and print the findings with their explanations."""
    from expert.assess import Assessor, load_assessment
    from expert.render import render

    kb = _load_kb(kb_dirs)
    a = load_assessment(file, kb)
    with Assessor(kb) as ax:
        results = ax.assess(a)
    if results.engine_errors:
        raise EngineError("a rule action failed: " + "; ".join(results.engine_errors))
    _write(render(fmt, results, a), output)
    if fail_on:
        hits = [
            f
            for f in results.findings
            if f.status == "confirmed" and SEVERITIES.index(f.severity) >= SEVERITIES.index(fail_on)
        ]
        if hits:
            click.echo(f"{len(hits)} confirmed finding(s) at or above {fail_on}", err=True)
            sys.exit(EXIT_FAIL_ON)


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output-dir",
    "output_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Directory to write the reports into (created if missing).",
)
@_kb_option
def report(file: Path, output_dir: Path, kb_dirs: tuple[Path, ...]) -> None:
    """Write every report format for FILE into a directory."""
    from expert.assess import Assessor, load_assessment
    from expert.render import render

    kb = _load_kb(kb_dirs)
    a = load_assessment(file, kb)
    with Assessor(kb) as ax:
        results = ax.assess(a)
    if results.engine_errors:
        raise EngineError("a rule action failed: " + "; ".join(results.engine_errors))
    texts = {fmt: render(fmt, results, a) for fmt in FORMATS}  # all rendered before any write
    if output_dir.exists() and not output_dir.is_dir():
        raise InputError(
            Problem(str(output_dir), "exists and is not a directory", fix="give a directory for -o")
        )
    output_dir.mkdir(parents=True, exist_ok=True)
    for fmt, text in texts.items():
        _write(text, output_dir / f"{file.stem}.{EXTENSIONS[fmt]}")


@main.command()
@click.argument("file", required=False, type=click.Path(path_type=Path))
@_kb_option
def interview(file: Path | None, kb_dirs: tuple[Path, ...]) -> None:
    """Open the guided interview (a terminal app) on FILE, creating it if needed.

    Every answer is saved to FILE at once; run the same command again to resume.
    """
    from interview.app import run  # the UI is imported only here

    run(file, list(kb_dirs))


@main.command()
@click.option(
    "--example",
    "name",
    default="llm-platform",
    show_default=True,
    help="Which built-in example to open.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=Path("coherence-demo.yaml"),
    show_default=True,
    help="Where the copy is kept (reopened if it exists).",
)
@_kb_option
def demo(name: str, output: Path, kb_dirs: tuple[Path, ...]) -> None:
    """Open the interview on a copy of a built-in example, to explore the tool."""
    examples = _examples()
    if name not in examples:
        raise InputError(Problem(name, "no such example", fix=", ".join(examples)))
    if not output.exists():
        _write(examples[name].read_text(), output)
    from interview.app import run

    run(output, list(kb_dirs))


@main.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Write to this file instead of standard output.",
)
def schema(output: Path | None) -> None:
    """Print the JSON Schema of the assessment file (for editors and validators)."""
    import json

    from expert.assessment import json_schema

    _write(json.dumps(json_schema(), indent=2) + "\n", output)


from expert import kbcli  # noqa: E402  (registers `coherence kb ...`)

main.add_command(kbcli.kb)
