"""Imported values carry their source into the assessment: `sources:` on loops and resources,
written by `coherence import`, kept to the fields an import filled by `--merge`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from expert.assessment import model as assessment
from expert.assessment.provenance import MAX_CITATION, cite, parse
from expert.cli.main import main
from expert.errors import InputError
from tests.helpers import builtin_kb
from tests.importers.helpers import loop, run, source

CONFIGS = Path(__file__).resolve().parent.parent / "examples" / "configs" / "inference-platform"

ROUTE = """
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: chat, namespace: inference}
    spec:
      hosts: [chat.inference.svc.cluster.local]
      http:
        - route:
            - destination: {host: chat.inference.svc.cluster.local}
          timeout: 20s
"""


def test_each_imported_field_cites_its_file_and_line(tmp_path: Path) -> None:
    result = run(tmp_path, {"vs.yaml": ROUTE})
    timeout = loop(result, "chat-timeout")
    written = parse(timeout["sources"]["deadline"])
    prov = source(result, "chat-timeout", "deadline")
    assert (written.file, written.line) == (prov.file, prov.line) and prov.line == 9
    assert written.file.endswith("vs.yaml") and not written.default
    # the name is the import's own label, not a value read from the file
    assert "name" not in timeout["sources"]


def test_an_upstream_default_is_cited_as_a_default(tmp_path: Path) -> None:
    result = run(tmp_path, {"vs.yaml": ROUTE})  # no retries block: Istio retries twice
    retries = loop(result, "chat-retries")
    cited = parse(retries["sources"]["retry.max_retries"])
    assert cited.default and cited.note == "Istio default 2"
    assert cited.file.endswith("vs.yaml")


def test_files_under_the_working_directory_are_cited_relative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(tmp_path, {"mesh/vs.yaml": ROUTE})
    assert loop(result, "chat-timeout")["sources"]["deadline"] == "mesh/vs.yaml:9"


def test_cite_keeps_within_the_format_and_reads_back() -> None:
    assert parse(cite("a/hpa.yaml", 14)) == parse("a/hpa.yaml:14")
    assert parse("vs.yaml:9 (Istio default 2)").line == 9
    assert parse("slurm.conf").line is None
    hostile = cite("x\u202e" + "d/" * 400 + "hpa.yaml", 14, "default")
    assert len(hostile) <= MAX_CITATION and hostile.endswith("hpa.yaml:14 (default)")
    assert "\u202e" not in cite("x\u202ey.yaml", 1)


@pytest.mark.parametrize(
    "value", ["x" * (MAX_CITATION + 1), "hpa.yaml:14\u202e", "a\x1b[2Jb.yaml:3"]
)
def test_the_format_refuses_long_or_control_character_sources(value: str) -> None:
    data = {
        "schema_version": 1,
        "system": {"name": "s"},
        "loops": [{"id": "a", "deadline": "5s", "sources": {"deadline": value}}],
    }
    with pytest.raises(InputError) as exc:
        assessment.validate(data, builtin_kb().vocabulary)
    assert "sources" in str(exc.value)


def test_merge_cites_only_the_fields_it_filled(tmp_path: Path) -> None:
    imported = tmp_path / "p.yaml"
    cli = CliRunner()
    done = cli.invoke(main, ["import", str(CONFIGS), "-o", str(imported)])
    assert done.exit_code == 0, done.stderr
    mine = yaml.safe_load(imported.read_text())
    timeout = next(lp for lp in mine["loops"] if lp["id"] == "chat-api-timeout")
    # the user's own loop, typed by hand: a deadline of their own, no timescale, no sources
    timeout.pop("sources")
    timeout["deadline"] = "45s"
    timeout["timescale"] = "unknown"
    user = tmp_path / "mine.yaml"
    user.write_text(yaml.safe_dump(mine, sort_keys=False))
    out = tmp_path / "merged.yaml"
    done = cli.invoke(main, ["import", str(CONFIGS), "--merge", str(user), "-o", str(out)])
    assert done.exit_code == 0, done.stderr
    merged = next(
        lp for lp in yaml.safe_load(out.read_text())["loops"] if lp["id"] == "chat-api-timeout"
    )
    assert merged["deadline"] == "45s" and "deadline" not in merged["sources"]
    assert merged["timescale"] == "1m"
    assert parse(merged["sources"]["timescale"]).file.endswith("gateway.yaml")
    assert set(merged["sources"]) == {"timescale"}
