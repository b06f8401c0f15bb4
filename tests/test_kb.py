"""The built-in knowledge base keeps its promises: it lints clean, every pattern's example
cases pass (one test per pattern, so a failure names it), the committed JSON Schemas are the
generated ones and accept every file, the catalogue covers what it claims to cover, and the
linter actually catches each kind of mistake it names."""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from expert.analysis.assess import Assessor
from expert.cli.main import main
from expert.knowledge import knowledgebase as knowledge
from expert.knowledge import schema as kbschema
from expert.knowledge.casetest import run_cases
from expert.knowledge.lint import VALIDATORS, lint

KB = knowledge.load()
BUILTIN = knowledge.builtin_dir()
SCHEMA_DIR = BUILTIN / "schema"
LAYERS = ["scheduler", "orchestration", "runtime", "model", "safety"]


@pytest.fixture(scope="module")
def assessor() -> Iterator[Assessor]:
    # One engine process for every case of the module (~10 ms per case).
    with Assessor(KB) as ax:
        yield ax


# ------------------------------------------------------------------ lint and cases


def test_lint_passes_on_the_builtin_knowledge_base() -> None:
    results = lint()
    assert [r.name for r in results] == list(VALIDATORS)
    failing = {r.name: [str(p) for p in r.problems] or r.skipped for r in results if not r.ok}
    assert failing == {}


@pytest.mark.parametrize("pattern_id", sorted(KB.patterns))
def test_every_case_of_the_pattern_passes(pattern_id: str, assessor: Assessor) -> None:
    results = run_cases(KB, [pattern_id], assessor)
    assert results, f"{pattern_id} has no example cases"
    failed = {r.case: r.detail for r in results if not r.passed}
    assert failed == {}


@pytest.mark.parametrize("pattern_id", sorted(KB.patterns))
def test_every_pattern_has_a_firing_and_a_quiet_case(pattern_id: str) -> None:
    cases = KB.cases[pattern_id].cases
    assert any(c.expect == "fires" for c in cases)
    assert any(c.expect == "quiet" for c in cases)


# Patterns that match on what loops do (roles) rather than on one actuation word.
ROLE_PATTERNS = sorted(
    pid
    for pid, p in KB.patterns.items()
    if any(t.field in ("roles", "roles_here") for fm in p.match.values() for t in fm.where)
)
# Patterns rewritten from actuation words to roles: each shows the role at work.
REWRITTEN_ON_ROLES = [
    "collective-timeout-vs-checkpoint",
    "disruptions-counted-as-failures",
    "drain-vs-gang-job",
    "grace-period-shorter-than-checkpoint",
    "health-automation-removes-capacity",
    "least-request-black-hole",
    "load-shedding-vs-global-sync",
    "metastable-retry-feedback",
    "pdb-blocks-drain",
    "preemption-outpaces-checkpointing",
    "priority-preemption-cascade",
    "restart-backoff-penalises-kills",
    "scaling-consumes-restart-budget",
    "shedding-fails-health-checks",
    "shutdown-vs-retry",
    "synchronised-backoff-without-jitter",
]


@pytest.mark.parametrize("pattern_id", REWRITTEN_ON_ROLES)
def test_a_pattern_on_roles_fires_for_other_members_of_the_role(pattern_id: str) -> None:
    """Its cases show the role at work through words other than the original example's
    (cases named "role - ..."), and at least one near miss for a loop outside the role."""
    cases = KB.cases[pattern_id].cases
    assert any(c.expect == "fires" and c.name.startswith("role - ") for c in cases)
    assert any(c.expect == "quiet" for c in cases)


def test_the_mechanisms_named_by_the_issue_match_on_roles() -> None:
    assert {
        "shutdown-vs-retry",
        "load-shedding-vs-global-sync",
        "synchronised-backoff-without-jitter",
        "drain-vs-gang-job",
        "restart-backoff-penalises-kills",
        "disruptions-counted-as-failures",
        "health-automation-removes-capacity",
        "metastable-retry-feedback",
    } <= set(ROLE_PATTERNS)
    assert set(REWRITTEN_ON_ROLES) <= set(ROLE_PATTERNS)


