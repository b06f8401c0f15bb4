"""Terminal text is clean: no control character from a pack, an assessment or a file name
reaches standard output or standard error raw (issue 10, defect 7: terminal parts)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import example, given, settings
from hypothesis import strategies as st

from expert import terminal
from expert.cli.main import main

PACK = Path("tests/packs/example-org")
EXAMPLE = Path("expert/examples/llm-platform.yaml")

# Every character the sanitiser must neutralise: C0 (but tab and newline), DEL, C1, bidi.
CONTROLS = [
    *(chr(c) for c in range(0x20) if chr(c) not in "\t\n"),
    "\x7f",
    *(chr(c) for c in range(0x80, 0xA0)),
    "\u061c",
    "\u200e",
    "\u200f",
    *(chr(c) for c in range(0x202A, 0x202F)),
    *(chr(c) for c in range(0x2066, 0x206A)),
]


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def assert_clean(*texts: str) -> None:
    for text in texts:
        raw = sorted({f"U+{ord(c):04X}" for c in text if c in CONTROLS})
        assert not raw, f"raw control characters reached the terminal: {raw}"


def yaml_escape(text: str) -> str:
    """A YAML double-quoted scalar holding `text` (controls as \\uXXXX escapes)."""
    return json.dumps(text, ensure_ascii=True)


def hostile_pack(tmp_path: Path, text: str) -> Path:
    """The example pack with `text` in a pattern's title, summary, mechanism and source, and
    in a disabled pattern's reason."""
    pack = tmp_path / "pack"
    shutil.copytree(PACK, pack)
    path = pack / "patterns" / "unknown-owner.yaml"
    lines = []
    for line in path.read_text().splitlines():
        for key in ("title", "summary", "mechanism"):
            if line.startswith(f"{key}:"):
                line = f"{key}: {yaml_escape('Owner ' + text + ' unknown')}"
        if line.startswith("  - title:"):
            line = f"  - title: {yaml_escape('Book ' + text)}"
        lines.append(line)
    # Folded continuation lines of the replaced keys must go too.
    kept, skipping = [], False
    for line in lines:
        if skipping and line.startswith("  ") and not line.startswith("  - "):
            continue
        skipping = line.startswith(("summary:", "mechanism:"))
        kept.append(line)
    path.write_text("\n".join(kept) + "\n")
    (pack / "disabled.yaml").write_text(
        f"hpa-vpa-same-metric: {yaml_escape('reason ' + text)}\n", encoding="utf-8"
    )
    return pack


def hostile_assessment(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hostile.yaml"
    body = EXAMPLE.read_text(encoding="utf-8")
    body = body.replace(
        "name: LLM inference platform (example)", f"name: {yaml_escape('LLM ' + text)}", 1
    )
    path.write_text(body, encoding="utf-8")
    return path


def test_clean_makes_every_control_visible() -> None:
    for char in CONTROLS:
        cleaned = terminal.clean(f"a{char}b")
        assert cleaned == f"a\\u{ord(char):04x}b"
        assert not terminal.unsafe(cleaned)
    assert terminal.clean("line\n\tindented\r\n") == "line\n\tindented\r\n"
    assert terminal.clean("lone\rreturn") == "lone\\u000dreturn"
    assert terminal.clean("plain text, naïve café ✓") == "plain text, naïve café ✓"


def test_clean_keeps_json_valid_and_equal() -> None:
    text = json.dumps({"name": "".join(CONTROLS)}, ensure_ascii=False)
    assert json.loads(terminal.clean(text)) == json.loads(text)


@given(st.text())
def test_clean_never_leaves_a_control(text: str) -> None:
    cleaned = terminal.clean(text)
    assert_clean(cleaned.replace("\r\n", "\n"))
    if not terminal.unsafe(text):
        assert cleaned == text


def test_kb_list_and_show_escape_pack_text(tmp_path: Path) -> None:
    text = "".join(CONTROLS)
    pack = hostile_pack(tmp_path, text)
    outputs = []
    for args in (
        ("kb", "--kb", str(pack), "list"),
        ("kb", "--kb", str(pack), "list", "--format", "json"),
        ("kb", "--kb", str(pack), "show", "unknown-owner"),
        ("kb", "--kb", str(pack), "show", "hpa-vpa-same-metric"),
    ):
        code, out, err = run(*args)
        assert_clean(out, err)
        outputs.append((code, out + err))
    # The text was shown, visibly escaped (or refused with a message that shows it so).
    assert all("\\u001b" in shown for _, shown in outputs[2:]), outputs


def test_assess_prints_pack_and_assessment_text_escaped(tmp_path: Path) -> None:
    text = "".join(CONTROLS)
    pack = hostile_pack(tmp_path, text)
    source = hostile_assessment(tmp_path, text)
    for fmt in ("markdown", "csv", "json", "sarif", "html"):
        code, out, err = run("assess", str(source), "--kb", str(pack), "--format", fmt)
        assert_clean(out, err)
        assert code in (0, 2), err  # 2 if validation refuses the text, with a clean message
        code, out, err = run("assess", str(EXAMPLE), "--kb", str(pack), "--format", fmt)
        assert code == 0, err
        assert_clean(out, err)
        if fmt in ("json", "sarif"):
            json.loads(out)  # escaped as \uXXXX, so printed JSON stays JSON
        if fmt in ("markdown", "csv"):
            assert "\\u001b" in out  # the pack's text is shown, visibly escaped


def test_files_written_with_o_keep_the_text_exactly(tmp_path: Path) -> None:
    """Files are data: only what reaches a terminal is cleaned."""
    pack = hostile_pack(tmp_path, "\x1b[2J")
    target = tmp_path / "out.md"
    code, _, err = run("assess", str(EXAMPLE), "--kb", str(pack), "-o", str(target))
    assert code == 0, err
    code, out, _ = run("kb", "--kb", str(pack), "show", "unknown-owner")
    assert code == 0 and "\\u001b[2J" in out and "\x1b" not in out


# Each example makes eight CLI runs (a knowledge-base load each). The explicit example puts
# every control character in one name, so each is checked on every path in every run; the
# generated ones add mixtures and following text, which a few examples cover.
@settings(max_examples=6)
@example(CONTROLS, "")
@given(st.lists(st.sampled_from(CONTROLS), min_size=1, max_size=6), st.text(max_size=8))
def test_file_names_in_messages_are_escaped(controls: list[str], word: str) -> None:
    name = "in" + "".join(controls) + word.replace("\x00", "") + ".yaml"
    for args in (
        ("assess", name),
        ("assess", str(EXAMPLE), "--kb", name),
        ("assess", str(EXAMPLE), "-o", name + "/x.md"),
        ("report", name, "-o", name + "-out"),
        ("kb", "--kb", name, "list"),
        ("kb", "show", name),
        ("example", name),
        ("assess", str(EXAMPLE), "--format", name),
    ):
        code, out, err = run(*args)
        assert code == 2, (args, err)
        assert_clean(out, err)


@pytest.mark.parametrize("char", ["\x1b", "\x9b", "\u202e", "\x7f"])
def test_assessment_text_from_standard_input_is_escaped(char: str, tmp_path: Path) -> None:
    source = hostile_assessment(tmp_path, f"x{char}[31m")
    code, out, err = run("assess", "-", stdin=source.read_text(encoding="utf-8"))
    assert_clean(out, err)
    if code == 0:
        assert f"\\u{ord(char):04x}" in out
