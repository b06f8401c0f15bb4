"""The `coherence` command line.

Exit codes: 0 success; 1 `--fail-on` threshold reached (or `kb test`/`kb lint` failed);
2 bad input or an output that cannot or may not be written (nothing written); 3 the rule
engine or a native library failed (input unchanged); 70 internal error; 130 interrupted.
"""

from __future__ import annotations

# The C module: `signal` builds enums first, which takes a while. Typeshed has no stub for
# it; it has the same functions as `signal`.
import _signal  # type: ignore[import-not-found]
import os
import sys


def _interrupted_at_once(signum: int, frame: object) -> None:
    """Ctrl-C outside a command (while modules load, or while exiting): nothing to clean up
    yet or any more, so one line and exit 130, never a traceback from inside an import."""
    try:
        os.write(2, b"interrupted\n")
    finally:
        os._exit(130)


# Only in the `coherence` process itself (not when a test or the interview imports this
# module), and only if Ctrl-C is not deliberately ignored (a background job). This runs
# before the heavy imports below, which are most of the start-up time.
_ENTRY = os.path.basename(sys.argv[0]) == "coherence" or sys.argv[0].endswith(
    os.path.join("expert", "__main__.py")
)
if _ENTRY and _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
    _signal.signal(_signal.SIGINT, _interrupted_at_once)

import gc  # noqa: E402
import io  # noqa: E402
import signal  # noqa: E402
from importlib import resources  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

from expert import collector  # noqa: E402

# Loading modules makes hundreds of thousands of objects that live as long as the process
# and frees few: a collection while they load walks them for nothing (expert/collector.py).
# The same holds for the modules a command imports when it runs.
with collector.paused():
    import click

    from expert import __version__, terminal
    from expert import output as outputs
    from expert.assessment.model import Assessment  # (reports imports it anyway)
    from expert.errors import EngineError, InputError, Problem
    from expert.render.formats import EXTENSIONS, FORMATS, format_for

if TYPE_CHECKING:
    from expert.analysis.diff import Run
    from expert.engine.compiler import Compiled
    from expert.knowledge.knowledgebase import KnowledgeBase

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
        type=outputs.PathParam(path_type=Path),
        help="Add an organisation's knowledge-base pack (repeatable).",
    )(f)


def _with_loops(a: Assessment, file: Path) -> Assessment:
    """The assessment, if it describes a control loop. Without one there is nothing to find:
    a report would read "100% coherent" and a --fail-on gate would pass, on an empty file."""
    if not a.loops:
        raise InputError(
            Problem(
                "<standard input>" if str(file) == "-" else str(file),
                "describes no control loops, so there is nothing to assess",
                where="loops",
                fix="describe the platform's loops (`coherence interview FILE` asks for them), "
                "or start from a built-in example: `coherence example llm-platform -o FILE`",
            )
        )
    return a


def _load_kb(kb_dirs: tuple[Path, ...]) -> tuple[KnowledgeBase, Compiled]:
    """The knowledge base and its compiled rules, kept between commands
    (expert/engine/kbcache.py)."""
    with collector.paused():  # see the module's imports
        from expert.engine import kbcache

    return kbcache.load(kb_dirs)


EXIT_INTERRUPTED = 130


def _output_option(f: Any) -> Any:
    return click.option(
        "-o",
        "--output",
        "target",
        type=outputs.PathParam(allow_dash=True),
        help="Write to this file (- for standard output).",
    )(f)


def _force_option(f: Any) -> Any:
    return click.option(
        "--force",
        is_flag=True,
        help="Replace an existing output file that coherence did not write (or that was edited).",
    )(f)


