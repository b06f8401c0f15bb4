"""Messages about the wrong file or a broken pack: each names the file, the place and what to
do, exits 2 with no traceback, and is not contradicted by another command (what `kb lint`
refuses, `kb test`, `assess` and `report` refuse too; `kb new`'s next commands run as
printed)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from expert.cli.main import main
from expert.errors import InputError
from expert.knowledge import knowledgebase as knowledge
from expert.knowledge.lint import lint

EXAMPLE = Path(__file__).parent.parent / "expert" / "examples" / "llm-platform.yaml"
FLAGS = ["--kind", "incoherence", "--layer", "runtime", "--layer", "safety"]
ROLES = ["--role", "resubmits_work", "--role", "stops_work"]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def results_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("results") / "r.json"
    code, text = run("assess", str(EXAMPLE), "--format", "json", "-o", str(out))
    assert code == 0, text
    return out


@pytest.mark.parametrize(
    "command",
    [
        ["assess", "{r}"],
        ["report", "{r}", "-o", "{tmp}/reports"],
        ["merge", "{r}", str(EXAMPLE), "-o", "{tmp}/merged.yaml"],
    ],
)
def test_a_results_file_given_as_an_assessment_is_named_as_one(
    results_file: Path, tmp_path: Path, command: list[str]
) -> None:
    args = [a.format(r=results_file, tmp=tmp_path) for a in command]
    code, out = run(*args)
    assert code == 2
    assert f"{results_file}:3: this is a results file written by `coherence assess`" in out
    assert "pass the assessment it was made from ('llm-platform.yaml')" in out
    assert "`coherence diff` to compare two results files" in out
    assert "schema_version" not in out  # the old, wrong advice: "reads schema_version: 1"
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_results_file_of_the_first_format_is_named_as_one_too(
    results_file: Path, tmp_path: Path
) -> None:
    data = json.loads(results_file.read_text())
    data["schema_version"] = 1
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    code, out = run("assess", str(old))
    assert code == 2 and "this is a results file written by `coherence assess`" in out


def _filled_pack(root: Path) -> Path:
    """A pack with one pattern, written by `kb new` and filled in: it lints clean."""
    code, out = run("kb", "schema", str(root / "schema"))
    assert code == 0, out
    code, out = run("kb", "new", "acme-retry-vs-kill", *FLAGS, *ROLES, "--into", str(root))
    assert code == 0, out
    for path in (root / "patterns" / "incoherence").iterdir():
        text = re.sub(r"<fill in: ([^>]*)>", r"\1", path.read_text())
        path.write_text(text.replace("example.invalid/fill-in-the-source", "example.org/pm"))
    assert all(r.ok for r in lint([root]))
    return root / "patterns" / "incoherence"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def typo_pack(tmp_path: Path) -> tuple[Path, Path]:
    """A pack whose pattern's `clears` names a field loops do not have."""
    folder = _filled_pack(tmp_path / "pack")
    pattern = folder / "acme-retry-vs-kill.yaml"
    _edit(
        pattern, "and {stops_work.name} that would clear", "and {stops_work.nme} that would clear"
    )
    return tmp_path / "pack", pattern


LINT_MESSAGE = "(clears[0]): {stops_work.nme}: loop facts have no field 'nme'"


@pytest.mark.parametrize(
    "command",
    [
        ["kb", "--kb", "{pack}", "test"],
        ["assess", str(EXAMPLE), "--kb", "{pack}"],
        ["report", str(EXAMPLE), "--kb", "{pack}", "-o", "{out}"],
    ],
)
def test_a_pattern_with_a_placeholder_nothing_fills_is_refused_on_load(
    typo_pack: tuple[Path, Path], tmp_path: Path, command: list[str]
) -> None:
    pack, pattern = typo_pack
    out_dir = tmp_path / "reports"
    code, out = run(*[a.format(pack=pack, out=out_dir) for a in command])
    assert code == 2, out
    assert f"{pattern} {LINT_MESSAGE}" in out
    assert "fix: known: " in out and "name," in out
    assert "not answered that would clear" not in out
    assert not out_dir.exists()


def test_lint_still_reports_the_placeholder_beside_every_other_problem(
    typo_pack: tuple[Path, Path],
) -> None:
    pack, pattern = typo_pack
    results = {r.name: r for r in lint([pack])}
    assert results["load"].ok  # not stopped at loading: every validator runs
    (problem,) = results["placeholders"].problems
    assert f"{problem.source} ({problem.where}): {problem.message}" == f"{pattern} {LINT_MESSAGE}"
    assert [name for name, r in results.items() if not r.ok] == ["placeholders"]


def test_kb_test_names_the_cases_file_for_a_problem_in_a_case(tmp_path: Path) -> None:
    folder = _filled_pack(tmp_path / "pack")
    cases = folder / "acme-retry-vs-kill.cases.yaml"
    _edit(cases, "actuations: [terminate]", "actuations: [terminat]")
    code, out = run("kb", "--kb", str(tmp_path / "pack"), "test", "acme-retry-vs-kill")
    assert code == 1
    assert (
        f"{cases} case 'a platform where it fires' (loops[1] (id stops-work).actuations[0]): "
        "unknown actuation 'terminat'" in out
    )
    assert "acme-retry-vs-kill.yaml case" not in out
    # the fix sits under its problem, indented like it
    assert "\n           fix: did you mean 'terminate'?" in out
    _code, linted = run("kb", "--kb", str(tmp_path / "pack"), "lint")
    assert f"{cases} case 'a platform where it fires'" in linted  # both name the same file


