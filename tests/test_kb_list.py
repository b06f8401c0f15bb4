"""`coherence kb list --summaries` lets someone judge an incident against the patterns from
what each says it finds, without learning how it matches (the incident corpus is translated
that way: tests/incidents/README.md)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from expert.cli.main import main
from expert.knowledge import knowledgebase as knowledge


def test_summaries_name_every_pattern_and_none_of_their_conditions() -> None:
    result = CliRunner().invoke(main, ["kb", "list", "--summaries"])
    assert result.exit_code == 0, result.output
    kb = knowledge.load()
    p = kb.patterns["shutdown-vs-retry"]
    assert p.title in result.output
    assert " ".join(p.summary.split()) in " ".join(result.output.split())
    # nothing of a match: no variable bindings, operators or field paths
    for syntax in ("matches ", "same_as", "has_any", "retry.retries_on", "{field:"):
        assert syntax not in result.output


def test_summaries_in_json() -> None:
    result = CliRunner().invoke(main, ["kb", "list", "--summaries", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert all(row["summary"] for row in rows)
