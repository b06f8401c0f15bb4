"""The one output routine: how every command writes a report, an example or a schema.

What `-o PATH` does depends on what PATH is, looked up with stat (symbolic links, including
`/dev/stdout` and `/dev/fd/N`, are followed and judged by what they point to):

- `-`, or no `-o`: printed to standard output through `expert.terminal.echo` (cleaned).
- a new path, or an existing regular file: written atomically (a temporary file beside it,
  fsync, rename), so a reader sees the old file or the new one, never a torn one.
- a character device (a terminal, /dev/null) or a FIFO: written directly, never renamed over
  (renaming would replace the device node with a regular file). A terminal gets cleaned text.
- a descriptor link (`/dev/stdout`, `/dev/fd/N`) to a pipe, socket or terminal: written to
  that descriptor.
- a directory, block device or socket path: refused.

Two refusals protect the user's data, each with exit code 2 and nothing written:

- an output that is an input (same file by device and inode, so hard links and symbolic
  links are caught too), or lies inside a folder it reads (a `--kb` pack, configuration to
  import);
- an existing regular file that this tool did not write, unless `--force` is given.

**How "this tool wrote it" is recognised.** By the file's own content, so it works on any
machine, in a fresh CI checkout and after a copy, and needs no state kept anywhere else.
Every format the tool writes carries a mark that belongs to the format itself:

- JSON results, SARIF and report manifests: `"name": "control-coherence"` (the tool field)
  near the start of a JSON object;
- HTML: `<meta name="generator" content="control-coherence ...">`;
- Markdown: the title line `# Control-coherence assessment: ...` it always starts with (a
  diff: `# Control-coherence diff`; a diff in text starts `Control-coherence diff: `);
- CSV: the exact header row the tool writes (CSV has no comments; the header is the mark);
- JSON Schemas: the draft-2020-12 `$schema` with the title of one of the tool's schemas;
- an example assessment: byte-for-byte equal to a built-in example. An example is meant to
  be edited, so a copy that was changed is the user's work and is never replaced silently.
- an empty file holds nothing to lose (e.g. one a shell redirection just created).

A report the user edited by hand still carries its mark and is replaced like any report;
reports are regenerated, assessments and packs (the inputs) are what the user edits.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import stat
import sys
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import click

from expert import terminal
from expert.errors import OutputError, Problem
from expert.yamlio import atomic_write_text

STDOUT = "-"
_PROBE = 8192  # bytes read from each end of an existing file to find the mark

_JSON_TOOL = re.compile(rb'"name": "control-coherence"')
_HTML_MARK = b'<meta name="generator" content="control-coherence'
_MARKDOWN_MARK = b"# Control-coherence assessment:"
# A diff's first line, in Markdown and in text (expert.analysis.diff.DIFF_TITLE, DIFF_HEAD).
_DIFF_MARKS = (b"# Control-coherence diff\n", b"Control-coherence diff: ")
_SCHEMA_MARK = b'"$schema": "https://json-schema.org/draft/2020-12/schema"'
_FD_LINK = re.compile(r"^(?:/proc/(?:self|\d+)/fd|/dev/fd)/(\d+)$")


@lru_cache(maxsize=1)
def _csv_header() -> bytes:
    from expert.render.csvout import COLUMNS

    return (",".join(COLUMNS) + "\r\n").encode()


@lru_cache(maxsize=1)
def _schema_titles() -> tuple[bytes, ...]:
    from expert.knowledge.schema import all_schemas

    return tuple(f'"title": "{s["title"]}"'.encode() for s in all_schemas().values())


@lru_cache(maxsize=1)
def example_texts() -> frozenset[bytes]:
    """The built-in examples, as written by `coherence example`."""
    from importlib import resources

    base = Path(str(resources.files("expert") / "examples"))
    return frozenset(p.read_bytes() for p in base.glob("*.yaml"))


def written_by_us(path: Path) -> bool:
    """True if the regular file at `path` carries one of the marks above (see the module
    docstring), or is empty."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return False
        if info.st_size == 0:
            return True
        head = os.pread(fd, _PROBE, 0)
        tail = os.pread(fd, _PROBE, max(0, info.st_size - _PROBE))
        if info.st_size in {len(t) for t in example_texts()}:
            whole = os.pread(fd, info.st_size, 0)
            if whole in example_texts():
                return True
    except OSError:
        return False
    finally:
        os.close(fd)
    if head.startswith((_MARKDOWN_MARK, *_DIFF_MARKS, _csv_header())) or _HTML_MARK in head:
        return True
    if head.lstrip().startswith(b"{"):
        if _JSON_TOOL.search(head):
            return True
        ends = head + tail
        if _SCHEMA_MARK in ends and any(t in ends for t in _schema_titles()):
            return True
    return False


