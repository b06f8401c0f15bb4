"""Exit codes and inputs that cannot be read (issue 10, defects 9 and 6's /dev/zero and FIFO
inputs): Ctrl-C is 130 with one line, a native panic is 3, a lost report on standard output
is 2, a bad path is 2; only regular files (or standard input, `-`) are read, and boundedly."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from expert.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "expert/examples/llm-platform.yaml"
GUARD_S = 300  # a guard against a hang, not a speed check


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def _bounded_memory() -> None:
    # A process that tried to read an endless input fails here instead of filling the machine.
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


def cli(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("stdout", subprocess.PIPE)
    return subprocess.run(  # type: ignore[call-overload]
        [sys.executable, "-m", "expert", *args],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        timeout=GUARD_S,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        **kwargs,
    )


# --- Ctrl-C ---------------------------------------------------------------------------------

# The real entry point, with Ctrl-C delivered by the process itself the moment it imports a
# given module: deterministic, where a timer could miss the window on a fast machine.
INTERRUPTING = textwrap.dedent(
    """
    import os, signal, sys

    target = sys.argv[1]

    class Once:
        def find_spec(self, name, path=None, target_=None):
            if name == target:
                sys.meta_path.remove(self)
                os.kill(os.getpid(), signal.SIGINT)
            return None

    sys.meta_path.insert(0, Once())
    sys.argv = [os.path.join(os.path.dirname(sys.executable), "coherence"), *sys.argv[2:]]
    from expert.cli.main import main
    main()
    """
)


def _as_from_a_shell() -> None:
    # A test runner's worker may ignore SIGINT (pytest-xdist's do), and an ignored signal is
    # inherited; a command started from a shell has it at its default.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def python_as_from_a_shell(*args: str) -> subprocess.CompletedProcess[str]:
    """`python ARGS` in the project, with Ctrl-C at its default as a shell would start it."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=GUARD_S,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        preexec_fn=_as_from_a_shell,
    )


@pytest.mark.parametrize(
    "module",
    [
        "click",  # while the command line itself is still loading
        "expert.render.reports",  # while the report machinery loads, before any command
        "expert.analysis.assess",  # inside the command
    ],
)
def test_ctrl_c_anywhere_is_130_and_one_line(module: str) -> None:
    proc = python_as_from_a_shell("-c", INTERRUPTING, module, "assess", str(EXAMPLE))
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr == "interrupted\n"
    assert proc.stdout == ""


# --- native panics ------------------------------------------------------------------------


class PanicException(BaseException):
    """What pyo3 raises when Rust code panics (pydantic-core under memory pressure)."""


def test_a_native_panic_exits_3_not_1(monkeypatch: pytest.MonkeyPatch) -> None:
    def panic(*args: object) -> None:
        raise PanicException("called `Result::unwrap()` on an `Err` value: alloc failed")

    monkeypatch.setattr("expert.analysis.assess.Assessor.assess", panic)
    code, out, err = run("assess", str(EXAMPLE), "--fail-on", "low")
    assert code == 3 and out == ""
    assert "native component failed" in err and "PanicException" in err
    assert "Traceback" not in err


# --- standard output that cannot take the report ---------------------------------------------


def test_full_standard_output_exits_2() -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    with open("/dev/full", "w") as full:
        proc = cli("assess", str(EXAMPLE), stdout=full)
    assert proc.returncode == 2, proc.stderr
    assert "standard output" in proc.stderr and "No space left" in proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr


def test_closed_standard_output_exits_2() -> None:
    proc = cli("assess", str(EXAMPLE), stdout=None, preexec_fn=lambda: os.close(1))
    assert proc.returncode == 2, proc.stderr
    assert "standard output" in proc.stderr and "closed" in proc.stderr


def test_reader_leaving_early_is_reported() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "expert", "assess", str(EXAMPLE)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(10)
    proc.stdout.close()  # like `| head -c 10`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=GUARD_S) == 2, err
    assert "incomplete" in err and "Traceback" not in err and "Exception ignored" not in err


# --- bad paths ----------------------------------------------------------------------------


def test_unreadable_pack_tree_exits_2() -> None:
    proc = cli("assess", str(EXAMPLE), "--kb", "/proc")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def test_dangling_links_exit_2_and_say_so(tmp_path: Path) -> None:
    link = tmp_path / "platform.yaml"
    link.symlink_to(tmp_path / "nowhere.yaml")
    code, _, err = run("assess", str(link))
    assert code == 2 and "symbolic link" in err and "does not exist" in err
    code, _, err = run("assess", str(EXAMPLE), "--kb", str(link))
    assert code == 2


def test_nul_in_a_path_is_a_usage_error() -> None:
    code, _, err = run("assess", "a\x00b.yaml")
    assert code == 2 and "NUL" in err


# --- inputs that never end or never start -----------------------------------------------------


def test_endless_device_input_is_refused_unopened() -> None:
    proc = cli("assess", "/dev/zero", preexec_fn=_bounded_memory)
    assert proc.returncode == 2, proc.stderr[-500:]
    assert "character device" in proc.stderr and "not a regular file" in proc.stderr


def test_fifo_input_without_a_writer_is_refused_unopened(tmp_path: Path) -> None:
    fifo = tmp_path / "platform.yaml"
    os.mkfifo(fifo)
    proc = cli("assess", str(fifo))
    assert proc.returncode == 2, proc.stderr
    assert "FIFO" in proc.stderr


def test_fifo_pack_file_does_not_hang(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    (pack / "patterns").mkdir(parents=True)
    os.mkfifo(pack / "patterns" / "blocked.yaml")
    proc = cli("kb", "--kb", str(pack), "list")
    assert proc.returncode in (0, 2), proc.stderr  # skipped or refused, never a hang


def test_standard_input_is_read_boundedly() -> None:
    with open("/dev/zero", "rb") as zero:
        proc = cli("assess", "-", stdin=zero, preexec_fn=_bounded_memory)
    assert proc.returncode == 2, proc.stderr[-500:]
    assert "standard input" in proc.stderr and "limit" in proc.stderr
    with open(EXAMPLE, "rb") as source:
        proc = cli("assess", "-", "--format", "json", stdin=source)
    assert proc.returncode == 0, proc.stderr
    assert '"name": "control-coherence"' in proc.stdout


def test_interrupt_handler_is_left_alone_when_imported() -> None:
    """Importing the command line (tests, the interview) must not change Ctrl-C. Checked in a
    fresh interpreter: this process's handler is whatever the test runner set."""
    probe = (
        "import signal; before = signal.getsignal(signal.SIGINT); "
        "import expert.cli.main, interview.app; "
        "raise SystemExit(0 if signal.getsignal(signal.SIGINT) is before "
        "is signal.default_int_handler else 1)"
    )
    proc = python_as_from_a_shell("-c", probe)
    assert proc.returncode == 0, proc.stderr
