"""The bad-input corpus: every input gets exit 2 and a message that names the problem.

The corpus lives in tests/bad_inputs/ (assessments/*.yaml, packs/<name>/) and its index,
tests/bad_inputs/expected.yaml, says which substrings each message must contain. Inputs that
are huge, binary, wrongly encoded, symbolic links or code files are generated here into
tmp_path instead of being committed. Most cases run the CLI in-process (fast); a few run it
as a real subprocess, end to end.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from expert.assessment import limits
from expert.cli.main import main
from tests.helpers import reuse_builtin_parses

HERE = Path(__file__).parent / "bad_inputs"
ROOT = Path(__file__).parent.parent
INDEX: dict[str, dict[str, dict[str, Any]]] = yaml.safe_load(
    (HERE / "expected.yaml").read_text(encoding="utf-8")
)
EXAMPLE = ROOT / "expert" / "examples" / "llm-platform.yaml"
QUIET = ROOT / "tests" / "data" / "quiet.yaml"
# Where the corpus's python tags would write if the loader ever ran them.
CODE_RAN_MARKER = Path("/tmp/coherence-bad-input-ran-code")
MAX_MESSAGE = 20_000  # a message longer than this is not one a person can read


# --------------------------------------------------------------------- generated inputs


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _huge(tmp: Path) -> Path:
    path = tmp / "huge.yaml"
    line = b"  - {id: loop, name: padding padding padding padding padding padding}\n"
    with path.open("wb") as handle:
        handle.write(b"schema_version: 1\nsystem: {name: s}\nloops:\n")
        handle.write(line * (50 * 1024 * 1024 // len(line)))
    return path


def _example_text() -> str:
    return EXAMPLE.read_text(encoding="utf-8")


GENERATED_ASSESSMENTS: dict[str, Callable[[Path], Path]] = {
    "huge-50mb": _huge,
    "binary": lambda t: _write(t / "binary.yaml", bytes(range(256)) * 16),
    "utf16-bom": lambda t: _write(t / "utf16.yaml", _example_text().encode("utf-16")),
    "utf16le-no-bom": lambda t: _write(t / "utf16le.yaml", _example_text().encode("utf-16-le")),
    "latin1": lambda t: _write(
        t / "latin1.yaml", _example_text().replace("SRE", "SRE Größe").encode("latin-1")
    ),
    "nul-after-8k": lambda t: _write(
        t / "late-nul.yaml",
        ("schema_version: 1\nsystem: {name: s}\n" + "# pad\n" * 2000 + 'x: "\x00"\n').encode(),
    ),
    "raw-escape-character": lambda t: _write(
        t / "raw-escape.yaml", b'schema_version: 1\nsystem: {name: "raw \x1b[31m red"}\n'
    ),
    "bom-only": lambda t: _write(t / "bom.yaml", b"\xef\xbb\xbf\n"),
    "deep-nesting-50": lambda t: _write(
        t / "deep50.yaml",
        ("schema_version: 1\nsystem: {name: s}\nloops: " + "[" * 50 + "]" * 50 + "\n").encode(),
    ),
    "deep-nesting-100k-lists": lambda t: _write(
        t / "deep-lists.yaml", ("loops: " + "[" * 100_000 + "]" * 100_000 + "\n").encode()
    ),
    "deep-nesting-100k-mappings": lambda t: _write(
        t / "deep-maps.yaml", ("x: " + "{a: " * 100_000 + "1" + "}" * 100_000 + "\n").encode()
    ),
    "name-100kb": lambda t: _write(
        t / "name.yaml", ("schema_version: 1\nsystem: {name: " + "n" * 100_000 + "}\n").encode()
    ),
    "id-100kb": lambda t: _write(
        t / "id.yaml",
        (
            "schema_version: 1\nsystem: {name: s}\nloops:\n  - {id: " + "a" * 100_000 + "}\n"
        ).encode(),
    ),
    "too-many-loops": lambda t: _assessment(
        t / "many.yaml", [], [f"{{id: l{i}}}" for i in range(limits.MAX_LOOPS + 1)]
    ),
    "too-many-resources": lambda t: _assessment(
        t / "resources.yaml", [f"{{id: r{i}}}" for i in range(limits.MAX_RESOURCES + 1)], []
    ),
    "call-path-too-deep": lambda t: _assessment(
        t / "deep.yaml",
        [f"{{id: r{i}, calls: [r{i + 1}]}}" for i in range(limits.MAX_CALL_DEPTH)]
        + [f"{{id: r{limits.MAX_CALL_DEPTH}}}"],
        [],
    ),
    "loops-crowd-one-resource": lambda t: _assessment(
        t / "crowd.yaml",
        ["{id: shared}"],
        [f"{{id: l{i}, acts_on: [shared]}}" for i in range(limits.MAX_LOOPS_PER_RESOURCE + 1)],
    ),
    # 450 loops on each of three resources: under the per-resource limit, over the total.
    "too-many-shared-pairs": lambda t: _assessment(
        t / "pairs.yaml",
        ["{id: r0}", "{id: r1}", "{id: r2}"],
        [f"{{id: l{i}, acts_on: [r0, r1, r2]}}" for i in range(450)],
    ),
    "tagged-sequence": lambda t: _write(
        t / "tagged-seq.yaml",
        b"schema_version: 1\nsystem: {name: s}\nloops:\n"
        b"  - {id: a, triggers: !!python/object/apply:os.system [timeout]}\n",
    ),
    "tagged-mapping": lambda t: _write(
        t / "tagged-map.yaml", b"schema_version: 1\nsystem: !!python/object:os.Foo {name: s}\n"
    ),
    "a-directory": lambda t: _mkdir(t / "assessment.yaml"),
    "missing-file": lambda t: t / "no-such-file.yaml",
}


def _assessment(path: Path, resources: list[str], loops: list[str]) -> Path:
    """An assessment with these resources and loops, each written as one flow mapping."""
    text = "schema_version: 1\nsystem: {name: s}\n"
    text += "resources:\n" + "".join(f"  - {r}\n" for r in resources) if resources else ""
    text += "loops:\n" + "".join(f"  - {lp}\n" for lp in loops) if loops else ""
    return _write(path, text.encode())


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


_PROBE = (
    (ROOT / "knowledge_base/patterns/auditability/unknown-owner.yaml")
    .read_text(encoding="utf-8")
    .replace("id: unknown-owner", "id: corpus-probe")
)


def _pack(tmp: Path, name: str) -> Path:
    pack = tmp / name
    (pack / "patterns").mkdir(parents=True)
    return pack


def _outside(tmp: Path) -> Path:
    """Files beside (not inside) a pack, that a pack must not reach."""
    out = tmp / "outside"
    out.mkdir(exist_ok=True)
    (out / "probe.yaml").write_text(_PROBE, encoding="utf-8")
    (out / "vocabulary.yaml").write_text('version: "x"\nlayers:\n  edge: {label: Edge}\n')
    (out / "disabled.yaml").write_text('unknown-owner: "switched off from outside"\n')
    return out


def _symlinked(tmp: Path, name: str, link: str, target: str) -> Path:
    pack = _pack(tmp, name)
    (pack / link).symlink_to(_outside(tmp) / target)
    return pack


def _with_code(tmp: Path, name: str, code_file: str) -> Path:
    pack = _pack(tmp, name)
    (pack / "patterns" / "probe.yaml").write_text(_PROBE, encoding="utf-8")
    (pack / code_file).write_text(f"open({str(CODE_RAN_MARKER)!r}, 'w').close()\n")
    return pack


def _huge_pattern(tmp: Path) -> Path:
    pack = _pack(tmp, "huge")
    (pack / "patterns" / "probe.yaml").write_text(_PROBE + "# " + "x" * 2 * 1024 * 1024 + "\n")
    return pack


GENERATED_PACKS: dict[str, Callable[[Path], Path]] = {
    "symlink-pattern-file": lambda t: _symlinked(t, "p1", "patterns/probe.yaml", "probe.yaml"),
    "symlink-pattern-directory": lambda t: _symlinked(t, "p2", "patterns/linked", "."),
    "symlink-vocabulary": lambda t: _symlinked(t, "p3", "vocabulary.yaml", "vocabulary.yaml"),
    "symlink-disabled": lambda t: _symlinked(t, "p4", "disabled.yaml", "disabled.yaml"),
    "python-file-in-patterns": lambda t: _with_code(t, "p5", "patterns/evil.py"),
    "python-file-at-top": lambda t: _with_code(t, "p6", "setup.py"),
    "huge-pattern-file": _huge_pattern,
    "pack-is-a-file": lambda t: _write(t / "pack.yaml", b"patterns: []\n"),
    "pack-missing": lambda t: t / "no-such-pack",
}


# --------------------------------------------------------------------- the checks


def _params(section: str) -> list[Any]:
    out = []
    for case_id, spec in INDEX[section].items():
        marks = [pytest.mark.xfail(strict=True, reason=spec["xfail"])] if "xfail" in spec else []
        out.append(pytest.param(case_id, spec["expect"], id=case_id, marks=marks))
    return out


def _invoke(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"the CLI raised {result.exception!r}")
    return result.exit_code, result.stdout, result.stderr


def _control_characters(text: str) -> list[str]:
    return sorted({repr(ch) for ch in text if ord(ch) < 32 and ch not in "\n\t"})


def check_refused(
    code: int, out: str, err: str, expect: list[str], names: Path, written: Path | None
) -> None:
    """The bar for every bad input (DESIGN.md, quality bars)."""
    assert code == 2, f"exit {code}, want 2; stderr:\n{err[:2000]}"
    assert err.startswith("error: "), err[:2000]
    assert "Traceback" not in err and "internal error" not in err, err[:2000]
    for needle in expect:
        assert needle in err, f"{needle!r} not in:\n{err[:2000]}"
    assert str(names) in err, f"the message does not name {names}:\n{err[:2000]}"
    assert not _control_characters(err), f"raw control characters reach the terminal: {err!r}"
    assert len(err) < MAX_MESSAGE, f"a {len(err)}-character message"
    assert out == "", "nothing may be printed as if it were a report"
    if written is not None:
        assert not written.exists(), "the -o file was written"
    assert not CODE_RAN_MARKER.exists(), "an input ran code"


@pytest.fixture(autouse=True)
def _no_marker() -> None:
    CODE_RAN_MARKER.unlink(missing_ok=True)


@pytest.fixture(autouse=True)
def _parse_builtin_kb_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the bad input: the built-in files' parse results are reused,
    the subprocess tests below run everything uncached."""
    reuse_builtin_parses(monkeypatch)


