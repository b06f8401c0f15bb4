"""An organisation's pack (tests/packs/example-org) adds a pattern, overrides a built-in one by
id and switches one off, each with a recorded reason; all three take effect in loading,
assessing, case testing, linting and the `kb` commands, every report lists the overrides and
switch-offs with their reasons, and a pack stays data only (its links are web links)."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from expert.analysis.assess import Assessor
from expert.analysis.results import Results
from expert.assessment.model import Assessment
from expert.cli.main import main
from expert.errors import InputError
from expert.knowledge import knowledgebase as knowledge
from expert.knowledge.casetest import case_assessment, run_cases
from expert.knowledge.lint import lint
from expert.render.reports import render

PACK = Path(__file__).parent / "packs" / "example-org"
ADDED = "acme-maintenance-drain-vs-training"
OVERRIDDEN = "unknown-owner"
DISABLED = "hpa-vpa-same-metric"

BUILTIN = knowledge.load()
WITH_PACK = knowledge.load([PACK])


@pytest.fixture(scope="module")
def assessor() -> Iterator[Assessor]:
    with Assessor(WITH_PACK) as ax:
        yield ax


def _rules(ax: Assessor, kb: knowledge.KnowledgeBase, pattern_id: str, case: int = 0) -> set[str]:
    """Rules that fire on one of `pattern_id`'s example cases, assessed under `kb`."""
    source = BUILTIN.cases.get(pattern_id) or kb.cases[pattern_id]
    a = case_assessment(source.cases[case], kb, pattern_id)
    return {f.rule for f in ax.assess(a).findings}


# ------------------------------------------------------------------ adding


def test_the_pack_adds_its_pattern_and_question() -> None:
    assert ADDED not in BUILTIN.patterns
    assert WITH_PACK.origins[ADDED].pack == "example-org"
    assert "acme-pauses-for-training" in WITH_PACK.answer_fields()


def test_the_added_pattern_fires_on_its_case(assessor: Assessor) -> None:
    assert ADDED in _rules(assessor, WITH_PACK, ADDED)


# ------------------------------------------------------------------ overriding


def test_the_override_replaces_the_builtin_pattern_and_its_cases() -> None:
    builtin, override = BUILTIN.patterns[OVERRIDDEN], WITH_PACK.patterns[OVERRIDDEN]
    assert (builtin.severity, override.severity) == ("medium", "high")
    assert WITH_PACK.origins[OVERRIDDEN].path.startswith(str(PACK))
    assert WITH_PACK.cases[OVERRIDDEN] is not BUILTIN.cases[OVERRIDDEN]


def test_findings_use_the_override(assessor: Assessor) -> None:
    a = case_assessment(WITH_PACK.cases[OVERRIDDEN].cases[0], WITH_PACK, OVERRIDDEN)
    found = [f for f in assessor.assess(a).findings if f.rule == OVERRIDDEN]
    assert [f.severity for f in found] == ["high"]
    assert "CM-4" in found[0].narrative


# ------------------------------------------------------------------ switching off


def test_the_disabled_pattern_is_off_with_its_reason() -> None:
    assert DISABLED not in {p.id for p in WITH_PACK.active()}
    assert "recommend-only" in WITH_PACK.disabled[DISABLED]
    assert WITH_PACK.disabled[DISABLED].endswith("(example-org)")
    assert DISABLED in {p.id for p in BUILTIN.active()}


def test_the_disabled_pattern_no_longer_fires(assessor: Assessor) -> None:
    with Assessor(BUILTIN) as builtin_ax:
        assert DISABLED in _rules(builtin_ax, BUILTIN, DISABLED)
    assert DISABLED not in _rules(assessor, WITH_PACK, DISABLED)


# ------------------------------------------------------------------ tools honour the pack


def test_every_case_passes_with_the_pack(assessor: Assessor) -> None:
    results = run_cases(WITH_PACK, None, assessor)
    assert {r.pattern for r in results} >= {ADDED, OVERRIDDEN}
    assert DISABLED not in {r.pattern for r in results}
    assert [(r.pattern, r.case, r.detail) for r in results if not r.passed] == []


def test_lint_passes_with_the_pack_and_notes_the_override_and_the_switch_off() -> None:
    results = {r.name: r for r in lint([PACK])}
    assert [name for name, r in results.items() if not r.ok] == []
    assert any(OVERRIDDEN in note for note in results["unique-ids"].notes)
    assert any(DISABLED in note for note in results["load"].notes)


