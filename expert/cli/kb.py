"""`coherence kb ...`: inspect, lint and test the knowledge base."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from expert.errors import InputError, Problem
from expert.output import PathParam
from expert.terminal import echo

if TYPE_CHECKING:  # the knowledge base loads only when a command needs it
    from expert.knowledge.knowledgebase import KnowledgeBase
    from expert.knowledge.patterns import Term


def _kb(ctx: click.Context) -> KnowledgeBase:
    from expert.knowledge import knowledgebase as knowledge

    return knowledge.load(list(ctx.obj or []))


@click.group()
@click.option(
    "--kb",
    "kb_dirs",
    multiple=True,
    type=PathParam(path_type=Path),
    help="Add an organisation's knowledge-base pack (repeatable).",
)
@click.pass_context
def kb(ctx: click.Context, kb_dirs: tuple[Path, ...]) -> None:
    """Inspect, lint and test the knowledge base (patterns, questions, templates)."""
    ctx.obj = kb_dirs


@kb.command("list")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option(
    "--summaries",
    is_flag=True,
    help="Also print each pattern's title and summary, and nothing of its conditions (what "
    "someone judging an incident against the patterns may read without learning how they "
    "match).",
)
@click.pass_context
def list_(ctx: click.Context, fmt: str, summaries: bool) -> None:
    """List every pattern with its kind, layers and example-case counts."""
    base = _kb(ctx)
    rows: list[dict[str, Any]] = []
    for pid, p in sorted(base.patterns.items()):
        cases = base.cases.get(pid)
        fires = sum(c.expect == "fires" for c in cases.cases) if cases else 0
        quiet = sum(c.expect == "quiet" for c in cases.cases) if cases else 0
        rows.append(
            {
                "id": pid,
                "kind": p.kind,
                "severity": p.severity,
                "layers": p.layers,
                "title": p.title,
                "firing_cases": fires,
                "quiet_cases": quiet,
                "pack": base.origins[pid].pack,
                "disabled": base.disabled.get(pid),
                **({"summary": p.summary} if summaries else {}),
            }
        )
    if fmt == "json":
        echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        off = f"  [off: {r['disabled']}]" if r["disabled"] else ""
        echo(
            f"{r['id']:42} {r['kind']:13} {r['severity']:8} "
            f"{','.join(r['layers']) or '-':30} {r['firing_cases']}+/{r['quiet_cases']}-{off}"
        )
        if summaries:
            echo(f"    {r['title']}\n    {r['summary']}\n")
    echo(f"{len(rows)} patterns", err=True)


@kb.command()
@click.argument("pattern_id")
@click.pass_context
def show(ctx: click.Context, pattern_id: str) -> None:
    """Show one pattern in words, with its sources."""
    from expert.assessment.vocabulary import suggest

    base = _kb(ctx)
    p = base.patterns.get(pattern_id)
    if p is None:
        raise InputError(
            Problem(
                pattern_id,
                "no such pattern",
                fix=suggest(pattern_id, sorted(base.patterns)).replace(", or unknown", ""),
            )
        )
    echo(f"{p.title}  [{p.id}]")
    echo(f"kind: {p.kind}   severity: {p.severity}   layers: {', '.join(p.layers) or '-'}")
    if p.id in base.disabled:
        echo(f"DISABLED: {base.disabled[p.id]}")
    echo(f"\n{p.summary}\n\nMechanism: {p.mechanism}\n")
    from expert.knowledge import comparisons

    indent = "    " if p.forms else "  "
    for k, v in enumerate(p.variants()):
        if p.forms:
            echo(f"  form {p.forms[k - 1].name if k else 'first'}:")
        for var, fm in v.match.items():
            # A declared comparison is shown once, in words, below: not as its derived field.
            tests = "; ".join(
                f"{t.field} {t.op.replace('_', ' ')} {t.operand}"
                for t in fm.where
                if not t.field.startswith("compare.")
            )
            echo(f"{indent}matches {var} ({fm.fact}): {tests}")
        for c in v.compare:
            var, name = comparisons.register(c, v.match)
            d = comparisons.derivation(v.match[var].fact, name)
            proven = "must hold" if c.strict else "must not be disproven"
            echo(f"{indent}compares ({proven}): {comparisons.words(d, {}) if d else c.left}")
    for e in p.escalate:
        tests = _terms_words(e.when)
        echo(f"  raised to {e.to} where: {tests or 'its comparisons hold'} ({e.because})")
    if p.unknown_is_evidence:
        echo("  an unknown answer is itself evidence (nobody knowing is the gap)")
    if p.needs_confirmed_cause:
        echo("  follows only from confirmed causes")
    if p.subsumes:
        folded = ", ".join(p.subsumes)
        echo(f"\nStates more precisely (folds their findings on the same loops): {folded}")
    if p.feeds:
        echo(f"\nLeads to: {', '.join(p.feeds)}")
    for feed in p.feeds_when:
        echo(f"Leads to {feed.to} only where: {_terms_words(feed.when)}")
    if p.clears:
        echo("\nWould clear if:")
        for clear in p.clears:
            echo(f"  - {clear}")
    if p.asks:
        echo("\nAsks, to settle it:")
        for ask in p.asks:
            q = base.questions.get(ask.question)
            echo(f"  - about {ask.about}: {q.text if q else ask.question} ({ask.question})")
    if p.cost is not None:
        echo(f"\nCost: {p.cost.computation}, {len(p.cost.assumptions)} stated assumptions")
    echo("\nSources:")
    for s in p.sources:
        echo(f"  - {s.title}\n    {s.url}")
    if p.tags or p.status != "stable":
        echo(f"\nTags: {', '.join(p.tags) or '-'}   status: {p.status}")
    echo(f"\nDefined in {base.origins[p.id].path}")


def _terms_words(when: dict[str, list[Term]]) -> str:
    """Terms on several variables, as `kb show` prints them ("res.kind in ['job']"); a
    declared comparison's derived field is left out, as in the match lines."""
    return "; ".join(
        f"{var}.{t.field} {t.op.replace('_', ' ')} {t.operand}"
        for var, terms in when.items()
        for t in terms
        if not t.field.startswith("compare.")
    )


