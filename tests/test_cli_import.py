"""`coherence import`: configuration to an assessment, end to end through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from expert.cli.main import main

CONFIGS = Path(__file__).resolve().parent.parent / "examples" / "configs" / "inference-platform"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("import") / "p.yaml"
    code, _, err = run("import", str(CONFIGS), "-o", str(target))
    assert code == 0, err
    return target


def test_import_then_assess_finds_the_platforms_conflicts(imported: Path) -> None:
    code, out, err = run("assess", str(imported), "--format", "json")
    assert code == 0, err
    found = {f["rule"] for f in json.loads(out)["findings"]}
    assert {"shutdown-vs-retry", "retry-multiplication-across-layers"} <= found


def test_import_without_output_prints_the_yaml(imported: Path) -> None:
    code, out, err = run("import", str(CONFIGS), "--name", "Inference")
    assert code == 0, err
    data = yaml.safe_load(out)
    assert data["system"]["name"] == "Inference"
    assert len(data["loops"]) == len(yaml.safe_load(imported.read_text())["loops"])


def test_merge_keeps_the_users_answers_and_lists_conflicts(imported: Path, tmp_path: Path) -> None:
    mine = yaml.safe_load(imported.read_text())
    mine["system"]["name"] = "Our platform"
    first, second = mine["loops"][0], mine["loops"][1]
    assert first.get("timescale") not in (None, "unknown", "13m")
    given_second = second.get("timescale")
    first["timescale"] = "13m"  # the user's answer, different from the configuration
    second["timescale"] = "unknown"  # not answered: the import may fill it
    removed = mine["loops"].pop()  # configuration adds it back
    user = tmp_path / "mine.yaml"
    user.write_text(yaml.safe_dump(mine, sort_keys=False))
    out = tmp_path / "merged.yaml"
    code, _, err = run("import", str(CONFIGS), "--merge", str(user), "-o", str(out))
    assert code == 0, err
    merged = yaml.safe_load(out.read_text())
    loops = {lp["id"]: lp for lp in merged["loops"]}
    assert merged["system"]["name"] == "Our platform"
    assert loops[first["id"]]["timescale"] == "13m"
    assert loops[second["id"]]["timescale"] == given_second
    assert removed["id"] in loops
    assert f"conflict: loop {first['id']} timescale" in err and "13m" in err
    assert yaml.safe_load(user.read_text()) == mine  # the user's file is not touched


def test_merge_into_the_users_file_needs_force(imported: Path, tmp_path: Path) -> None:
    user = tmp_path / "mine.yaml"
    user.write_text(imported.read_text())
    code, _, err = run("import", str(CONFIGS), "--merge", str(user), "-o", str(user))
    assert code == 2 and "mine.yaml" in err
    assert user.read_text() == imported.read_text()


def test_unrendered_helm_template_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "chart"
    src.mkdir()
    (src / "deploy.yaml").write_text("kind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n")
    out = tmp_path / "p.yaml"
    code, stdout, err = run("import", str(src), "-o", str(out))
    assert code == 2
    assert "deploy.yaml" in err and "Traceback" not in err
    assert not out.exists() and stdout == ""


def test_skipped_kinds_are_reported_on_stderr(tmp_path: Path) -> None:
    (tmp_path / "cm.yaml").write_text(
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "odd\\e[31m"\n'
    )
    for name in CONFIGS.iterdir():
        (tmp_path / name.name).write_text(name.read_text())
    code, out, err = run("import", str(tmp_path))
    assert code == 0, err
    assert "skipped:" in err and "ConfigMap" in err and "\x1b" not in err
    assert "\x1b" not in out


def test_merge_keeps_the_users_does_not_apply(imported: Path, tmp_path: Path) -> None:
    mine = yaml.safe_load(imported.read_text())
    loop = next(lp for lp in mine["loops"] if lp.get("deadline") not in (None, "unknown"))
    del loop["deadline"]
    loop["not_applicable"] = ["deadline"]  # the user says it has none; configuration has one
    user = tmp_path / "mine.yaml"
    user.write_text(yaml.safe_dump(mine, sort_keys=False))
    out = tmp_path / "merged.yaml"
    code, _, err = run("import", str(CONFIGS), "--merge", str(user), "-o", str(out))
    assert code == 0, err
    merged = next(lp for lp in yaml.safe_load(out.read_text())["loops"] if lp["id"] == loop["id"])
    assert merged["not_applicable"] == ["deadline"] and "deadline" not in merged
    assert f"loop {loop['id']} deadline: kept your 'does not apply'" in err


def test_importing_nothing_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    """An empty folder, or one holding only objects no import reads, has nothing to assess:
    it says so instead of writing an assessment of nothing."""
    empty = tmp_path / "empty"
    empty.mkdir()
    other = tmp_path / "other"
    other.mkdir()
    (other / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    for folder, says in ((empty, "no configuration file"), (other, "none of the 1")):
        out = tmp_path / f"{folder.name}.yaml"
        result = CliRunner().invoke(main, ["import", str(folder), "-o", str(out)])
        assert result.exit_code == 2, result.output
        assert says in result.stderr and "nothing was written" in result.stderr
        assert not out.exists()


def test_example_with_an_output_but_no_name_exits_2(tmp_path: Path) -> None:
    out = tmp_path / "new.yaml"
    result = CliRunner().invoke(main, ["example", "-o", str(out)])
    assert result.exit_code == 2
    assert "no example was named" in result.stderr and "llm-platform" in result.stderr
    assert not out.exists()


def test_an_imported_value_the_assessment_refuses_is_placed_in_its_configuration(
    tmp_path: Path,
) -> None:
    """A value a manifest gives that no assessment accepts (a scale-down window of three
    thousand years) is reported at the manifest's file and line, not at the assessment
    the import was building."""
    config = tmp_path / "hpa"
    config.mkdir()
    (config / "hpa.yaml").write_text(
        "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\n"
        "spec:\n  scaleTargetRef: {kind: Deployment, name: d}\n  maxReplicas: 3\n"
        "  behavior: {scaleDown: {stabilizationWindowSeconds: 99999999999}}\n"
    )
    out = tmp_path / "h.yaml"
    result = CliRunner().invoke(main, ["import", str(config), "-o", str(out)])
    assert result.exit_code == 2
    assert "hpa.yaml:7" in result.stderr and "imported as timescale of h-hpa" in result.stderr
    assert "the imported assessment" not in result.stderr
    assert not out.exists()