def _guard_standard_fds() -> None:
    """Hold closed standard descriptors open on the null device (read-only), so no file
    this process opens later lands on descriptor 1 or 2 and receives the report or the
    engine's output by accident. Python has already set sys.stdout to None for a closed
    descriptor 1, so printing a report still fails loudly (see terminal.echo)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            try:
                held = os.open(os.devnull, os.O_RDONLY)
            except OSError:
                return
            if held != fd:
                os.close(held)


def _interrupts_raise(on: bool) -> None:
    """While a command runs, Ctrl-C raises KeyboardInterrupt so temporaries and engine
    processes are cleaned up on the way out; outside it, it exits at once."""
    current = signal.getsignal(signal.SIGINT)
    if on and current is _interrupted_at_once:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    elif not on and _ENTRY and current is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupted_at_once)


def _native_failure(exc: BaseException) -> int:
    """A BaseException that is not an exit or an interrupt: a native library gave up, as a
    pyo3 `PanicException` (pydantic-core under memory pressure) does. It must not escape as
    Python's exit 1, which is `--fail-on`'s code."""
    terminal.echo(
        f"error: a native component failed ({type(exc).__name__}: {exc}).\n"
        "Your input files are unchanged. This is often a lack of memory; try again, or "
        "report it with the command you ran.",
        err=True,
    )
    return EXIT_ENGINE


class _Group(click.Group):
    """Turns the project's errors into messages and exit codes, never tracebacks."""

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        if _ENTRY:
            _guard_standard_fds()
        code: Any = 0
        _interrupts_raise(True)
        try:
            value = super().main(args, prog_name, complete_var, False, **extra)
            code = value if isinstance(value, int) else 0
        except (KeyboardInterrupt, click.exceptions.Abort):
            terminal.echo("interrupted", err=True)
            code = EXIT_INTERRUPTED
        except click.ClickException as exc:
            shown = io.StringIO()
            exc.show(file=shown)
            terminal.echo(shown.getvalue(), err=True, nl=False)
            code = exc.exit_code
        except SystemExit as exc:
            code = exc.code
        except Exception:
            raise  # invoke() already turned the project's errors into exits
        except BaseException as exc:  # a panic outside a command, e.g. while parsing
            if isinstance(exc, GeneratorExit):
                raise
            code = _native_failure(exc)
        finally:
            _interrupts_raise(False)
        if _ENTRY:
            # The process ends here. Most of what a command made is held in reference
            # cycles (the influence graph, the assessment), which the collector would walk
            # and free object by object on the way out: 0.3 s at 1,000 loops. Frozen, they
            # are left to the kernel; exit handlers and stream flushing still run.
            gc.freeze()
        sys.exit(code)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InputError as exc:
            terminal.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_INPUT)
        except EngineError as exc:
            terminal.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_ENGINE)
        except KeyboardInterrupt:
            terminal.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except OSError as exc:
            if exc.filename is None or os.environ.get("COHERENCE_DEBUG"):
                return self._internal(exc)
            # A path the user named (or one inside it) that cannot be used, e.g. --kb /proc.
            terminal.echo(
                f"error: {exc.filename}: {exc.strerror or exc}\n"
                "    fix: check the path and its permissions; nothing was written",
                err=True,
            )
            sys.exit(EXIT_INPUT)
        except Exception as exc:  # a bug: say so plainly; traceback only on request
            return self._internal(exc)
        except BaseException as exc:  # pyo3 panics derive from BaseException
            if isinstance(exc, GeneratorExit):
                raise
            sys.exit(_native_failure(exc))

    @staticmethod
    def _internal(exc: Exception) -> Any:
        if os.environ.get("COHERENCE_DEBUG"):
            raise exc
        terminal.echo(
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
@_output_option
@click.option("--list", "list_", is_flag=True, help="List the built-in examples.")
@_force_option
def example(name: str | None, target: str | None, list_: bool, force: bool) -> None:
    """Write a built-in example assessment (YAML) to edit into your own.

    An existing file is replaced only if it is an unedited copy of an example (or --force).
    """
    examples = _examples()
    if not name and target is not None and not list_:
        raise InputError(
            Problem(
                str(target),
                "no example was named, so nothing was written",
                fix="name one: " + ", ".join(examples) + f" (coherence example NAME -o {target})",
            )
        )
    if list_ or not name:
        for stem, path in examples.items():
            first = next(
                (ln[2:].strip() for ln in path.read_text().splitlines() if ln.startswith("# ")), ""
            )
            terminal.echo(f"{stem:20} {first}")
        return
    if name not in examples:
        from expert.assessment.vocabulary import suggest

        raise InputError(
            Problem(
                name,
                "no such example",
                fix=suggest(name, list(examples)).replace(", or unknown", ""),
            )
        )
    outputs.write(examples[name].read_text(), target, force=force)


@main.command()
@click.argument("file", type=outputs.PathParam(path_type=Path, allow_dash=True))
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(list(FORMATS)),
    help="Report format. Default: the one the output file's extension names (.html, .json, "
    ".sarif, .csv, .md), else markdown.",
)
@_output_option
@click.option(
    "--fail-on",
    type=click.Choice([*SEVERITIES, *(f"new-{s}" for s in SEVERITIES)]),
    help="Exit 1 if a confirmed finding, or a symptom or cost it leads to, has at least this "
    "severity (for CI); new-LEVEL: "
    "only findings new since --baseline (or newly confirmed or raised to LEVEL).",
)
@click.option(
    "--baseline",
    type=outputs.PathParam(path_type=Path),
    help="An earlier run (results JSON or assessment) that --fail-on new-LEVEL compares with.",
)
@_force_option
@_kb_option
def assess(
    file: Path,
    fmt: str | None,
    target: str | None,
    fail_on: str | None,
    baseline: Path | None,
    force: bool,
    kb_dirs: tuple[Path, ...],
) -> None:
    """Assess FILE (- for standard input) and print the findings with their explanations.

    Findings the assessment's `decisions` accept or mark not applicable (and that have not
    expired) do not count for --fail-on."""
    with collector.paused():  # see the module's imports
        from expert.analysis.assess import Assessor, load_assessment
        from expert.deliverables import decisions
        from expert.render.reports import render

    if (fail_on or "").startswith("new-") != (baseline is not None):
        raise InputError(
            Problem(
                "--baseline" if baseline is not None else "--fail-on",
                "--baseline and --fail-on new-LEVEL go together",
                fix="e.g. --baseline old.json --fail-on new-high",
            )
        )
    # `-o report.html` writes HTML: a Markdown file named .html opens as a wall of text.
    fmt = fmt or (format_for(target) if target not in (None, "-") else None) or "markdown"
    inputs = (file, *kb_dirs, *((baseline,) if baseline is not None else ()))
    if target is not None:  # refuse a bad output before the work, not after it
        outputs.check_target(Path(target), inputs=inputs, force=force)
    kb, compiled = _load_kb(kb_dirs)
    a = _with_loops(load_assessment(file, kb), file)
    old: Run | None = None
    with Assessor(kb, compiled=compiled) as ax:
        if baseline is not None:
            # Imported only for a comparison: most runs have no baseline.
            from expert.analysis import diff as diffs

            old = diffs.load_run(baseline, kb, ax)
        results = ax.assess(a)
    if results.engine_errors:
        raise EngineError("a rule action failed: " + "; ".join(results.engine_errors))
    results = _decided(results, a, kb)
    outputs.write(render(fmt, results, a), target, inputs=inputs, force=force)
    if old is not None and fail_on:
        level = fail_on.removeprefix("new-")
        d = diffs.diff_runs(old, diffs.Run(str(file), results, a), kb)
        now = results.by_id()
        new_hits = [
            f
            for f in diffs.new_at_or_above(d, level)
            if not (f.id in now and decisions.waived(now[f.id]))
        ]
        if new_hits:
            terminal.echo(
                f"{len(new_hits)} new confirmed finding(s) at or above {level} since "
                f"{baseline}: " + ", ".join(f.id for f in new_hits),
                err=True,
            )
            sys.exit(EXIT_FAIL_ON)
    elif fail_on:
        hits = decisions.fail_on_hits(results, fail_on)
        if hits:
            terminal.echo(f"{len(hits)} confirmed finding(s) at or above {fail_on}", err=True)
            sys.exit(EXIT_FAIL_ON)