# ------------------------------------------------------------------ schemas


def test_committed_schemas_equal_the_generated_ones() -> None:
    assert kbschema.stale(SCHEMA_DIR) == []


def _kb_yaml_files() -> list[Path]:
    subs = ("patterns", "questions", "templates")
    return [
        *sorted(p for sub in subs for p in (BUILTIN / sub).rglob("*.yaml")),
        BUILTIN / "vocabulary.yaml",
    ]


@pytest.mark.parametrize("path", _kb_yaml_files(), ids=lambda p: str(p.relative_to(BUILTIN)))
def test_every_file_names_its_schema_and_validates_against_it(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(kbschema.MODELINE_PREFIX)
    schema_path = (path.parent / first[len(kbschema.MODELINE_PREFIX) :].strip()).resolve()
    assert schema_path.parent == SCHEMA_DIR.resolve()
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    _validator(schema_path).validate(data)


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C parser when present


@functools.cache
def _validator(schema_path: Path) -> jsonschema.protocols.Validator:
    # One compiled validator per schema: building it is most of the cost of validating.
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def test_the_schema_rejects_a_misspelt_pattern_field() -> None:
    schema = json.loads((SCHEMA_DIR / "pattern.schema.json").read_text(encoding="utf-8"))
    data = yaml.safe_load((BUILTIN / "patterns/incoherence/timeout-inversion.yaml").read_text())
    data["sevrity"] = data.pop("severity")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)


# ------------------------------------------------------------------ coverage

# Each mechanism the knowledge base must cover, the pattern that covers it, and the derived
# fact (and field) that pattern must reason over.
MECHANISMS = {
    "retry-multiplication-across-layers": ("amplification", "factor"),
    "timeout-inversion": ("nesting", "inverted"),
    "cancellation-not-propagated": ("loop", "propagates_cancellation"),
    "liveness-kills-slow-start": ("acts", "deadline_vs_startup"),
    "hpa-vpa-same-metric": ("pair", "common"),
    "two-scalers-one-signal": ("pair", "common"),
    "autoscale-on-distorted-metric": ("edge", "signal"),
    "preemption-outpaces-checkpointing": ("resource", "interrupted_every"),
    "drain-vs-gang-job": ("resource", "synchronized"),
    "circuit-breaker-vs-retries": ("loop", "retry.retries_on"),
    "synchronised-backoff-without-jitter": ("loop", "retry.jitter"),
    "kv-cache-preemption-thrash": ("loop", "answers.admits-on-current-memory"),
    "admission-hides-demand": ("loop", "answers.metric-sees-rejected"),
    "priority-preemption-cascade": ("loop", "answers.priority-levels"),
    "descheduler-vs-scheduler": ("loop", "answers.checks-placement"),
    "disruptions-counted-as-failures": ("loop", "answers.counts-disruptions"),
    "collective-timeout-vs-checkpoint": ("acts", "deadline_vs_checkpoint_duration"),
    "power-cap-vs-scheduler-model": ("loop", "answers.sees-node-slowdown"),
    "health-automation-removes-capacity": ("loop", "answers.caps-removal"),
    "metastable-retry-feedback": ("loop", "retry.retries_on"),
    "shedding-fails-health-checks": ("loop", "answers.counts-rejections-as-failures"),
    "timescale-proximity-oscillation": ("pair", "timescale_ratio"),
    "timeout-shorter-than-startup": ("acts", "deadline_vs_startup"),
    "decisions-without-reason": ("loop", "decision_record"),
    "no-correlation-between-loops": ("edge", "signal"),
    "unknown-owner": ("loop", "owner"),
    "unknown-timescale": ("loop", "timescale"),
    "loop-nobody-could-describe": ("loop", "objective"),
}


@pytest.mark.parametrize("pattern_id", sorted(MECHANISMS))
def test_each_required_mechanism_has_its_own_pattern(pattern_id: str) -> None:
    p = KB.patterns[pattern_id]
    kind, field = MECHANISMS[pattern_id]
    read = {(fm.fact, t.field) for fm in p.match.values() for t in fm.where}
    # and every field a declared comparison reads
    read |= {(p.match[var].fact, name) for c in p.compare for var, name, _bound in c.refs()}
    assert (kind, field) in read
    assert p.kind in ("incoherence", "auditability")