@kb.command()
@click.argument("pattern_ids", nargs=-1)
@click.pass_context
def test(ctx: click.Context, pattern_ids: tuple[str, ...]) -> None:
    """Run the patterns' example cases (all, or the given ids)."""
    from expert.knowledge.casetest import run_cases

    base = _kb(ctx)
    missing = [pid for pid in pattern_ids if pid not in base.patterns]
    if missing:
        raise InputError(
            [Problem(pid, "no such pattern", fix="see `coherence kb list`") for pid in missing]
        )
    results = run_cases(base, list(pattern_ids) or None)
    failed = [r for r in results if not r.passed]
    for r in results:
        mark = "ok  " if r.passed else "FAIL"
        echo(f"{mark} {r.pattern}: {r.case} (expects {r.expect})")
        for line in r.detail:
            echo("       " + line.replace("\n", "\n       "))  # a problem's fix line too
    echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    reminder = golden_reminder(base)
    if reminder:
        echo(reminder, err=True)
    if failed:
        sys.exit(1)


def golden_reminder(base: KnowledgeBase) -> str | None:
    """In a source checkout, a reminder that the report goldens need regenerating when the
    built-in knowledge base's pattern count differs from the one they were made with (every
    report states the count, so adding a pattern changes every golden)."""
    from expert.knowledge.knowledgebase import builtin_dir

    golden = builtin_dir().parent / "tests" / "golden" / "llm-platform.json"
    try:
        made_with = json.loads(golden.read_text(encoding="utf-8"))["knowledge_base"]["patterns"]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # an installed copy, or goldens of another shape: nothing to remind
    now = sum(1 for p in base.active() if base.origins[p.id].pack == "built-in")
    if now == made_with:
        return None
    return (
        f"note: the built-in knowledge base has {now} patterns and the report goldens were "
        f"made with {made_with}; the count is in every report, so regenerate them and review "
        "the diff: UPDATE_GOLDEN=1 uv run pytest tests/test_reports_golden.py (and the "
        "interview snapshots: uv run pytest tests/interview --snapshot-update)"
    )