@main.command()
@click.argument("file", type=outputs.PathParam(path_type=Path, allow_dash=True))
@click.option(
    "-o",
    "--output-dir",
    "output_dir",
    type=outputs.PathParam(path_type=Path),
    required=True,
    help="Directory to write the reports into (created if missing; must not hold FILE).",
)
@_force_option
@_kb_option
def report(file: Path, output_dir: Path, force: bool, kb_dirs: tuple[Path, ...]) -> None:
    """Write every report format for FILE into a directory, as one complete set.

    The set is written beside the directory first and moved into place, so the directory
    holds the old set or the new one; FILE.manifest.json, written last, lists the set.
    """
    with collector.paused():  # see the module's imports
        from expert.analysis.assess import Assessor, load_assessment
        from expert.render.reports import render

    inputs = (file, *kb_dirs)
    stem = "assessment" if str(file) == "-" else file.stem
    names = {fmt: f"{stem}.{EXTENSIONS[fmt]}" for fmt in FORMATS}
    manifest = f"{stem}.manifest.json"
    outputs.check_set(output_dir, [*names.values(), manifest], inputs=inputs, force=force)
    kb, compiled = _load_kb(kb_dirs)
    a = _with_loops(load_assessment(file, kb), file)
    with Assessor(kb, compiled=compiled) as ax:
        results = ax.assess(a)
    if results.engine_errors:
        raise EngineError("a rule action failed: " + "; ".join(results.engine_errors))
    results = _decided(results, a, kb)
    texts = {names[fmt]: render(fmt, results, a) for fmt in FORMATS}  # all before any write
    written = outputs.write_set(texts, output_dir, inputs=inputs, force=force, manifest=manifest)
    for path in written:
        terminal.echo(f"wrote {path}", err=True)