def test_kb_list_shows_origin_and_switch_off() -> None:
    result = CliRunner().invoke(main, ["kb", "--kb", str(PACK), "list", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {r["id"]: r for r in json.loads(result.output)}
    assert rows[ADDED]["pack"] == "example-org"
    assert rows[OVERRIDDEN]["pack"] == "example-org"
    assert "recommend-only" in rows[DISABLED]["disabled"]


def test_kb_test_command_runs_the_pack_cases() -> None:
    result = CliRunner().invoke(main, ["kb", "--kb", str(PACK), "test", ADDED])
    assert result.exit_code == 0, result.output
    assert "3 passed, 0 failed" in result.output


# ------------------------------------------------------------------ a pack is data only


def _copy_pack(tmp_path: Path) -> Path:
    target = tmp_path / "pack"
    shutil.copytree(PACK, target)
    return target


def test_disabling_an_unknown_pattern_is_refused(tmp_path: Path) -> None:
    pack = _copy_pack(tmp_path)
    (pack / "disabled.yaml").write_text('no-such-pattern: "typo"\n', encoding="utf-8")
    with pytest.raises(InputError, match="does not exist"):
        knowledge.load([pack])


def test_disabling_without_a_reason_is_refused(tmp_path: Path) -> None:
    pack = _copy_pack(tmp_path)
    (pack / "disabled.yaml").write_text(f'{DISABLED}: ""\n', encoding="utf-8")
    with pytest.raises(InputError, match="reason"):
        knowledge.load([pack])


def test_a_pack_cannot_smuggle_in_code(tmp_path: Path) -> None:
    pack = _copy_pack(tmp_path)
    evil = pack / "patterns" / f"{ADDED}.yaml"
    evil.write_text(
        "id: !!python/object/apply:os.system ['echo pwned > " + str(tmp_path / "x") + "']\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError):
        knowledge.load([pack])
    assert not (tmp_path / "x").exists()


def test_a_pack_cannot_replace_a_vocabulary_list(tmp_path: Path) -> None:
    pack = _copy_pack(tmp_path)
    (pack / "vocabulary.yaml").write_text('version: "x"\nlayers: [only-mine]\n', encoding="utf-8")
    with pytest.raises(InputError, match="cannot be replaced"):
        knowledge.load([pack])


def test_assess_reports_a_broken_pack_without_a_traceback(tmp_path: Path) -> None:
    pack = _copy_pack(tmp_path)
    (pack / "disabled.yaml").write_text("- not a mapping\n", encoding="utf-8")
    example = tmp_path / "platform.yaml"
    runner = CliRunner()
    assert runner.invoke(main, ["example", "llm-platform", "-o", str(example)]).exit_code == 0
    result = runner.invoke(main, ["assess", str(example), "--kb", str(pack)])
    assert result.exit_code == 2
    assert "disabled.yaml" in result.output and "Traceback" not in result.output


def test_pattern_ids_that_collide_in_the_engine_hash_are_refused(tmp_path: Path) -> None:
    # Two ids whose `rule:<id>` facts share a 32-bit FNV-1a hash: the engine would drop one
    # of them in stages 2 and 3, so compiling names both and says what to do.
    from expert.engine.compiler import compile_kb
    from expert.engine.ids import fnv1a32

    first, second = "pack-pattern-522789", "pack-pattern-739192"
    assert fnv1a32(f"rule:{first}") == fnv1a32(f"rule:{second}")
    pack = tmp_path / "colliding"
    (pack / "patterns").mkdir(parents=True)
    source = (PACK / "patterns" / f"{ADDED}.yaml").read_text(encoding="utf-8")
    cases = (PACK / "patterns" / f"{ADDED}.cases.yaml").read_text(encoding="utf-8")
    for pid in (first, second):
        (pack / "patterns" / f"{pid}.yaml").write_text(source.replace(ADDED, pid))
        (pack / "patterns" / f"{pid}.cases.yaml").write_text(cases.replace(ADDED, pid))
    shutil.copytree(PACK / "questions", pack / "questions")
    kb = knowledge.load([pack])
    with pytest.raises(InputError) as exc:
        compile_kb(kb)
    message = str(exc.value)
    assert first in message and second in message and "rename one" in message


# ------------------------------------------------------------------ overrides need a reason


def _without_reason(pack: Path) -> Path:
    path = pack / "patterns" / f"{OVERRIDDEN}.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("overrides:\n")
    end = text.index("\n", text.index("reason:", start)) + 1
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    return path


def test_overriding_a_builtin_pattern_without_a_reason_is_refused(tmp_path: Path) -> None:
    path = _without_reason(_copy_pack(tmp_path))
    with pytest.raises(InputError) as exc:
        knowledge.load([path.parent.parent])
    (problem,) = exc.value.problems
    assert problem.source == str(path) and problem.where == "overrides"
    assert "without a recorded reason" in problem.message and "built-in" in problem.message
    assert "overrides: {reason:" in (problem.fix or "")


def test_an_override_without_a_reason_fails_lint_and_assess_with_a_clear_message(
    tmp_path: Path,
) -> None:
    pack = _without_reason(_copy_pack(tmp_path)).parent.parent
    runner = CliRunner()
    result = runner.invoke(main, ["kb", "--kb", str(pack), "lint"])
    assert result.exit_code == 1 and "without a recorded reason" in result.output
    example = tmp_path / "platform.yaml"
    assert runner.invoke(main, ["example", "llm-platform", "-o", str(example)]).exit_code == 0
    result = runner.invoke(main, ["assess", str(example), "--kb", str(pack)])
    assert result.exit_code == 2 and "without a recorded reason" in result.output


@pytest.mark.parametrize("reason", ['""', '"   "'])
def test_a_blank_override_reason_is_refused(tmp_path: Path, reason: str) -> None:
    pack = _copy_pack(tmp_path)
    path = pack / "patterns" / f"{OVERRIDDEN}.yaml"
    text = path.read_text(encoding="utf-8")
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("reason:"))
    path.write_text(text.replace(line, f"  reason: {reason}"), encoding="utf-8")
    with pytest.raises(InputError, match="reason"):
        knowledge.load([pack])


def test_claiming_to_override_a_pattern_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    pack = _copy_pack(tmp_path)
    path = pack / "patterns" / f"{ADDED}.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(f"id: {ADDED}\n", f"id: {ADDED}\noverrides: {{reason: r}}\n"))
    with pytest.raises(InputError, match="no earlier pack defines it"):
        knowledge.load([pack])


def test_the_knowledge_base_records_every_override_and_switch_off_with_its_reason() -> None:
    changes = WITH_PACK.record()["changed_patterns"]
    assert changes == [
        {
            "pattern": DISABLED,
            "change": "disabled",
            "reason": WITH_PACK.disabled[DISABLED].removesuffix(" (example-org)"),
            "pack": "example-org",
            "replaces": "",
        },
        {
            "pattern": OVERRIDDEN,
            "change": "overridden",
            "reason": "Acme policy CM-4 requires a named owner for every automated control",
            "pack": "example-org",
            "replaces": "built-in",
        },
    ]
    assert BUILTIN.record()["changed_patterns"] == []


@pytest.fixture(scope="module")
def pack_results(assessor: Assessor) -> tuple[Results, Assessment]:
    a = case_assessment(WITH_PACK.cases[OVERRIDDEN].cases[0], WITH_PACK, OVERRIDDEN)
    results = assessor.assess(a)
    # What the assessor puts under `knowledge_base`: the knowledge base's own record.
    results = results.model_copy(update={"knowledge_base": WITH_PACK.record()})
    assert OVERRIDDEN in {f.rule for f in results.findings}
    return results, a


REASON_WORDS = ("policy CM-4", "PS-12")


@pytest.mark.parametrize("fmt", ["markdown", "html", "json", "sarif"])
def test_every_report_lists_overridden_and_disabled_patterns_with_reasons(
    pack_results: tuple[Results, Assessment], fmt: str
) -> None:
    text = render(fmt, *pack_results)
    for word in (OVERRIDDEN, DISABLED, "example-org", *REASON_WORDS):
        assert word in text, (fmt, word)
    if fmt in ("markdown", "html"):
        assert "overridden by example-org" in text and "disabled by example-org" in text


def test_json_and_sarif_carry_the_changes_in_stable_fields(
    pack_results: tuple[Results, Assessment],
) -> None:
    data = json.loads(render("json", *pack_results))
    changes = data["knowledge_base"]["changed_patterns"]
    assert {(c["pattern"], c["change"], c["pack"]) for c in changes} == {
        (OVERRIDDEN, "overridden", "example-org"),
        (DISABLED, "disabled", "example-org"),
    }
    driver = json.loads(render("sarif", *pack_results))["runs"][0]["tool"]["driver"]
    assert driver["properties"]["changedPatterns"] == changes
    rule = next(r for r in driver["rules"] if r["id"] == OVERRIDDEN)
    assert rule["properties"]["override"]["pack"] == "example-org"
    assert "CM-4" in rule["properties"]["override"]["reason"]


def test_csv_marks_findings_of_an_overridden_pattern(
    pack_results: tuple[Results, Assessment],
) -> None:
    rows = list(csv.DictReader(io.StringIO(render("csv", *pack_results))))
    marked = {r["rule"]: r["rule_override"] for r in rows}
    assert marked[OVERRIDDEN].startswith("overridden by example-org: Acme policy CM-4")
    assert all(v == "" for rule, v in marked.items() if rule != OVERRIDDEN)


def test_reports_of_an_unchanged_knowledge_base_list_no_changes(assessor: Assessor) -> None:
    a = case_assessment(WITH_PACK.cases[OVERRIDDEN].cases[0], WITH_PACK, OVERRIDDEN)
    results = assessor.assess(a).model_copy(update={"knowledge_base": BUILTIN.record()})
    assert "changed by knowledge-base packs" not in render("markdown", results, a)


# ------------------------------------------------------------------ source links are web links


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>x</script>",
        "file:///etc/passwd",
        "//example.org/no-scheme",
        "https://example.org/\x1b[2J",
        "https://example.org/\u202egpj.exe",
        'https://example.org/"onmouseover="x',
    ],
)
def test_a_source_url_that_is_not_http_is_refused_at_load(tmp_path: Path, url: str) -> None:
    pack = _copy_pack(tmp_path)
    path = pack / "patterns" / f"{ADDED}.yaml"
    text = path.read_text(encoding="utf-8")
    old = "url: https://github.com/run-house/kubetorch/pull/2052"
    assert old in text
    path.write_text(text.replace(old, f"url: {json.dumps(url)}"), encoding="utf-8")
    with pytest.raises(InputError) as exc:
        knowledge.load([pack])
    (problem,) = exc.value.problems
    assert problem.source == str(path) and "sources" in (problem.where or "")
    assert "is not a web address" in problem.message and "https://" in problem.message
    assert "\x1b" not in str(exc.value) and "\u202e" not in str(exc.value)