@kb.command()
@click.argument("pattern_id")
@click.option("--kind", type=click.Choice(["incoherence", "auditability"]), help="Pattern kind.")
@click.option("--layer", "layers", multiple=True, help="A layer it concerns (repeatable).")
@click.option(
    "--role",
    "roles",
    multiple=True,
    help="The role of a loop it matches (repeatable: one role, or two for two loops on one "
    "resource); see the roles in knowledge_base/vocabulary.yaml.",
)
@click.option(
    "--into",
    type=PathParam(path_type=Path),
    help="The knowledge base or pack directory to write into (default: the built-in one); "
    "a directory that does not exist yet starts a new pack.",
)
@click.pass_context
def new(
    ctx: click.Context,
    pattern_id: str,
    kind: str | None,
    layers: tuple[str, ...],
    roles: tuple[str, ...],
    into: Path | None,
) -> None:
    """Start a pattern: write PATTERN_ID.yaml and its cases file, with text to fill in.

    Asks for the kind, layers and roles not given as options. Never replaces a file;
    `coherence kb lint` refuses the files until every <fill in: ...> text and the
    placeholder source are replaced.
    """
    from expert.knowledge import scaffold as kbnew
    from expert.knowledge.knowledgebase import builtin_dir, builtin_is_source

    kb = _kb(ctx)
    vocab = kb.vocabulary
    root = into or builtin_dir()
    if into is None and not builtin_is_source():
        # An installed copy (site-packages): a pattern written there is lost at the next
        # upgrade, and nobody reviews it.
        raise InputError(
            Problem(
                str(root),
                "is the installed package's own knowledge base; a pattern written there is "
                "lost at the next upgrade",
                fix="start a pack of your own: coherence kb new "
                f"{_arg(Path(pattern_id))} --into my-pack/ (then use it with --kb my-pack/)",
            )
        )
    starts_pack = _check_into(root)  # before asking anything
    try:
        if kind is None:
            kind = click.prompt("Kind", type=click.Choice(list(kbnew.KINDS)), default="incoherence")
        if not layers:
            layers = tuple(
                _words(click.prompt(f"Layers, comma-separated ({', '.join(sorted(vocab.layers))})"))
            )
        if not roles:
            roles = tuple(
                _words(
                    click.prompt(
                        "Roles of the loops it matches: one, or two for two loops on one "
                        f"resource ({', '.join(sorted(vocab.roles))})"
                    )
                )
            )
    except click.exceptions.Abort:
        if sys.stdin.isatty():
            raise  # ctrl+c or ctrl+d at the prompt: the user stopped it
        # Answers piped in ran out (or none came): say which options answer the rest.
        asked = (("--kind", kind), ("--layer", layers), ("--role", roles))
        missing = [option for option, given in asked if not given]
        raise InputError(
            Problem(
                pattern_id,
                "the input ended before every question was answered; nothing was written",
                fix="give the answers as options: " + " ".join(f"{o} ..." for o in missing),
            )
        ) from None
    s = kbnew.scaffold(root, pattern_id, kind, list(layers), list(roles), vocab)
    kbnew.write(s)  # creates the pack's directory too, when it starts one
    if starts_pack:
        echo(f"started the pack {root}")
    echo(f"wrote {s.pattern}\nwrote {s.cases}")
    similar = kbnew.same_roles(kb, list(roles))
    if similar:
        # A new pattern that restates an existing one doubles its findings: read these first.
        shown = ", ".join(similar[:8]) + (
            f" and {len(similar) - 8} more" if len(similar) > 8 else ""
        )
        echo(
            f"patterns that already match loops in these roles: {shown}; read them first "
            f"(`coherence kb show ID`), and list one under `subsumes` if yours states it more "
            "precisely"
        )
    if not (root / "schema").is_dir():
        echo(
            f"the modelines point at {root / 'schema'}: run "
            f"`coherence kb schema {_arg(root / 'schema')}`"
        )
    # The exact commands: --kb is an option of `kb`, so it goes before the subcommand.
    packs = [*(ctx.obj or [])]
    if into is not None and root not in packs:
        packs.append(root)
    kb_opts = "".join(f" --kb {_arg(d)}" for d in packs)
    echo(
        "next: replace every <fill in: ...> text and the source, then run "
        f"`coherence kb{kb_opts} lint` and `coherence kb{kb_opts} test {pattern_id}`"
    )