@main.command()
@click.argument("file", required=False, type=outputs.PathParam(path_type=Path))
@_kb_option
def interview(file: Path | None, kb_dirs: tuple[Path, ...]) -> None:
    """Open the guided interview (a terminal app) on FILE, creating it if needed.

    Every answer is saved to FILE at once; run the same command again to resume.
    """
    from interview.app import run  # the UI is imported only here

    run(file, _load_kb(kb_dirs)[0])


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
    type=outputs.PathParam(path_type=Path),
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
    # An existing copy is reopened; the interview refuses a path that is no regular file.
    if not os.path.lexists(output):
        outputs.write(examples[name].read_text(), str(output), inputs=tuple(kb_dirs))
    from interview.app import run

    run(output, _load_kb(kb_dirs)[0])


@main.command()
@_output_option
@_force_option
def schema(target: str | None, force: bool) -> None:
    """Print the JSON Schema of the assessment file (for editors and validators)."""
    import json

    from expert.assessment.model import json_schema

    outputs.write(json.dumps(json_schema(), indent=2) + "\n", target, force=force)


@main.command("import")
@click.argument("paths", nargs=-1, required=True, type=outputs.PathParam(path_type=Path))
@_output_option
@click.option(
    "--merge",
    "existing",
    type=outputs.PathParam(path_type=Path),
    help="Add the imported loops and resources to this assessment; its answers always win.",
)
@click.option("--name", help="The system's name in the imported assessment.")
@_force_option
@_kb_option
def import_(
    paths: tuple[Path, ...],
    target: str | None,
    existing: Path | None,
    name: str | None,
    force: bool,
    kb_dirs: tuple[Path, ...],
) -> None:
    """Turn configuration (Kubernetes manifests, mesh, queue and scheduler settings, serving
    engines; files or directories) into an assessment. What configuration cannot tell
    (owners, decision records, cancellation) is left for the interview to ask."""
    from expert.analysis.assess import load_assessment
    from expert.importers import import_paths
    from expert.importers.merge import merge_import
    from expert.yamlio import dump_yaml, load_yaml

    inputs = (*paths, *((existing,) if existing is not None else ()), *kb_dirs)
    if target is not None:
        outputs.check_target(Path(target), inputs=inputs, force=force)
    kb, _rules = _load_kb(kb_dirs)
    mine = load_assessment(existing, kb) if existing is not None else None
    result = import_paths(list(paths), name=name)
    for skipped in result.skipped:
        terminal.echo(f"skipped: {skipped}", err=True)
    for problem in result.problems:
        terminal.echo(f"warning: {problem}", err=True)
    if not result.assessment.get("loops") and not result.assessment.get("resources"):
        # An assessment of nothing would only be refused by the next command.
        read = len(result.files)
        raise InputError(
            Problem(
                ", ".join(str(p) for p in paths),
                "nothing to import: "
                + (
                    f"none of the {read} configuration file(s) read holds a control loop or "
                    "a resource this import knows"
                    if read
                    else "no configuration file this import reads is there"
                ),
                fix="give the files or directories holding the manifests and settings (see "
                "`coherence import --help` for what it reads); nothing was written",
            )
        )
    data = result.assessment
    if existing is not None and mine is not None:
        raw, _ = load_yaml(existing, what="assessment file")
        merged = merge_import(raw, mine.resource_ids(), data)
        data = merged.data
        for line in merged.matched_by_name:
            terminal.echo(line, err=True)
        for conflict in merged.conflicts:
            terminal.echo(f"conflict: {conflict}", err=True)
        terminal.echo(
            f"{existing}: added {len(merged.added)}, filled {len(merged.filled)} unanswered "
            f"field(s), {len(merged.conflicts)} conflict(s) (your answers kept)",
            err=True,
        )
    try:
        _check_valid(data, kb, "the imported assessment")
    except InputError as exc:
        raise InputError([result.placed(p) for p in exc.problems]) from None
    outputs.write(dump_yaml(data), target, inputs=inputs, force=force)
    terminal.echo(
        f"imported {len(data.get('loops', []))} loops from {len(result.files)} file(s)", err=True
    )


