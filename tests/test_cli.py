"""The `coherence` command line, end to end on the built-in examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from expert.cli.main import main

EXAMPLE = "expert/examples/llm-platform.yaml"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def llm_json() -> dict:
    code, out, _ = run("assess", "expert/examples/llm-platform.yaml", "--format", "json")
    assert code == 0
    return json.loads(out)


@pytest.fixture(scope="module")
def training_json() -> dict:
    code, out, _ = run("assess", "expert/examples/training-cluster.yaml", "--format", "json")
    assert code == 0
    return json.loads(out)


def test_help_says_what_each_command_does() -> None:
    code, out, _ = run("--help")
    assert code == 0
    for command in ("assess", "example", "report", "interview", "demo", "schema", "kb"):
        assert command in out
    for command in ("assess", "example", "report", "kb"):
        code, out, _ = run(command, "--help")
        assert code == 0 and "Usage" in out and len(out.splitlines()) > 4


def test_example_list_and_write(tmp_path: Path) -> None:
    code, out, _ = run("example", "--list")
    assert "llm-platform" in out and "training-cluster" in out
    target = tmp_path / "platform.yaml"
    code, _, err = run("example", "llm-platform", "-o", str(target))
    assert code == 0 and target.read_text().startswith("# An LLM inference platform")
    code, _, err = run("example", "llm-platfrom")
    assert code == 2 and "did you mean 'llm-platform'" in err


def test_json_has_the_stable_fields(llm_json: dict) -> None:
    assert llm_json["schema_version"] == 2
    assert llm_json["tool"]["name"] == "control-coherence"
    assert {"version", "patterns"} <= set(llm_json["knowledge_base"])
    assert llm_json["system"]["name"].startswith("LLM inference platform")
    finding = llm_json["findings"][0]
    for key in (
        "id",
        "rule",
        "kind",
        "title",
        "status",
        "severity",
        "loops",
        "because",
        "derived_from",
        "narrative",
        "would_clear_if",
    ):
        assert key in finding
    assert {"loop", "field", "value"} <= set(finding["because"][0])
    # Findings are what to act on; symptoms and ghost costs are their effects, listed apart.
    assert {f["kind"] for f in llm_json["findings"]} == {"incoherence", "auditability"}
    assert {f["kind"] for f in llm_json["effects"]} == {"symptom", "ghost-cost"}
    assert all(e["derived_from"] for e in llm_json["effects"])
    assert {"nodes", "edges", "cycles", "amplification_paths"} <= set(llm_json["risk_map"])
    assert {"source", "target", "signal", "kind"} <= set(llm_json["risk_map"]["edges"][0])
    assert {"id", "loop", "text"} <= set(llm_json["open_questions"][0])


def every(results: dict) -> list[dict]:
    """The findings and their effects."""
    return [*results["findings"], *results["effects"]]


def rules(results: dict, status: str | None = None) -> set[str]:
    return {f["rule"] for f in every(results) if status in (None, f["status"])}


def test_examples_fire_all_four_seed_patterns(llm_json: dict, training_json: dict) -> None:
    seed = {
        "shutdown-vs-retry",
        "throttling-vs-backfill",
        "load-shedding-vs-global-sync",
        "latency-vs-throughput",
    }
    assert seed <= rules(llm_json, "confirmed") | rules(training_json, "confirmed")
    for results in (llm_json, training_json):
        assert {
            "consumption-without-progress",
            "accelerator-time-without-progress",
            "decisions-without-reason",
        } <= rules(results)


def test_token_burn_only_where_inference_is_served(llm_json: dict, training_json: dict) -> None:
    assert "token-burn-without-delivery" in rules(llm_json)
    assert "token-burn-without-delivery" not in rules(training_json)


def test_findings_explain_themselves(llm_json: dict) -> None:
    by_id = {f["id"]: f for f in every(llm_json)}
    # Pairs of one pattern on one resource are grouped into one finding naming every loop.
    (f,) = [
        f
        for f in llm_json["findings"]
        if f["rule"] == "shutdown-vs-retry"
        and {"gateway-timeout", "sdk-retries"} <= set(f["loops"])
    ]
    assert f["status"] == "confirmed"
    assert "Gateway request timeout" in f["narrative"] and "Client SDK retries" in f["narrative"]
    retried = [b for b in f["because"] if b["field"] == "retry.retries_on"]
    assert [(b["loop"], b["value"], b["unknown"]) for b in retried] == [
        ("sdk-retries", "transient, timeout, rate_limited", False)
    ]
    # and in words, as reports show it: the question and the vocabulary's labels, no ids
    assert retried[0]["said"].startswith("Which failures does it retry?: transient errors")
    assert "rate_limited" not in retried[0]["said"]
    assert f["leads_to"], "an incoherence finding leads to its symptoms"
    symptom = by_id[f["leads_to"][0]]
    assert f["id"] in symptom["derived_from"]
    assert any(
        c.startswith("Client SDK retries told a deliberate stop") for c in f["would_clear_if"]
    )


def test_possible_findings_rest_on_unknown_answers_and_ask_for_them(training_json: dict) -> None:
    possible = [
        f
        for f in training_json["findings"]
        if f["status"] == "possible" and f["kind"] == "incoherence"
    ]
    assert possible
    for f in possible:
        assert any(b["unknown"] for b in f["because"])
    asked = {(q["id"], q["loop"]) for q in training_json["open_questions"]}
    assert ("backfill-sees-limits", "backfill-scheduler") in asked


def test_amplification_path_in_risk_map(llm_json: dict) -> None:
    (path,) = llm_json["risk_map"]["amplification_paths"]
    assert path["loops"] == ["sdk-retries", "gateway-retries"]
    assert (path["factor_low"], path["factor_high"]) == (9, 9)


def test_markdown_report_is_the_default(tmp_path: Path) -> None:
    code, out, _ = run("assess", "expert/examples/training-cluster.yaml")
    assert code == 0
    assert out.startswith("# Control-coherence assessment: Distributed training cluster")
    assert "Flagged because" in out


def test_fail_on_for_ci() -> None:
    code, _, err = run(
        "assess",
        "expert/examples/training-cluster.yaml",
        "--fail-on",
        "critical",
        "--format",
        "json",
    )
    assert code == 1 and "at or above critical" in err
    path = Path("tests/data/quiet.yaml")
    code, _, _ = run("assess", str(path), "--fail-on", "low", "--format", "json")
    assert code == 0


def test_bad_input_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\nsystem: {name: s}\nloops:\n  - {id: a, layer: sched}\n")
    out = tmp_path / "out.json"
    code, stdout, err = run("assess", str(bad), "--format", "json", "-o", str(out))
    assert code == 2
    assert not out.exists() and stdout == ""
    assert f"{bad}:4" in err and "unknown layer 'sched'" in err and "scheduler" in err
    assert "Traceback" not in err


def test_report_writes_every_format(tmp_path: Path) -> None:
    from expert.render.formats import EXTENSIONS, FORMATS

    code, _, _ = run("report", "expert/examples/llm-platform.yaml", "-o", str(tmp_path / "r"))
    assert code == 0
    for fmt in FORMATS:
        assert (tmp_path / "r" / f"llm-platform.{EXTENSIONS[fmt]}").stat().st_size > 100


def test_schema_command_prints_the_json_schema() -> None:
    code, out, _ = run("schema")
    assert code == 0 and json.loads(out)["title"] == "Control-coherence assessment"


def test_python_dash_m_expert_works() -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "expert", "--version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and "coherence" in proc.stdout


def test_the_command_line_builds_the_report_models_only_when_it_renders() -> None:
    """Starting the command line does not import the renderers (their models and templates
    take about 0.4 s to build), so --help, --version and a refused input answer at once."""
    import subprocess
    import sys

    code = "import sys, expert.cli.main; print('expert.render.reports' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"


def test_assess_imports_only_what_an_assessment_uses(tmp_path: Path) -> None:
    """`assess` without --baseline, on a file nobody disputes, leaves out the modules only
    other commands use: each is compiled from source at every start where bytecode is not
    written."""
    import subprocess
    import sys

    unused = ["expert.analysis.diff", "expert.assessment.respondents"]
    code = (
        "import sys\n"
        "from expert.cli.main import main\n"
        f"main(['assess', {EXAMPLE!r}, '-o', {str(tmp_path / 'r.md')!r}], standalone_mode=False)\n"
        f"print([m for m in {unused!r} if m in sys.modules])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "[]"


# Product setting names a narrative may quote as the user's configuration knows them.
_SETTING_NAMES = {"max_num_seqs", "max_num_batched_tokens"}


@pytest.mark.parametrize("example", ["llm_json", "training_json"])
def test_report_texts_are_plain_words(example: str, request: pytest.FixtureRequest) -> None:
    """What a reader of any report reads: no vocabulary ids, field names or conditions."""
    import re

    snake = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
    found = set()
    for f in every(request.getfixturevalue(example)):
        for text in [f["narrative"], f.get("severity_reason") or "", *f["would_clear_if"]]:
            ids = set(snake.findall(text)) - _SETTING_NAMES
            if ids or "`" in text or re.search(r"answers\.|retry\.|guards\.", text):
                found.add((f["rule"], text[:120]))
    assert not found, sorted(found)


@pytest.mark.parametrize(
    ("name", "opening"),
    [
        ("report.html", "<!DOCTYPE html>"),
        ("report.json", "{"),
        ("scan.sarif.json", '{\n  "$schema": "https://json.schemastore.org/sarif'),
        ("report.csv", "id,rule,kind,"),
        ("report.md", "# "),
        ("report.txt", "# "),  # a name that says nothing: markdown, the default
    ],
)
def test_the_output_files_extension_chooses_the_format(
    tmp_path: Path, name: str, opening: str
) -> None:
    """`-o report.html` wrote Markdown into a file a browser then showed as a wall of text."""
    out = tmp_path / name
    code, _out, err = run("assess", EXAMPLE, "-o", str(out))
    assert code == 0, err
    assert out.read_text(encoding="utf-8").startswith(opening), out.read_text()[:80]


def test_an_explicit_format_wins_over_the_extension(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    code, _out, err = run("assess", EXAMPLE, "-f", "json", "-o", str(out))
    assert code == 0, err
    json.loads(out.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("out/report.HTML", "html"),
        ("scan.sarif.json", "sarif"),
        ("results.json", "json"),
        ("dir.v2/report", None),  # a dot in a folder's name is no extension
        ("/dev/null", None),
        ("notes.txt", None),
    ],
)
def test_which_format_a_file_name_names(name: str, fmt: str | None) -> None:
    from expert.render.formats import format_for

    assert format_for(name) == fmt