def _check_into(root: Path) -> bool:
    """Refuse a --into that cannot hold a pack; True when it names a new pack, which `kb new`
    starts (knowledge_base/README.md: `kb new my-gap --into my-pack/` starts from nothing)."""
    if root.is_dir():
        return False
    if root.exists() or root.is_symlink():
        raise InputError(
            Problem(
                str(root),
                "is not a directory",
                fix="give a knowledge-base pack directory (one holding patterns/, questions/ "
                "...), or a new directory's name to start a pack",
            )
        )
    if not root.parent.is_dir():
        raise InputError(
            Problem(
                str(root),
                f"does not exist, and neither does {root.parent}",
                fix=f"check the path, or create the folder that holds it first: "
                f"mkdir -p {_arg(root.parent)}",
            )
        )
    return True


def _arg(path: Path) -> str:
    """A path as it would be typed in a shell."""
    import shlex

    return shlex.quote(str(path))


def _words(text: str) -> list[str]:
    return [w.strip() for w in text.replace(",", " ").split() if w.strip()]


@kb.command()
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
def lint(ctx: click.Context, fmt: str) -> None:
    """Check the knowledge base (and packs) with named validators; exit 1 on any problem."""
    from expert.knowledge.lint import lint as run_lint

    results = run_lint(list(ctx.obj or []))
    failed = [r for r in results if r.problems]
    skipped = [r for r in results if r.skipped]
    if fmt == "json":
        echo(
            json.dumps(
                [
                    {
                        "validator": r.name,
                        "checks": r.description,
                        "ok": r.ok,
                        "skipped": r.skipped or None,
                        "problems": [
                            {
                                "file": p.source,
                                "line": p.line,
                                "where": p.where,
                                "message": p.message,
                                "fix": p.fix,
                            }
                            for p in r.problems
                        ],
                        "notes": r.notes,
                    }
                    for r in results
                ],
                indent=2,
            )
        )
    else:
        for r in results:
            if r.skipped:
                echo(f"skip {r.name}: {r.skipped}")
            elif r.problems:
                echo(f"FAIL {r.name} ({r.description}): {len(r.problems)} problem(s)")
                for p in r.problems:
                    echo("       " + str(p).replace("\n", "\n       "))
            else:
                echo(f"ok   {r.name} ({r.description})")
            for note in r.notes:
                echo(f"       note: {note}")
        total = sum(len(r.problems) for r in results)
        echo(
            f"{len(results) - len(failed) - len(skipped)} validators passed, "
            f"{len(failed)} failed, {len(skipped)} skipped ({total} problems)"
        )
    if failed or skipped:
        sys.exit(1)


@kb.command()
@click.argument("directory", required=False, type=PathParam(path_type=Path))
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 if the schemas in DIRECTORY differ from the generated ones.",
)
@click.option(
    "--force", is_flag=True, help="Replace files in DIRECTORY that coherence did not write."
)
def schema(directory: Path | None, check: bool, force: bool) -> None:
    """Write the JSON Schemas of every knowledge-base file (and the assessment) for editors.

    DIRECTORY defaults to the built-in knowledge base's schema/ directory.
    """
    from expert import output as outputs
    from expert.knowledge import schema as kbschema
    from expert.knowledge.knowledgebase import builtin_dir

    target = directory or builtin_dir() / "schema"
    if target.exists() and not target.is_dir():
        raise InputError(Problem(str(target), "is not a directory", fix="give a directory"))
    if check:
        stale = kbschema.stale(target)
        for name in stale:
            echo(f"stale: {target / name}")
        if stale:
            echo("run `coherence kb schema` to regenerate them", err=True)
            sys.exit(1)
        echo(f"schemas in {target} are up to date")
        return
    texts = {name: kbschema.render(s) for name, s in kbschema.all_schemas().items()}
    if target.exists():  # every refusal before the first write
        for name in texts:
            outputs.check_target(target / name, force=force)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            Problem(str(target), f"cannot write the schemas: {exc.strerror}")
        ) from None
    for name, text in texts.items():
        outputs.write(text, target / name, force=force)