def _assess_refused(path: Path, expect: list[str], tmp_path: Path) -> None:
    out_file = tmp_path / "out" / "report.md"
    out_file.parent.mkdir()
    before = path.read_bytes() if path.is_file() else None
    code, out, err = _invoke(["assess", str(path), "-o", str(out_file)])
    check_refused(code, out, err, expect, path, out_file)
    if before is not None:
        assert path.read_bytes() == before


@pytest.mark.parametrize(("case_id", "expect"), _params("assessments"))
def test_bad_assessment(case_id: str, expect: list[str], tmp_path: Path) -> None:
    _assess_refused(HERE / "assessments" / f"{case_id}.yaml", expect, tmp_path)


@pytest.mark.parametrize(("case_id", "expect"), _params("generated_assessments"))
def test_generated_bad_assessment(case_id: str, expect: list[str], tmp_path: Path) -> None:
    _assess_refused(GENERATED_ASSESSMENTS[case_id](tmp_path), expect, tmp_path)


def _pack_refused(
    pack: Path, expect: list[str], tmp_path: Path, kb_test: bool = True, assess_runs: bool = False
) -> None:
    if kb_test:
        code, out, err = _invoke(["kb", "--kb", str(pack), "test"])
        check_refused(code, out, err, expect, pack, None)
    out_file = tmp_path / "report.md"
    code, out, err = _invoke(["assess", "--kb", str(pack), str(QUIET), "-o", str(out_file)])
    if assess_runs:  # the problem is in a file an assessment never reads
        assert code in (0, 1) and out_file.is_file(), err[:2000]
        return
    check_refused(code, out, err, expect, pack, out_file)