def test_a_huge_directory_given_as_a_pack_is_refused_early(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from expert.errors import InputError

    monkeypatch.setattr(knowledge, "MAX_KB_FILES", 10)
    for i in range(3):
        sub = tmp_path / f"d{i}"
        sub.mkdir()
        for j in range(5):
            (sub / f"f{j}.txt").write_text("x")
    with pytest.raises(InputError, match="more than 10 files and folders"):
        knowledge.check_pack_dir(tmp_path)


def _lint_problems(pack: Path, validator: str) -> list[str]:
    return [p.message for r in lint([pack]) if r.name == validator for p in r.problems]


def test_a_resource_question_may_be_asked_only_for_some_kinds(tmp_path: Path) -> None:
    """asked_when on a resource question tests the resource, as the interview does; a field
    resources do not have is refused."""
    pack = _copy_pack(tmp_path)
    questions = pack / "questions" / "resources.yaml"
    question = (
        "- id: acme-pool-drains\n  about: resource\n  field: synchronized\n"
        "  text: Does it drain?\n  help: Whether it drains.\n"
        "  asked_when: [{field: %s, in: [job, gpu_pool]}]\n"
    )
    questions.write_text(question % "kind", encoding="utf-8")
    assert _lint_problems(pack, "question-fields") == []
    questions.write_text(question % "triggers", encoding="utf-8")
    assert _lint_problems(pack, "question-fields")


def test_a_question_in_a_section_the_interview_does_not_have_is_refused(tmp_path: Path) -> None:
    pack = _copy_pack(tmp_path)
    questions = pack / "questions" / "resources.yaml"
    questions.write_text(
        "- id: acme-pool-drains\n  about: resource\n  field: synchronized\n"
        "  text: Does it drain?\n  help: Whether it drains.\n  section: gaurds\n",
        encoding="utf-8",
    )
    (schema,) = [r for r in lint([pack]) if r.name == "schema"]
    (problem,) = schema.problems
    assert (problem.source, problem.line) == (str(questions), 6)
    assert "no section 'gaurds'; use one of identity, dimensions," in problem.message


@pytest.mark.parametrize(
    ("pattern_id", "shown"),
    [
        # what it asks, what it folds and how it is tagged: a reviewer reads them in `kb show`
        ("preemption-outpaces-checkpointing", ["Asks, to settle it:", "(saves-before-interrupt)"]),
        (
            "preemption-outpaces-checkpointing",
            ["raised to critical where: res.checkpoint_interval"],
        ),
        ("preemption-outpaces-checkpointing", ["Tags: training, checkpoints, preemption"]),
        ("restart-backoff-penalises-kills", ["States more precisely", "shutdown-vs-retry"]),
        ("unknown-owner", ["an unknown answer is itself evidence"]),
        ("engineering-time-on-non-root-causes", ["Cost: engineer_hours, 2 stated assumptions"]),
        # an escalation on a declared comparison, in words, not its derived field
        ("pod-hold-outlasts-node-removal", ["raised to high where: its comparisons hold"]),
    ],
)
def test_kb_show_prints_every_part_of_a_pattern(pattern_id: str, shown: list[str]) -> None:
    result = CliRunner().invoke(main, ["kb", "show", pattern_id])
    assert result.exit_code == 0, result.output
    for text in shown:
        assert text in result.output
    assert "compare." not in result.output