class PathParam(click.Path):
    """A path option or argument: click's own, but a NUL character (which no path can hold
    and os.stat rejects with ValueError) is a usage error with exit code 2, not a crash, and
    so is an empty path, which would otherwise name the current folder (`--kb ''` read it
    as a pack, `-o ''` reported it as '.')."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and "\x00" in value:
            self.fail("a path cannot contain a NUL character", param, ctx)
        if isinstance(value, str) and not value.strip():
            self.fail("the path is empty; give a file or folder name", param, ctx)
        return super().convert(value, param, ctx)


def _identity(path: Path | str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _inside(path: Path, directory: Path) -> bool:
    try:
        return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(directory))
    except OSError:
        return False


def check_not_input(output: Path, inputs: Iterable[Path | str]) -> None:
    """Refuse an output that is one of the inputs, or lies inside an input directory."""
    target = _identity(output)
    for item in inputs:
        if str(item) == STDOUT:
            continue
        item = Path(item)
        if target is not None and target == _identity(item):
            raise OutputError(
                Problem(
                    str(output),
                    f"is the input {item}; writing there would destroy it",
                    fix="give a different output path",
                )
            )
        if item.is_dir() and _inside(output, item):
            # A folder an input is read from: a knowledge-base pack, or configuration to import.
            raise OutputError(
                Problem(
                    str(output),
                    f"lies inside {item}, a folder this command reads; writing there would "
                    "change what it reads next time",
                    fix=f"write outside {item}",
                )
            )


def _fd_link(path: Path) -> int | None:
    """The descriptor number if `path` leads (through symbolic links) to one of this
    process's descriptor links, such as /dev/stdout -> /proc/self/fd/1."""
    current = os.path.abspath(path)
    for _ in range(40):
        match = _FD_LINK.match(current)
        if match and (current.startswith(("/dev/fd/", "/proc/self/")) or _own_pid(current)):
            return int(match.group(1))
        try:
            link = os.readlink(current)
        except OSError:
            return None
        current = os.path.normpath(os.path.join(os.path.dirname(current), link))
    return None


def _own_pid(path: str) -> bool:
    return path.startswith(f"/proc/{os.getpid()}/")


def _write_fd(fd: int, data: bytes, shown: str) -> None:
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    except OSError as exc:
        raise OutputError(Problem(shown, f"cannot write: {exc.strerror}")) from None


def _encode(text: str, fd: int) -> bytes:
    return (terminal.clean(text) if os.isatty(fd) else text).encode("utf-8")