@pytest.mark.parametrize(("case_id", "expect"), _params("packs"))
def test_bad_pack(case_id: str, expect: list[str], tmp_path: Path) -> None:
    # A pack that loads (the xfail ones) would run every knowledge-base case in `kb test`.
    spec = INDEX["packs"][case_id]
    _pack_refused(
        HERE / "packs" / case_id,
        expect,
        tmp_path,
        "xfail" not in spec,
        assess_runs=spec.get("assess") == "runs",
    )


@pytest.mark.parametrize(("case_id", "expect"), _params("generated_packs"))
def test_generated_bad_pack(case_id: str, expect: list[str], tmp_path: Path) -> None:
    spec = INDEX["generated_packs"][case_id]
    _pack_refused(GENERATED_PACKS[case_id](tmp_path), expect, tmp_path, "xfail" not in spec)


# --------------------------------------------------------------------- the corpus itself


def test_index_and_corpus_agree() -> None:
    """Every committed input has an index entry and every entry an input (or generator)."""
    files = {p.stem for p in (HERE / "assessments").iterdir()}
    packs = {p.name for p in (HERE / "packs").iterdir()}
    assert files == set(INDEX["assessments"])
    assert packs == set(INDEX["packs"])
    assert set(GENERATED_ASSESSMENTS) == set(INDEX["generated_assessments"])
    assert set(GENERATED_PACKS) == set(INDEX["generated_packs"])
    assert sum(len(section) for section in INDEX.values()) >= 40
    for section in INDEX.values():
        for case_id, spec in section.items():
            assert spec["expect"] and all(isinstance(s, str) and s for s in spec["expect"]), case_id