def test_the_catalogue_has_at_least_40_patterns_beyond_the_foundation() -> None:
    assert len(KB.patterns) >= 14 + 40


@pytest.mark.parametrize("kind", ["incoherence", "symptom", "ghost-cost", "auditability"])
def test_every_stage_has_new_patterns(kind: str) -> None:
    assert sum(p.kind == kind for p in KB.patterns.values()) >= 4


@pytest.mark.parametrize("pair", list(itertools.combinations(LAYERS, 2)), ids="-".join)
def test_every_pair_of_layers_is_covered(pair: tuple[str, str]) -> None:
    covering = [
        p.id for p in KB.patterns.values() if p.kind == "incoherence" and set(pair) <= set(p.layers)
    ]
    assert covering, f"no incoherence pattern spans {pair}"


def test_every_pattern_cites_a_web_source() -> None:
    assert all(
        p.sources and all(s.url.startswith(("https://", "http://")) for s in p.sources)
        for p in KB.patterns.values()
    )


@pytest.mark.parametrize(
    "product",
    [
        "kubernetes-hpa",
        "kubernetes-vpa",
        "cluster-autoscaler",
        "pod-disruption-budget",
        "liveness-probe",
        "readiness-probe",
        "kueue-admission",
        "slurm-preemption",
        "slurm-backfill",
        "ray-serve-autoscaler",
        "vllm-scheduler",
        "triton-dynamic-batching",
        "envoy-istio-retries",
        "envoy-route-timeout",
        "envoy-outlier-detection",
        "envoy-circuit-breaking",
        "api-gateway-rate-limit",
        "client-sdk-retries",
        "nccl-watchdog",
        "checkpoint-manager",
        "nvsentinel-gpu-remediation",
        "gke-node-auto-repair",
    ],
)
def test_the_common_loops_have_templates(product: str) -> None:
    t = KB.templates[product]
    assert t.loop.get("layer") in LAYERS and t.loop.get("actuations")
    assert any("http" in note for note in t.notes), "cite where the defaults come from"


# ------------------------------------------------------------------ the linter catches mistakes

MODELINE = kbschema.MODELINE_PREFIX + str(SCHEMA_DIR / "{}")


