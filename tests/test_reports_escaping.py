"""Hostile strings typed by a user appear as text in every report, never as markup, links,
Mermaid syntax or spreadsheet formulas."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from functools import lru_cache
from html.parser import HTMLParser

import pytest

from expert.analysis.results import Member, Results, SourceRef
from expert.assessment.model import Assessment
from expert.render.reports import md_escape, md_url, render, web_url
from tests.helpers import make
from tests.test_reports_golden import assess_model

SCRIPT = "<script>alert(1)</script>"
LINK = "[x](javascript:alert(1))"
FORMULA = "=cmd|' /C calc'!A0"
IMG = "<img src=x onerror=alert(1)>"


@lru_cache(maxsize=1)
def hostile() -> tuple[Results, Assessment]:
    a = make(
        [
            {
                "id": "killer",
                "name": FORMULA,
                "layer": "safety",
                "owner": IMG,
                "objective": "protection",
                "target": 'line one\nline two | `tick` *star* "quoted"',
                "timescale": "30s",
                "triggers": ["timeout"],
                "actuations": ["terminate"],
                "acts_on": ["api"],
                "decision_record": "none",
            },
            {
                "id": "retrier",
                "name": SCRIPT,
                "layer": "runtime",
                "owner": 'Team "Quotes" & <Co>',
                "timescale": "1s",
                "triggers": ["failure"],
                "actuations": ["retry"],
                "acts_on": ["api"],
                "retry": {"max_retries": 2, "retries_on": ["timeout"]},
            },
            {
                "id": "linker",
                "name": LINK,
                "layer": "scheduler",
                "owner": "unknown",
                "triggers": ["failure"],
                "actuations": ["retry"],
                "acts_on": ["api"],
                "retry": {"max_retries": 3, "retries_on": ["timeout"]},
            },
        ],
        resources=[{"id": "api", "kind": "request_path", "name": "# api <b>x</b>"}],
        economics={"accelerator_count": 8, "accelerator_hour_cost": 3, "engineer_hour_cost": 100},
    )
    a = a.model_copy(
        update={"system": a.system.model_copy(update={"name": "<b>sys</b> | # head\nline"})}
    )
    results = assess_model(a)
    assert any(f.kind == "incoherence" for f in results.findings), "the case must conflict"
    return results, a


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def test_html_escapes_every_hostile_string() -> None:
    results, a = hostile()
    html = render("html", results, a)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script" not in html.lower() and "<img" not in html.lower()
    parser = _Tags()
    parser.feed(html)
    names = {t for t, _ in parser.tags}
    assert not names & {"script", "img", "iframe", "object", "embed", "link", "base"}
    for _, attrs in parser.tags:
        for key, value in attrs:
            assert not key.startswith("on"), key
            assert not (value or "").strip().lower().startswith("javascript:"), (key, value)


def test_html_is_self_contained() -> None:
    results, a = hostile()
    html = render("html", results, a)
    parser = _Tags()
    parser.feed(html)
    for tag, attrs in parser.tags:
        for key, value in attrs:
            assert key != "src", f"<{tag}> loads {value}"
            if key == "href":
                assert value and value.startswith(("#", "https://", "http://")), value
    assert "@import" not in html and "@font-face" not in html
    assert not re.search(r"url\((?!#)", html), "only in-document url(#marker) references"
    assert "Content-Security-Policy" in html


def test_svg_is_well_formed_xml_with_escaped_names() -> None:
    results, a = hostile()
    html = render("html", results, a)
    svg = html[html.index("<svg") : html.index("</svg>") + len("</svg>")]
    root = ET.fromstring(svg)
    texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "<script>" in texts  # the name is drawn as text (wrapped, perhaps cut)
    titles = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}title"))
    assert SCRIPT in titles and FORMULA in titles


def test_markdown_escapes_markup_and_links() -> None:
    results, a = hostile()
    md = render("markdown", results, a)
    assert not re.search(r"(?<!\\)<(script|img|b>)", md), "unescaped markup"
    assert r"\<script\>alert(1)\</script\>" in md
    assert not re.search(r"(?<!\\)\]\(javascript:", md), "an unescaped link target"
    assert r"\[x\](javascript:alert(1))" in md
    assert "\n# head" not in md  # a newline in the system name does not start a heading
    assert r"\# head line" in md
    assert "line one line two \\| \\`tick\\` \\*star\\*" in md
    # every inventory table row stays one row
    for row in (ln for ln in md.splitlines() if "killer" in ln and ln.startswith("|")):
        assert row.endswith("|")


def test_markdown_grouped_matches_read_as_the_whole_escaped() -> None:
    """Markdown lists a finding's grouped matches from escaped names: the same text as
    escaping each match whole, whatever the names hold (markup, entity codes, newlines)."""
    results, a = hostile()
    conflict = next(f for f in results.findings if f.kind == "incoherence")
    a = a.model_copy(
        update={
            "loops": [
                lp.model_copy(update={"name": name})
                for lp, name in zip(
                    a.loops, ["A &#60;b&gt; &", "line\none `x` & #1;", "&amp;[y]_*"], strict=True
                )
            ]
        }
    )
    names = {lp.id: lp.name or lp.id for lp in a.loops}
    ids = [lp.id for lp in a.loops]
    members = [
        Member(loops=ids[:2], status="confirmed"),
        Member(loops=[ids[2], ids[0]], status="possible"),
        Member(loops=ids, status="confirmed"),
        Member(loops=[ids[1]], status="possible"),
    ]
    grouped = conflict.model_copy(update={"members": members})
    results = results.model_copy(
        update={"findings": [grouped if f is conflict else f for f in results.findings]}
    )
    md = render("markdown", results, a)
    whole = [
        md_escape(f"{', '.join(n[:-1]) + ' and ' + n[-1] if len(n) > 1 else n[0]} ({m.status})")
        for m in members
        for n in [[names[lp] for lp in m.loops]]
    ]
    assert f"Found for: {'; '.join(whole)}." in md


def test_mermaid_labels_cannot_break_out() -> None:
    results, a = hostile()
    md = render("markdown", results, a)
    block = md[md.index("```mermaid\n") + len("```mermaid\n") :]
    block = block[: block.index("```")]
    assert "#lt;script#gt;alert(1)#lt;/script#gt;" in block
    labels = re.findall(r'\["(.*?)"\]', block)
    # A label ends only at its closing quote, and no # in it is the user's (each starts an
    # escape), so no name can close the label or smuggle in an entity code of its own.
    assert labels and all('"' not in lab for lab in labels)
    assert all(
        re.fullmatch(r"#(quot|35|lt|gt|96|91|93);", m.group(0))
        for lab in labels
        for m in re.finditer(r"#[^;]*;", lab)
    )
    assert "<" not in block and "`" not in block


def test_csv_neutralises_formulas_and_quotes_properly() -> None:
    results, a = hostile()
    text = render("csv", results, a)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0][:3] == ["id", "rule", "kind"]
    assert len(rows) == len(results.findings) + 1
    for row in rows:
        assert len(row) == len(rows[0])
        for cell in row:
            assert not cell.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r")), cell
    cells = [c for row in rows for c in row]
    assert any(c.startswith("'" + FORMULA) for c in cells)
    assert any(SCRIPT in c for c in cells)  # CSV is data: kept verbatim, not HTML-escaped


def test_sarif_and_json_carry_hostile_text_as_data() -> None:
    results, a = hostile()
    log = json.loads(render("sarif", results, a))
    messages = " ".join(r["message"]["text"] for r in log["runs"][0]["results"])
    assert FORMULA in messages
    data = json.loads(render("json", results, a))
    assert data["system"]["name"].startswith("<b>sys</b>")


def test_knowledge_base_links_only_to_web_addresses() -> None:
    results, a = hostile()
    bad = results.findings[0].model_copy(
        update={"sources": [SourceRef(title="click", url="javascript:alert(1)")]}
    )
    poisoned = results.model_copy(update={"findings": [bad, *results.findings[1:]]})
    html = render("html", poisoned, a)
    md = render("markdown", poisoned, a)
    assert 'href="javascript' not in html
    assert not re.search(r"(?<!\\)\]\(javascript:", md)
    assert "click" in md  # the title stays, as text


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org/a?b=1#c", "https://example.org/a?b=1#c"),
        ("javascript:alert(1)", ""),
        ("data:text/html,<b>", ""),
        ("https://example.org/a b", ""),
        ('https://example.org/"onmouseover=', ""),
    ],
)
def test_web_url(url: str, expected: str) -> None:
    assert web_url(url) == expected


def test_md_url_encodes_link_breakers_and_md_escape_flattens_lines() -> None:
    assert md_url("https://example.org/a_(b)") == "https://example.org/a_%28b%29"
    assert md_escape("a\nb|c") == r"a b\|c"