def _next_commands(out: str) -> list[list[str]]:
    line = next(ln for ln in out.splitlines() if ln.startswith("next:"))
    return [shlex.split(cmd) for cmd in re.findall(r"`(coherence [^`]+)`", line)]


def test_kb_new_prints_next_commands_that_run_as_printed(tmp_path: Path) -> None:
    pack = tmp_path / "my pack"  # a space: the printed commands quote it
    pack.mkdir()
    code, out = run("kb", "new", "acme-gap", *FLAGS, *ROLES, "--into", str(pack))
    assert code == 0, out
    lint_cmd, test_cmd = _next_commands(out)
    assert lint_cmd == ["coherence", "kb", "--kb", str(pack), "lint"]
    assert test_cmd == ["coherence", "kb", "--kb", str(pack), "test", "acme-gap"]
    code, linted = run(*lint_cmd[1:])
    assert code == 1 and "FAIL scaffold" in linted  # runs; refuses only the fill-in texts
    code, tested = run(*test_cmd[1:])
    assert code == 0 and "2 passed, 0 failed" in tested


def test_kb_new_into_a_new_directory_starts_the_pack(tmp_path: Path) -> None:
    pack = tmp_path / "my-pack"
    code, out = run("kb", "new", "acme-gap", *FLAGS, *ROLES, "--into", f"{pack}/")
    assert code == 0, out
    assert f"started the pack {pack}" in out
    assert (pack / "patterns" / "incoherence" / "acme-gap.yaml").is_file()
    assert _next_commands(out)[0] == ["coherence", "kb", "--kb", str(pack), "lint"]


def test_kb_new_into_a_path_whose_folder_is_missing_says_so(tmp_path: Path) -> None:
    pack = tmp_path / "missing" / "my-pack"
    code, out = run("kb", "new", "acme-gap", "--into", str(pack))
    assert code == 2
    assert "Kind" not in out  # refused before asking for anything
    assert f"{pack}: does not exist, and neither does {pack.parent}" in out
    assert f"mkdir -p {pack.parent}" in out
    assert "is not a directory" not in out
    assert not (tmp_path / "missing").exists()


def test_kb_new_into_a_file_says_it_is_not_a_directory(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("mine\n")
    code, out = run("kb", "new", "acme-gap", *FLAGS, *ROLES, "--into", str(target))
    assert code == 2
    assert f"{target}: is not a directory" in out and "fix: give a knowledge-base pack" in out
    assert target.read_text() == "mine\n"


def test_a_broken_case_file_stops_kb_test_and_lint_but_not_an_assessment(tmp_path: Path) -> None:
    """Example cases are read when `kb test`, `kb lint` or `kb list` need them, not to assess:
    an assessment never uses them. A case file that does not load is still named, by file."""
    folder = _filled_pack(tmp_path / "pack")
    cases = folder / "acme-retry-vs-kill.cases.yaml"
    _edit(cases, "pattern: acme-retry-vs-kill", "pattern: acme-other")
    pack = str(tmp_path / "pack")

    kb = knowledge.load([tmp_path / "pack"])
    assert "acme-retry-vs-kill" in kb.patterns
    with pytest.raises(InputError) as raised:
        kb.read_cases()
    (problem,) = raised.value.problems
    assert problem.source == str(cases)
    assert "cases are for 'acme-other' but sit beside pattern 'acme-retry-vs-kill'" in (
        problem.message
    )

    code, out = run("kb", "--kb", pack, "test", "acme-retry-vs-kill")
    assert code != 0 and f"{cases}" in out and "cases are for 'acme-other'" in out
    load = {r.name: r for r in lint([tmp_path / "pack"])}["load"]
    assert [p.source for p in load.problems] == [str(cases)]

    platform = tmp_path / "platform.yaml"
    assert run("example", "llm-platform", "-o", str(platform))[0] == 0
    code, out = run("assess", "--kb", pack, str(platform), "-o", str(tmp_path / "r.md"))
    assert code in (0, 1), out  # findings or none: either way the broken case did not stop it
    assert (tmp_path / "r.md").is_file()


def test_a_misspelt_key_in_a_pattern_points_to_the_knowledge_base_schema(tmp_path: Path) -> None:
    folder = _filled_pack(tmp_path / "pack")
    _edit(folder / "acme-retry-vs-kill.yaml", "- {field:", "- {feild:")
    code, out = run("kb", "--kb", str(tmp_path / "pack"), "lint")
    assert code == 1, out
    assert "unknown field 'feild'" in out and "(coherence kb schema)" in out
    assert "(coherence schema)" not in out  # the assessment's format, not the pattern's


def test_a_misspelt_field_in_a_condition_is_offered_the_close_name(tmp_path: Path) -> None:
    folder = _filled_pack(tmp_path / "pack")
    _edit(folder / "acme-retry-vs-kill.yaml", "- {field: roles,", "- {field: rolse,")
    code, out = run("kb", "--kb", str(tmp_path / "pack"), "lint")
    assert code == 1, out
    assert "loop facts have no field 'rolse' (did you mean 'roles'?)" in out