def _write(path: Path, text: str, schema: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(MODELINE.format(schema) + "\n" + text, encoding="utf-8")


GOOD_PATTERN = """\
id: {id}
kind: incoherence
title: A test pattern
summary: Two test loops.
mechanism: Test.
layers: [runtime]
severity: low
match:
  loop:
    fact: loop
    where:
      - {{field: actuations, has: retry, strict: true}}
      - {{field: instances, in: [per_client], strict: true}}
narrative: "{{loop.name}} retries."
feeds: [retry-amplification]
sources: [{{title: a source, url: "https://example.org/a"}}]
"""
GOOD_CASES = """\
pattern: {id}
cases:
  - name: fires
    expect: fires
    assessment:
      system: {{name: case}}
      loops: [{{id: a, actuations: [retry], instances: per_client}}]
  - name: quiet
    expect: quiet
    assessment:
      system: {{name: case}}
      loops: [{{id: a, actuations: [retry], instances: once}}]
"""


def _add_pattern(root: Path, pid: str) -> None:
    _write(root / "patterns" / f"{pid}.yaml", GOOD_PATTERN.format(id=pid), "pattern.schema.json")
    _write(root / "patterns" / f"{pid}.cases.yaml", GOOD_CASES.format(id=pid), "cases.schema.json")


def _edit(root: Path, name: str, old: str, new: str) -> None:
    path = root / "patterns" / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def _question(root: Path, name: str, body: str) -> None:
    _write(root / "questions" / f"{name}.yaml", body, "questions.schema.json")


# Each breakage plants one mistake in its own file (named after the validator that must
# catch it), so one lint run checks them all; breakages before `load` stop the later
# validators, so they get a pack of their own.
BEFORE_LOAD: dict[str, Callable[[Path], None]] = {
    "schema": lambda r: _edit(r, "t-schema.yaml", "severity: low", "severity: huge"),
    "modeline": lambda r: _edit(r, "t-modeline.yaml", "pattern.schema.json", "cases.schema.json"),
    "unique-ids": lambda r: _edit(r, "t-unique-ids.yaml", "id: t-unique-ids", "id: t-unique-idz"),
}
AFTER_LOAD: dict[str, Callable[[Path], None]] = {
    "vocabulary": lambda r: _edit(r, "t-vocabulary.yaml", "has: retry,", "has: retrry,"),
    "sources": lambda r: _edit(
        r, "t-sources.yaml", '[{title: a source, url: "https://example.org/a"}]', "[]"
    ),
    "cases": lambda r: _edit(r, "t-cases.cases.yaml", "expect: quiet", "expect: fires"),
    "questions-feed-rules": lambda r: _question(
        r,
        "t-questions-feed-rules",
        "- id: t-unused\n  about: loop\n  answer: yesno\n  text: Unused\n  help: Unread.\n",
    ),
    "question-fields": lambda r: _question(
        r,
        "t-question-fields",
        "- id: t-colour\n  about: system\n  field: colour\n  text: Colour\n  help: None.\n",
    ),
    "question-labels": lambda r: _question(
        r,
        "t-question-labels",
        "- id: t-unlabelled\n  about: loop\n  answer: yesno\n  text: Is it so?\n  help: H.\n",
    ),
    "reachable": lambda r: _write(
        r / "patterns" / "t-reachable.yaml",
        "id: t-reachable\nkind: symptom\ntitle: t\nsummary: s\nmechanism: m\nseverity: low\n"
        "narrative: '{loops}'\nsources: [{title: s, url: 'https://example.org/s'}]\n",
        "pattern.schema.json",
    ),
    "feeds-forward": lambda r: _edit(
        r, "t-feeds-forward.yaml", "[retry-amplification]", "[shutdown-vs-retry]"
    ),
    "placeholders": lambda r: _edit(r, "t-placeholders.yaml", "{loop.name}", "{other.name}"),
    "clears-as-commands": lambda r: _edit(
        r,
        "t-clears-as-commands.yaml",
        "feeds:",
        'clears: ["the deadline, which was too short, was raised"]\nfeeds:',
    ),
    "asks": lambda r: _edit(
        r, "t-asks.yaml", "feeds:", "asks: [{question: no-such-question, about: loop}]\nfeeds:"
    ),
    "costs": lambda r: _edit(
        r,
        "t-costs.yaml",
        "feeds:",
        "cost: {computation: tokens, parameters: {low: 0.1, likely: 0.2, high: 0.3}}\nfeeds:",
    ),
    "scaffold": lambda r: _edit(
        r, "t-scaffold.yaml", 'narrative: "{loop.name}', 'narrative: "<fill in: {loop.name}'
    ),
    "templates": lambda r: _write(
        r / "templates" / "t-templates.yaml",
        "- {id: t-tpl, title: T, description: D, loop: {layer: nowhere}, notes: [n]}\n",
        "templates.schema.json",
    ),
}


def _broken_pack(root: Path, breakages: dict[str, Callable[[Path], None]]) -> dict[str, Any]:
    for name in breakages:
        _add_pattern(root, f"t-{name}")
    for breakage in breakages.values():
        breakage(root)
    return {r.name: r for r in lint([root])}


@pytest.fixture(scope="module")
def linted_before_load(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _broken_pack(tmp_path_factory.mktemp("before"), BEFORE_LOAD)


@pytest.fixture(scope="module")
def linted_after_load(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _broken_pack(tmp_path_factory.mktemp("after"), AFTER_LOAD)


def test_lint_refuses_a_source_link_that_is_not_a_web_address(tmp_path: Path) -> None:
    _add_pattern(tmp_path, "t-url")
    _edit(tmp_path, "t-url.yaml", "https://example.org/a", "javascript:alert(1)")
    results = {r.name: r for r in lint([tmp_path])}
    (problem,) = results["schema"].problems
    assert problem.source.endswith("t-url.yaml") and "is not a web address" in problem.message


def test_lint_asks_each_answer_question_for_a_label(tmp_path: Path) -> None:
    # Tables and lists name an answer by its label; without one they show the whole question.
    _add_pattern(tmp_path, "t-one")
    question = "- id: t-{}\n  about: loop\n  answer: yesno\n  text: Is it so?\n  help: H.\n"
    _question(
        tmp_path,
        "answers",
        question.format("unlabelled") + question.format("labelled") + "  label: it is so\n",
    )
    results = {r.name: r for r in lint([tmp_path])}
    (problem,) = results["question-labels"].problems
    assert problem.source.endswith("answers.yaml")
    assert problem.where == "question t-unlabelled"
    assert "no short label" in problem.message and "`label:`" in problem.fix


def test_every_answer_question_of_the_builtin_kb_has_a_short_label() -> None:
    kb = knowledge.load([])
    answers = [q for q in kb.questions.values() if q.answer is not None]
    assert answers
    for q in answers:
        assert q.label[:1].islower() and not q.label.endswith("?"), q.id
        assert len(q.label.split()) <= 6, q.label


def test_a_clean_pack_lints_clean(tmp_path: Path) -> None:
    _add_pattern(tmp_path, "t-one")
    assert [r.name for r in lint([tmp_path]) if not r.ok] == []


@pytest.mark.parametrize("validator", sorted(BEFORE_LOAD))
def test_lint_catches_file_mistakes(validator: str, linted_before_load: dict[str, Any]) -> None:
    sources = [p.source for p in linted_before_load[validator].problems]
    assert any(f"t-{validator}." in s for s in sources), sources
    assert linted_before_load["vocabulary"].skipped  # later validators wait for the fix


@pytest.mark.parametrize("validator", sorted(AFTER_LOAD))
def test_lint_catches_knowledge_mistakes(validator: str, linted_after_load: dict[str, Any]) -> None:
    sources = [p.source for p in linted_after_load[validator].problems]
    assert any(f"t-{validator}." in s for s in sources), sources


def test_no_validator_is_left_untested() -> None:
    assert set(BEFORE_LOAD) | set(AFTER_LOAD) | {"load", "compile"} == set(VALIDATORS)


# ------------------------------------------------------------------ commands


def test_kb_lint_command_exits_zero_on_the_builtin_kb() -> None:
    result = CliRunner().invoke(main, ["kb", "lint"])
    assert result.exit_code == 0, result.output
    assert "19 validators passed, 0 failed" in result.output


def test_kb_lint_command_fails_on_a_broken_pack(tmp_path: Path) -> None:
    _add_pattern(tmp_path, "t-vocabulary")
    AFTER_LOAD["vocabulary"](tmp_path)
    result = CliRunner().invoke(main, ["kb", "--kb", str(tmp_path), "lint", "-f", "json"])
    assert result.exit_code == 1
    report = {r["validator"]: r for r in json.loads(result.output)}
    assert "retrry" in report["vocabulary"]["problems"][0]["message"]
    assert "Traceback" not in result.output


def test_kb_schema_writes_the_schemas_and_check_detects_drift(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["kb", "schema", str(tmp_path)]).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kbschema.SCHEMA_FILES.values())
    assert kbschema.stale(tmp_path) == []
    assert runner.invoke(main, ["kb", "schema", "--check", str(tmp_path)]).exit_code == 0
    (tmp_path / "pattern.schema.json").write_text("{}\n", encoding="utf-8")
    drift = runner.invoke(main, ["kb", "schema", "--check", str(tmp_path)])
    assert drift.exit_code == 1 and "pattern.schema.json" in drift.output


def test_kb_schema_refuses_a_file_as_directory(tmp_path: Path) -> None:
    target = tmp_path / "not-a-dir"
    target.write_text("x", encoding="utf-8")
    result = CliRunner().invoke(main, ["kb", "schema", str(target)])
    assert result.exit_code == 2
    assert "is not a directory" in result.output
