"""Where `-o` writes (issue 10, defects 1, 2 and 8): devices and FIFOs are written in place,
never renamed over; inputs and files coherence did not write are never replaced; a report
set appears whole or not at all. The real /dev/null is never touched: a pty, a FIFO and a
private device node stand in for it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from expert import output
from expert.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "expert/examples/llm-platform.yaml"
SET = ("md", "html", "json", "sarif", "csv")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def cli(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """The real command in a process of its own (for descriptors and devices)."""
    kwargs.setdefault("cwd", ROOT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(  # type: ignore[call-overload]
        [sys.executable, "-m", "expert", *args],
        capture_output=True,
        text=True,
        timeout=300,  # a guard against a hang, not a speed check
        check=False,
        env=env,
        **kwargs,
    )


# --- defect 1: special files are written in place ------------------------------------------


def test_fifo_output_is_written_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    code, _, err = run("schema", "-o", str(fifo))
    reader.join(timeout=120)  # a guard against a hang, not a speed check
    if reader.is_alive() and stat.S_ISFIFO(os.lstat(fifo).st_mode):
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # release the reader
    assert code == 0, err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert json.loads(got[0])["title"] == "Control-coherence assessment"
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]  # no temporary left behind


def test_terminal_device_output_is_written_in_place_and_cleaned(tmp_path: Path) -> None:
    master, slave = os.openpty()
    try:
        name = os.ttyname(slave)
        link = tmp_path / "tty"  # through a link, as /dev/stdout would be
        link.symlink_to(name)
        code, _, err = run("example", "llm-platform", "-o", str(link))
        assert code == 0, err
        assert stat.S_ISCHR(os.stat(name).st_mode) and link.is_symlink()
        assert b"schema_version: 1" in os.read(master, 65536)
    finally:
        os.close(master)
        os.close(slave)


def test_private_device_node_is_not_replaced(tmp_path: Path) -> None:
    """A null-device node of our own (never the real /dev/null): the report goes into it
    and the node stays a character device."""
    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        os.open(node, os.O_WRONLY)
    except (PermissionError, OSError):
        pytest.skip("cannot create or open a device node here (needs root and a dev mount)")
    code, _, err = run("assess", str(EXAMPLE), "--format", "json", "-o", str(node))
    assert code == 0, err
    assert stat.S_ISCHR(os.lstat(node).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["null"]


def test_dash_is_standard_output_not_a_file(tmp_path: Path) -> None:
    proc = cli("schema", "-o", "-", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["title"] == "Control-coherence assessment"
    assert not (tmp_path / "-").exists()


def test_descriptor_link_goes_to_the_descriptor(tmp_path: Path) -> None:
    """A link to /proc/self/fd/1 (what /dev/stdout is) writes to standard output, a pipe
    here, and the link itself is left alone."""
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    proc = cli("schema", "-o", str(link))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["title"] == "Control-coherence assessment"
    assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"


def test_directory_and_dangling_link_outputs_are_refused(tmp_path: Path) -> None:
    code, _, err = run("schema", "-o", str(tmp_path))
    assert code == 2 and "is a directory" in err
    dangling = tmp_path / "gone"
    dangling.symlink_to(tmp_path / "missing" / "x.json")
    code, _, err = run("schema", "-o", str(dangling))
    assert code == 2 and "symbolic link" in err and dangling.is_symlink()


# --- defect 2: inputs and the user's files are never replaced ------------------------------


def test_output_onto_the_input_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "s.yaml"
    source.write_bytes(EXAMPLE.read_bytes())
    (tmp_path / "link.yaml").symlink_to(source)
    os.link(source, tmp_path / "hard.yaml")
    for target in ("s.yaml", "link.yaml", "hard.yaml"):
        code, _, err = run("assess", str(source), "-o", str(tmp_path / target))
        assert code == 2 and "is the input" in err, err
    assert source.read_bytes() == EXAMPLE.read_bytes()


def test_output_inside_a_pack_is_refused(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    (pack / "patterns").mkdir(parents=True)
    code, _, err = run("assess", str(EXAMPLE), "--kb", str(pack), "-o", str(pack / "r.md"))
    assert code == 2 and "a folder this command reads" in err
    assert not (pack / "r.md").exists()


def test_a_file_coherence_did_not_write_needs_force(tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("my notes\n")
    code, _, err = run("assess", str(EXAMPLE), "-o", str(notes))
    assert code == 2 and "--force" in err and notes.read_text() == "my notes\n"
    code, _, err = run("assess", str(EXAMPLE), "-o", str(notes), "--force")
    assert code == 0 and notes.read_text().startswith("# Control-coherence assessment")


@pytest.mark.parametrize("fmt", ["markdown", "html", "json", "sarif", "csv"])
def test_a_report_coherence_wrote_is_replaced(tmp_path: Path, fmt: str) -> None:
    target = tmp_path / "r.out"
    for _ in range(2):
        code, _, err = run("assess", str(EXAMPLE), "--format", fmt, "-o", str(target))
        assert code == 0, err
    code, _, err = run("schema", "-o", str(target))  # any of its outputs may follow another
    assert code == 0, err
    code, _, err = run("schema", "-o", str(target))
    assert code == 0, err


def test_example_never_replaces_an_edited_copy(tmp_path: Path) -> None:
    target = tmp_path / "platform.yaml"
    assert run("example", "llm-platform", "-o", str(target))[0] == 0
    assert run("example", "training-cluster", "-o", str(target))[0] == 0  # unedited: fine
    edited = target.read_text() + "# my change\n"
    target.write_text(edited)
    code, _, err = run("example", "llm-platform", "-o", str(target))
    assert code == 2 and "edited" in err and target.read_text() == edited
    assert run("example", "llm-platform", "-o", str(target), "--force")[0] == 0
    assert target.read_bytes() == EXAMPLE.read_bytes()


def test_refusal_comes_before_the_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("x\n")

    def never(*args: object) -> None:
        raise AssertionError("the assessment ran although the output was refused")

    monkeypatch.setattr("expert.analysis.assess.Assessor.assess", never)
    code, _, err = run("assess", str(EXAMPLE), "-o", str(notes))
    assert code == 2 and "--force" in err


def test_recognised_marks() -> None:
    assert not output.written_by_us(ROOT / "README.md")
    assert output.written_by_us(EXAMPLE)
    for schema in (ROOT / "knowledge_base/schema").glob("*.json"):
        assert output.written_by_us(schema), schema


# --- defect 8: a report set appears whole or not at all ------------------------------------


def report_set(directory: Path, stem: str = "llm-platform") -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.name.startswith(stem)}


def test_report_writes_a_complete_set_with_a_manifest(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    code, _, err = run("report", str(EXAMPLE), "-o", str(out))
    assert code == 0, err
    files = report_set(out)
    assert set(files) == {f"llm-platform.{ext}" for ext in SET} | {"llm-platform.manifest.json"}
    manifest = json.loads(files["llm-platform.manifest.json"])
    assert manifest["tool"]["name"] == "control-coherence"
    assert set(manifest["files"]) == {f"llm-platform.{ext}" for ext in SET}
    assert [p.name for p in tmp_path.iterdir()] == ["reports"]  # no staging folder left
    code, _, err = run("report", str(EXAMPLE), "-o", str(out))  # again: replaces its own set
    assert code == 0, err


def test_report_failing_midway_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = output._write_new
    calls = []

    def full_disk(path: Path, text: str) -> None:
        calls.append(path)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real(path, text)

    monkeypatch.setattr(output, "_write_new", full_disk)
    out = tmp_path / "reports"
    code, _, err = run("report", str(EXAMPLE), "-o", str(out))
    assert code == 2 and "No space left" in err
    assert list(tmp_path.iterdir()) == []  # no folder created, no staging, no .tmp

    monkeypatch.setattr(output, "_write_new", real)
    assert run("report", str(EXAMPLE), "-o", str(out))[0] == 0
    before = report_set(out)
    calls.clear()
    monkeypatch.setattr(output, "_write_new", full_disk)
    code, _, err = run("report", str(EXAMPLE), "-o", str(out))
    assert code == 2
    assert report_set(out) == before  # the old set, whole
    assert [p.name for p in tmp_path.iterdir()] == ["reports"]


def test_report_refuses_the_folder_holding_its_input(tmp_path: Path) -> None:
    source = tmp_path / "platform.json"  # an assessment whose name a report would reuse
    source.write_bytes(EXAMPLE.read_bytes())
    code, _, err = run("report", str(source), "-o", str(tmp_path))
    assert code == 2 and "holds the input" in err
    assert source.read_bytes() == EXAMPLE.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["platform.json"]


def test_report_keeps_a_hand_written_file_in_the_set(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    (out / "llm-platform.md").write_text("my own notes\n")
    (out / "other.txt").write_text("keep\n")
    code, _, err = run("report", str(EXAMPLE), "-o", str(out))
    assert code == 2 and "--force" in err
    assert (out / "llm-platform.md").read_text() == "my own notes\n"
    assert sorted(p.name for p in out.iterdir()) == ["llm-platform.md", "other.txt"]
    assert run("report", str(EXAMPLE), "-o", str(out), "--force")[0] == 0
    assert (out / "other.txt").read_text() == "keep\n"  # the rest of the folder is untouched


def test_stale_staging_folders_are_removed(tmp_path: Path) -> None:
    stale = tmp_path / ".reports.coherence-0123abcd"
    stale.mkdir()
    (stale / "llm-platform.md").write_text("half\n")
    os.utime(stale, (0, 0))
    fresh_other = tmp_path / ".elsewhere.coherence-0123abcd"
    fresh_other.mkdir()
    os.utime(fresh_other, (0, 0))
    assert run("report", str(EXAMPLE), "-o", str(tmp_path / "reports"))[0] == 0
    assert not stale.exists() and fresh_other.exists()


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_a_diff_written_to_a_file_is_replaced_by_the_next_diff(tmp_path: Path, fmt: str) -> None:
    """A diff carries the tool's mark in every format, so running it again replaces the
    file it wrote; a file of the user's by that name is still refused."""
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    assert run("example", "llm-platform", "-o", str(old))[0] == 0
    new.write_text(old.read_text().replace("max_retries: 2", "max_retries: 5", 1))
    out = tmp_path / f"diff.{fmt}"
    for _ in range(2):
        code, _out, err = run("diff", str(old), str(new), "-f", fmt, "-o", str(out))
        assert code == 0, err
    assert output.written_by_us(out)
    mine = tmp_path / f"mine.{fmt}"
    mine.write_text("my notes\n")
    code, _out, err = run("diff", str(old), str(new), "-f", fmt, "-o", str(mine))
    assert code == 2 and "was not written by coherence" in err
    assert mine.read_text() == "my notes\n"


def test_an_import_written_into_the_folder_it_reads_is_refused_for_that(tmp_path: Path) -> None:
    """The folder is configuration to import, not a knowledge-base pack: the message says so."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "vs.yaml").write_text(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: api}\n"
        "spec:\n  http:\n    - route: [{destination: {host: llm}}]\n      timeout: 5s\n"
    )
    code, _, err = run("import", str(config), "-o", str(config / "out.yaml"))
    assert code == 2 and "a folder this command reads" in err and "pack" not in err
    assert not (config / "out.yaml").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["assess", str(EXAMPLE), "-o", ""],
        ["assess", str(EXAMPLE), "--kb", "", "-o", "-"],
        ["assess", ""],
    ],
)
def test_an_empty_path_is_a_usage_error_not_the_current_folder(args: list[str]) -> None:
    """An empty path would name the current folder: a pack read from it, or '.' as output."""
    code, out, err = run(*args)
    assert code == 2 and "the path is empty" in err
    assert out == ""
