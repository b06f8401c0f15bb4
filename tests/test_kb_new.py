"""`coherence kb new`: scaffolded pattern and cases files, refused by lint until filled in,
never written over an existing file; and the reminder `kb test` gives about the goldens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from expert.cli.kb import golden_reminder
from expert.cli.main import main
from expert.knowledge import knowledgebase as knowledge

FLAGS = ["--kind", "incoherence", "--layer", "runtime", "--layer", "safety"]
ROLES = ["--role", "resubmits_work", "--role", "stops_work"]


def run(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input=input)
    assert "Traceback" not in result.output
    return result.exit_code, result.output


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    code, out = run("kb", "schema", str(tmp_path / "schema"))
    assert code == 0, out
    return tmp_path


def test_new_writes_a_pattern_and_cases_that_run_but_do_not_lint(pack: Path) -> None:
    code, out = run("kb", "new", "retry-vs-kill", *FLAGS, *ROLES, "--into", str(pack))
    assert code == 0, out
    pattern = pack / "patterns" / "incoherence" / "retry-vs-kill.yaml"
    cases = pack / "patterns" / "incoherence" / "retry-vs-kill.cases.yaml"
    text = pattern.read_text()
    assert text.startswith("# yaml-language-server: $schema=../../schema/pattern.schema.json")
    assert cases.read_text().startswith("# yaml-language-server: $schema=../../schema/cases")
    assert "{field: roles, has: resubmits_work, strict: true}" in text
    assert "layers: [runtime, safety]" in text
    # the example cases run as written: one fires, the near miss stays quiet
    code, out = run("kb", "--kb", str(pack), "test", "retry-vs-kill")
    assert code == 0, out
    assert "2 passed, 0 failed" in out
    # lint refuses what is left to fill in, naming the file and the place
    code, out = run("kb", "--kb", str(pack), "lint")
    assert code == 1
    assert "FAIL scaffold" in out
    assert f"{pattern} (summary)" in out and "sources[0].url" in out and f"{cases}" in out


def test_filled_in_the_scaffold_lints_clean(pack: Path) -> None:
    run("kb", "new", "retry-vs-kill", *FLAGS, *ROLES, "--into", str(pack))
    folder = pack / "patterns" / "incoherence"
    for name in ("retry-vs-kill.yaml", "retry-vs-kill.cases.yaml"):
        path = folder / name
        text = (
            path.read_text()
            .replace("<fill in: ", "")
            .replace("https://example.invalid/fill-in-the-source", "https://example.org/postmortem")
        )
        path.write_text(text)
    _code, out = run("kb", "--kb", str(pack), "lint", "--format", "json")
    scaffold = next(r for r in json.loads(out) if r["validator"] == "scaffold")
    assert scaffold["ok"] and not scaffold["problems"]


def test_new_never_writes_over_an_existing_file(pack: Path) -> None:
    folder = pack / "patterns" / "incoherence"
    folder.mkdir(parents=True)
    cases = folder / "retry-vs-kill.cases.yaml"
    cases.write_text("mine\n")
    code, out = run("kb", "new", "retry-vs-kill", *FLAGS, *ROLES, "--into", str(pack))
    assert code == 2
    assert "retry-vs-kill.cases.yaml: already exists" in out
    assert cases.read_text() == "mine\n"
    assert not (folder / "retry-vs-kill.yaml").exists()  # both files or neither


def test_new_asks_for_what_the_options_leave_out(pack: Path) -> None:
    code, out = run(
        "kb", "new", "gap-x", "--into", str(pack), input="auditability\nsafety\nstops_work\n"
    )
    assert code == 0, out
    assert "Kind" in out and "Layers" in out and "Roles" in out
    text = (pack / "patterns" / "auditability" / "gap-x.yaml").read_text()
    assert "kind: auditability" in text and "has: stops_work" in text
    assert "pair" not in text


def test_new_with_its_answers_running_out_exits_2_and_writes_nothing(pack: Path) -> None:
    """Piped answers that end early (or none, from /dev/null) are bad input, not a crash."""
    for given in ("", "auditability\n"):
        code, out = run("kb", "new", "gap-y", "--into", str(pack), input=given)
        assert code == 2, out
        assert "the input ended before every question was answered" in out
        assert "--role ..." in out and ("--kind" in out) == (given == "")
    assert not (pack / "patterns" / "auditability" / "gap-y.yaml").exists()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["Bad_Id", *FLAGS, *ROLES], "is not a pattern id"),
        (["x-y", "--kind", "incoherence", "--layer", "runtme", *ROLES], "did you mean 'runtime'"),
        (["x-y", *FLAGS, "--role", "retries"], "is not a role"),
        (["x-y", *FLAGS, *ROLES, "--role", "adds_capacity"], "3 roles given"),
        (["x-y", "--kind", "auditability", "--layer", "safety", *ROLES], "about one loop"),
    ],
)
def test_new_refuses_what_the_knowledge_base_would_not_accept(
    pack: Path, args: list[str], says: str
) -> None:
    code, out = run("kb", "new", *args, "--into", str(pack))
    assert code == 2
    assert says in out
    assert not (pack / "patterns").exists()


def test_kb_test_reminds_to_regenerate_the_goldens_when_the_count_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb = knowledge.load()
    builtin = sum(1 for p in kb.active() if kb.origins[p.id].pack == "built-in")
    golden = tmp_path / "tests" / "golden" / "llm-platform.json"
    golden.parent.mkdir(parents=True)
    monkeypatch.setattr(knowledge, "builtin_dir", lambda: tmp_path / "knowledge_base")
    golden.write_text(json.dumps({"knowledge_base": {"patterns": builtin - 1}}))
    text = golden_reminder(kb)
    assert text is not None
    assert f"has {builtin} patterns" in text and f"made with {builtin - 1}" in text
    assert "UPDATE_GOLDEN=1 uv run pytest tests/test_reports_golden.py" in text
    assert "uv run pytest tests/interview --snapshot-update" in text
    golden.write_text(json.dumps({"knowledge_base": {"patterns": builtin}}))
    assert golden_reminder(kb) is None
    golden.unlink()  # an installed copy has no goldens: nothing to say
    assert golden_reminder(kb) is None


def test_new_names_the_patterns_that_already_match_those_roles(pack: Path) -> None:
    # A knowledge engineer wrote a second shutdown-vs-retry without being told it existed.
    code, out = run("kb", "new", "retry-vs-kill", *FLAGS, *ROLES, "--into", str(pack))
    assert code == 0, out
    assert "patterns that already match loops in these roles:" in out
    assert "shutdown-vs-retry" in out


def test_new_without_into_refuses_an_installed_knowledge_base(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An installed copy has no project file beside it: a pattern written there would be
    # lost at the next upgrade.
    if not knowledge.builtin_is_source():  # run against an installed copy
        pytest.skip("the built-in knowledge base is an installed copy here")
    before = sorted(knowledge.builtin_dir().rglob("*"))
    monkeypatch.setattr(knowledge, "builtin_is_source", lambda: False)
    code, out = run("kb", "new", "retry-vs-kill", *FLAGS, *ROLES)
    assert code == 2, out
    assert "installed package's own knowledge base" in out
    assert "--into my-pack/" in out
    assert sorted(knowledge.builtin_dir().rglob("*")) == before