@main.command()
@click.argument("old", type=outputs.PathParam(path_type=Path, allow_dash=True))
@click.argument("new", type=outputs.PathParam(path_type=Path, allow_dash=True))
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@_output_option
@_force_option
@_kb_option
def diff(
    old: Path, new: Path, fmt: str, target: str | None, force: bool, kb_dirs: tuple[Path, ...]
) -> None:
    """Compare two runs: OLD and NEW are each an assessment or a results file written by
    `assess --format json`. Findings new, resolved and changed, loops added, removed and
    changed, and the change in exposure."""
    from expert.analysis import diff as diffs

    inputs = (old, new, *kb_dirs)
    if target is not None:
        outputs.check_target(Path(target), inputs=inputs, force=force)
    d = diffs.diff_files(old, new, *_load_kb(kb_dirs))
    outputs.write(diffs.RENDERERS[fmt](d), target, inputs=inputs, force=force)


@main.command()
@click.argument("files", nargs=-1, required=True, type=outputs.PathParam(path_type=Path))
@click.option(
    "-o",
    "--output",
    "target",
    type=outputs.PathParam(allow_dash=True),
    required=True,
    help="Write the merged assessment to this file (- for standard output).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Merge files whose system names differ, and replace an output coherence did not write.",
)
@_kb_option
def merge(files: tuple[Path, ...], target: str, force: bool, kb_dirs: tuple[Path, ...]) -> None:
    """Merge several respondents' assessments of one platform into one file. Where they
    agree, or one alone answered, the answer is taken; where they disagree, the file keeps
    every answer with who gave it (under `disputed`), the field is unknown, and the
    assessment reports that the teams describe the loop differently."""
    from expert.analysis.assess import load_assessment
    from expert.assessment import respondents

    if len(files) < 2:
        raise InputError(Problem("merge", "needs at least two files", fix="name two or more"))
    inputs = (*files, *kb_dirs)
    outputs.check_target(Path(target), inputs=inputs, force=force)
    kb, _rules = _load_kb(kb_dirs)
    named = []
    for path in files:
        a = load_assessment(path, kb)  # each file's problems, with its name and lines
        named.append((a.system.respondent or path.stem, path, a))
    whos = [who for who, _, _ in named]
    pairs = [
        (
            who if whos.count(who) == 1 else f"{who} ({path.name})",
            a.model_dump(mode="json", exclude_none=True),
        )
        for who, path, a in named
    ]
    result = respondents.merge(pairs, force=force, vocab=kb.vocabulary)
    # Disagreements are kept under `disputed`, the fields themselves unknown: still a file
    # that assesses, which this checks before anything is written.
    _check_valid(result.data, kb, "the merged assessment")
    outputs.write(result.to_yaml(), target, inputs=inputs, force=force)
    terminal.echo(result.summary(), err=True, nl=False)


def _decided(results: Any, a: Any, kb: Any) -> Any:
    """Results with the assessment's decisions applied; expired, stale and unknown decisions
    are reported on standard error as well as in the report."""
    from expert.deliverables import decisions

    results = decisions.apply(results, a, kb.patterns)
    for warning in results.decisions.warnings if results.decisions else []:
        terminal.echo(f"warning: {warning}", err=True)
    return results


def _check_valid(data: dict[str, Any], kb: Any, source: str) -> None:
    """Validate a file this command built, so nothing invalid is ever written."""
    from expert.analysis.assess import check_answers
    from expert.assessment.model import validate

    validate(data, kb.vocabulary, source, checks=lambda a: check_answers(a, kb, source))


from expert.cli import kb as kbcli  # noqa: E402  (registers `coherence kb ...`)

main.add_command(kbcli.kb)
