"""Editing a hand-written YAML file in place: a change of values only is rewritten where the
values are written (yamledit.spliced), anything else is left to the round-trip Document."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from expert import yamledit
from expert.yamlio import parse_yaml_text

# Comments, blank lines and mixed quoting, as a person writes a file.
TEXT = (Path(__file__).parent / "data" / "hand-written.yaml").read_text(encoding="utf-8")
BASE, _LINES = parse_yaml_text(TEXT, "t")


def changed(**where: Any) -> dict[str, Any]:
    """BASE with values replaced, each given as path=value, the path's parts split by '__'."""
    new = copy.deepcopy(BASE)
    for dotted, value in where.items():
        *parents, last = [int(p) if p.isdigit() else p for p in dotted.split("__")]
        node = new
        for part in parents:
            node = node[part]
        node[last] = value
    return new


def test_changed_values_are_rewritten_where_they_are_written() -> None:
    new = changed(
        loops__0__timescale="30s",
        system__name="Chat API",
        system__description="it's ours",
        loops__1__name="yes",
    )
    out = yamledit.spliced(TEXT, BASE, new, "t")
    assert out == (
        TEXT.replace("timescale: 60s  #", "timescale: 30s  #")
        .replace('name: "Chat platform"', 'name: "Chat API"')
        .replace("'Serves chat completions'", "'it''s ours'")
        .replace('name: "Client SDK retries"', 'name: "yes"')
    )


def test_a_plain_value_is_quoted_where_it_would_not_read_as_text() -> None:
    out = yamledit.spliced(TEXT, BASE, changed(loops__0__name="yes"), "t")
    assert out is not None and "    name: 'yes'\n" in out
    # Text in YAML 1.1, a number in 1.2: left to the Document, which quotes it.
    assert yamledit.spliced(TEXT, BASE, changed(loops__0__name="0o7"), "t") is None


@pytest.mark.parametrize(
    "new",
    [
        changed(loops__0__owner="Platform team"),  # a key added
        {k: v for k, v in BASE.items() if k != "system"},  # a key removed
        changed(loops__0__triggers=["timeout", "error"]),  # a list grown
        changed(loops=list(reversed(BASE["loops"]))),  # loops reordered
        changed(loops__0__timescale=None),  # a value cleared
        changed(loops__0__triggers__0="error"),  # an item of a flow list
    ],
)
def test_anything_but_new_values_is_left_to_the_document(new: dict[str, Any]) -> None:
    assert yamledit.spliced(TEXT, BASE, new, "t") is None


def _leaves(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(data, dict):
        return [p for k, v in data.items() for p in _leaves(v, (*path, k))]
    if isinstance(data, list):
        return [p for i, v in enumerate(data) for p in _leaves(v, (*path, i))]
    return [path]


def _comments(text: str) -> list[str]:
    """Each line's comment (a value such as '#x' is not one)."""
    found = (re.search(r"(?:^|\s)(#(?:\s.*)?)$", ln) for ln in text.splitlines())
    return [m.group(1) for m in found if m]


@pytest.mark.parametrize("value", ["30s", "yes", "a: b", "it's", 'say "hi"', "#x", "é日", 7, True])
def test_a_splice_reads_back_and_agrees_with_the_document(value: Any) -> None:
    for path in _leaves(BASE):
        new = copy.deepcopy(BASE)
        node = new
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
        out = yamledit.spliced(TEXT, BASE, new, "t")
        if out is None:
            continue
        assert yamledit.same(parse_yaml_text(out, "t")[0], new), path
        assert _comments(out) == _comments(TEXT), path
        whole = yamledit.edited(yamledit.Document(TEXT), BASE, new, None, "t")
        if _comments(whole) == _comments(TEXT):
            # The Document may move a comment to stay in its column; nothing else differs.
            assert re.sub(r" +#", " #", out) == re.sub(r" +#", " #", whole), path