def _write_stream(path: Path, text: str) -> None:
    """Write into a character device or FIFO in place; never create, truncate or rename."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise OutputError(Problem(str(path), f"cannot write: {exc.strerror}")) from None
    try:
        _write_fd(fd, _encode(text, fd), str(path))
    finally:
        os.close(fd)


def _refuse_kind(path: Path, mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise OutputError(Problem(str(path), "is a directory", fix="give a file name for -o"))
    if stat.S_ISBLK(mode):
        raise OutputError(
            Problem(str(path), "is a block device; a report would overwrite it", fix="give a file")
        )
    if stat.S_ISSOCK(mode):
        raise OutputError(Problem(str(path), "is a socket", fix="give a file name for -o"))


def check_replaceable(path: Path, force: bool) -> None:
    """Refuse to replace an existing regular file this tool did not write, unless forced."""
    if force or not path.exists() or written_by_us(path):
        return
    raise OutputError(
        Problem(
            str(path),
            "exists and was not written by coherence (or was edited since)",
            fix="give a new file name, or add --force to replace it",
        )
    )


def _plan(path: Path, inputs: Sequence[Path | str], force: bool) -> tuple[str, int, Path]:
    """How `path` is written: ("fd", descriptor, path), ("stream", -1, path) for a device
    or FIFO opened in place, or ("file", -1, real path) for an atomic write; refusals raise."""
    check_not_input(path, inputs)
    fd = _fd_link(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise OutputError(
                Problem(
                    str(path),
                    f"is a symbolic link to {os.readlink(path)}, which does not exist",
                    fix="fix or remove the link, or give another output path",
                )
            ) from None
        if not path.parent.is_dir():
            raise OutputError(
                Problem(
                    str(path), "its directory does not exist", fix=f"create {path.parent} first"
                )
            ) from None
        return "file", -1, path
    except OSError as exc:
        raise OutputError(Problem(str(path), f"cannot write: {exc.strerror}")) from None
    if not stat.S_ISREG(info.st_mode):
        if fd is None or stat.S_ISDIR(info.st_mode):
            _refuse_kind(path, info.st_mode)  # returns for a character device or a FIFO
        return ("fd", fd, path) if fd is not None else ("stream", -1, path)
    # A regular file: its real path, so a symbolic link is kept and its target replaced.
    real = Path(os.path.realpath(path))
    check_replaceable(real, force)
    return "file", -1, real


def check_target(path: Path, *, inputs: Sequence[Path | str] = (), force: bool = False) -> None:
    """Raise OutputError now if `write` would refuse `path` (so no work is wasted)."""
    if str(path) != STDOUT:
        _plan(Path(path), inputs, force)


def write(
    text: str,
    output: Path | str | None,
    *,
    inputs: Sequence[Path | str] = (),
    force: bool = False,
    announce: bool = True,
) -> None:
    """Write `text` to `output` (None or `-` for standard output); see the module docstring."""
    if output is None or str(output) == STDOUT:
        terminal.echo(text, nl=False)
        return
    path = Path(output)
    how, fd, real = _plan(path, inputs, force)
    if how == "fd":
        if fd == 1 and sys.stdout is not None:
            with contextlib.suppress(OSError, ValueError):
                sys.stdout.flush()
        _write_fd(fd, _encode(text, fd), str(path))
        return
    if how == "stream":
        _write_stream(path, text)
        return
    try:
        atomic_write_text(real, text)
    except OSError as exc:
        raise OutputError(Problem(str(path), f"cannot write: {exc.strerror}")) from None
    if announce:
        terminal.echo(f"wrote {path}", err=True)


# --- a set of reports in one directory -------------------------------------------------

_STAGING = re.compile(r"^\.(?P<name>.+)\.coherence-[0-9a-f]{8}$")
STALE_STAGING_S = 60.0


def _remove_stale_staging(parent: Path, name: str) -> None:
    """Staging folders a killed run left beside the output folder (they cannot clean up
    after themselves); only folders named like ours, for this output, and not recent."""
    import time

    now = time.time()
    try:
        entries = list(parent.iterdir())
    except OSError:
        return
    for entry in entries:
        match = _STAGING.match(entry.name)
        if not match or match.group("name") != name:
            continue
        with contextlib.suppress(OSError):
            old = now - entry.stat().st_mtime > STALE_STAGING_S
            if old and entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_new(path: Path, text: str) -> None:
    with open(path, "x", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def check_set(
    directory: Path,
    names: Iterable[str],
    *,
    inputs: Sequence[Path | str] = (),
    force: bool = False,
) -> None:
    """Raise OutputError if `write_set` would refuse to write `names` into `directory`."""
    directory = Path(directory)
    if os.path.islink(directory) and not directory.exists():
        raise OutputError(
            Problem(
                str(directory),
                f"is a symbolic link to {os.readlink(directory)}, which does not exist",
                fix="fix or remove the link, or give another directory",
            )
        )
    if directory.exists() and not directory.is_dir():
        raise OutputError(
            Problem(str(directory), "exists and is not a directory", fix="give a directory for -o")
        )
    for item in inputs:
        if str(item) == STDOUT:
            continue
        if Path(item).is_file() and _inside(Path(item), directory):
            raise OutputError(
                Problem(
                    str(directory),
                    f"holds the input {item}; reports are kept apart from what they report on",
                    fix="give another directory, e.g. -o reports/",
                )
            )
    check_not_input(directory, inputs)
    parent = directory.parent
    if not parent.is_dir():
        raise OutputError(
            Problem(str(directory), "its parent directory does not exist", fix="create it first")
        )
    if directory.exists():
        for name in names:
            target = directory / name
            if target.is_symlink() or (target.exists() and not target.is_file()):
                raise OutputError(
                    Problem(
                        str(target),
                        "is not a regular file",
                        fix="remove it, or give another directory",
                    )
                )
            check_replaceable(target, force)


def write_set(
    files: dict[str, str],
    directory: Path,
    *,
    inputs: Sequence[Path | str] = (),
    force: bool = False,
    manifest: str,
) -> list[Path]:
    """Write `files` (name -> text) into `directory` as one set, or not at all.

    Every file is first written and fsynced into a staging folder beside `directory` (same
    file system, so the moves below are renames). A new `directory` is then the staging
    folder renamed into place, whole. In an existing one the set's old manifest is removed,
    each file is renamed over its old version, and the manifest (`manifest`, listing every
    file with its SHA-256) is written last: a set without its manifest is incomplete.
    Any failure before the moves removes the staging folder and leaves `directory` as it
    was (not even created). Other files in `directory` are never touched.
    """
    import hashlib
    import json

    from expert import __version__

    directory = Path(directory)
    check_set(directory, [*files, manifest], inputs=inputs, force=force)
    parent = directory.parent
    _remove_stale_staging(parent, directory.name)
    staging = parent / f".{directory.name}.coherence-{secrets.token_hex(4)}"
    record = {
        "tool": {"name": "control-coherence", "version": __version__},
        "files": {
            name: "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
            for name, text in files.items()
        },
    }
    manifest_text = json.dumps(record, indent=2) + "\n"
    try:
        os.mkdir(staging)
    except OSError as exc:
        raise OutputError(
            Problem(str(directory), f"cannot create a folder beside it: {exc.strerror}")
        ) from None
    try:
        for name, text in [*files.items(), (manifest, manifest_text)]:
            _write_new(staging / name, text)
        _fsync_dir(staging)
        if not directory.exists():
            os.rename(staging, directory)
            _fsync_dir(parent)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(directory / manifest)
            for name in files:
                os.replace(staging / name, directory / name)
            os.replace(staging / manifest, directory / manifest)
            _fsync_dir(directory)
            os.rmdir(staging)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputError(
            Problem(str(directory), f"cannot write the reports: {exc.strerror}")
        ) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [directory / name for name in [*files, manifest]]