def test_python_tags_never_run_code(tmp_path: Path) -> None:
    """Independent of how the message reads: loading a tagged file never executes it."""
    for path in [
        HERE / "assessments" / "python-tag.yaml",
        GENERATED_ASSESSMENTS["tagged-sequence"](tmp_path),
    ]:
        _invoke(["assess", str(path), "-o", str(tmp_path / "r.md")])
    for pack in ("python-apply-tag-list", "python-object-question", "python-name-tag"):
        _invoke(["assess", "--kb", str(HERE / "packs" / pack), str(QUIET)])
    _invoke(
        ["assess", "--kb", str(GENERATED_PACKS["python-file-in-patterns"](tmp_path)), str(QUIET)]
    )
    assert not CODE_RAN_MARKER.exists()


# --------------------------------------------------------------------- end to end


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "COHERENCE_DEBUG"}
    return subprocess.run(
        [sys.executable, "-m", "expert", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )


def _input(case_id: str, tmp: Path) -> tuple[Path, list[str]]:
    if case_id in GENERATED_ASSESSMENTS:
        return GENERATED_ASSESSMENTS[case_id](tmp), INDEX["generated_assessments"][case_id][
            "expect"
        ]
    return HERE / "assessments" / f"{case_id}.yaml", INDEX["assessments"][case_id]["expect"]


@pytest.mark.parametrize(
    "case_id", ["alias-bomb", "huge-50mb", "binary", "deep-nesting-100k-lists", "call-cycle"]
)
def test_end_to_end_assessment(case_id: str, tmp_path: Path) -> None:
    path, expect = _input(case_id, tmp_path)
    out_file = tmp_path / "report.md"
    proc = _cli("assess", str(path), "-o", str(out_file))
    check_refused(proc.returncode, proc.stdout, proc.stderr, expect, path, out_file)


@pytest.mark.parametrize(
    ("pack", "expect"),
    [
        pytest.param("unknown-field", "no field 'colour'", id="unknown-field"),
        pytest.param("python-name-tag", "python/name:os.system", id="python-name-tag"),
    ],
)
def test_end_to_end_pack(pack: str, expect: str, tmp_path: Path) -> None:
    path = HERE / "packs" / pack
    proc = _cli("kb", "--kb", str(path), "test")
    check_refused(proc.returncode, proc.stdout, proc.stderr, [expect], path, None)
    out_file = tmp_path / "report.md"
    proc = _cli("assess", "--kb", str(path), str(QUIET), "-o", str(out_file))
    check_refused(proc.returncode, proc.stdout, proc.stderr, [expect], path, out_file)


@pytest.mark.parametrize("case_id", ["cost-nan", "retries-huge", "accelerators-absurd"])
def test_one_problem_per_bad_number(case_id: str) -> None:
    """pydantic reports a bad number once per union branch (and names the branch, e.g.
    constrained-int): the user must see one problem, at a place they wrote."""
    code, _, err = _invoke(["assess", str(HERE / "assessments" / f"{case_id}.yaml")])
    assert code == 2
    assert "1 problem found" in err and "constrained-" not in err, err
