"""An organisation's pack reaches every deliverable: the inventory, the findings and the
executive summary are made against the run's knowledge base, never a built-in one reloaded
while rendering (the pack's own actuation labels would then be lost, or the run refused)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from expert.cli.main import main

PACK = Path(__file__).parent / "packs" / "example-delivery"
LABEL = "promote a canary to stable"  # a term the pack adds; the built-in vocabulary lacks it


def test_every_report_format_shows_the_packs_vocabulary(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    result = CliRunner().invoke(
        main, ["report", str(PACK / "platform.yaml"), "--kb", str(PACK), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads((out / "platform.json").read_text(encoding="utf-8"))
    loops = [lp for layer in data["inventory"]["layers"] for lp in layer["loops"]]
    (bot,) = [lp for lp in loops if lp["id"] == "release-bot"]
    assert LABEL in bot["actuations"]
    for name in ("platform.md", "platform.html"):
        assert LABEL in (out / name).read_text(encoding="utf-8"), name
    # The pack's pattern fired, so the findings came from the same knowledge base.
    ids = {f["rule"] for f in data["findings"]}
    assert "acme-promotion-behind-retries" in ids, sorted(ids)


def test_without_the_pack_the_same_file_is_refused_by_name(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["report", str(PACK / "platform.yaml"), "-o", str(tmp_path / "r")]
    )
    assert result.exit_code != 0
    assert "promote" in result.output
