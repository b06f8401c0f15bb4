"""Hardened YAML reading and atomic writing.

Assessment files and knowledge-base packs come from users, so reading refuses what could
hurt (huge files, binary data, alias bombs, absurd nesting) with a message instead of a
traceback, and records the line of every key so validation errors can point at it.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from expert.errors import InputError, Problem

MAX_BYTES = 8 * 1024 * 1024
# Read once at import (single-threaded): os.umask can only be read by setting it.
_UMASK = os.umask(0)
os.umask(_UMASK)
MAX_DEPTH = 40

Loc = tuple[str | int, ...]


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that rejects anchors/aliases (the vector for 'billion laughs' bombs)."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError(
                "while reading",
                None,
                "YAML aliases (*name) are not supported in these files",
                event.start_mark,
            )
        return super().compose_node(parent, index)


class LineMap:
    """Maps a location (tuple of keys and indexes) to the line where it was written."""

    def __init__(self, lines: dict[Loc, int] | None = None) -> None:
        self._lines: dict[Loc, int] = {} if lines is None else lines

    def add(self, loc: Loc, line: int) -> None:
        self._lines[loc] = line

    def line(self, loc: Loc) -> int | None:
        """Line of loc, or of its nearest written ancestor."""
        loc = tuple(loc)
        while True:
            if loc in self._lines:
                return self._lines[loc]
            if not loc:
                return None
            loc = loc[:-1]


_PLAIN_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}
_SCALAR = yaml.ScalarNode


class _PlainTagsCLoader(getattr(yaml, "CSafeLoader", _NoAliasLoader)):  # type: ignore[misc]
    """libyaml's loader, resolving the tag of each different plain (unquoted) value once per
    file rather than for each of its nodes: the composer asks for all of them (about 40,000
    in a 1,000-loop assessment, of a few thousand values), and a plain value's tag depends
    on the value alone while no path resolvers are registered."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._plain_tags: dict[str, str] | None = None if self.yaml_path_resolvers else {}
        # Any other node's tag is its kind's default, whatever its value (quoted strings,
        # mappings and sequences: about 9,000 in a 1,000-loop assessment).
        self._default_tags = {
            yaml.ScalarNode: self.DEFAULT_SCALAR_TAG,
            yaml.SequenceNode: self.DEFAULT_SEQUENCE_TAG,
            yaml.MappingNode: self.DEFAULT_MAPPING_TAG,
        }

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        plain = self._plain_tags
        if plain is None:
            return super().resolve(kind, value, implicit)
        if kind is _SCALAR and implicit[0]:
            tag = plain.get(value)
            if tag is None:
                tag = plain[value] = super().resolve(kind, value, implicit)
            return tag
        return self._default_tags[kind]


# libyaml's parser is ~10x faster; aliases are then caught by node identity in _convert.
_FastLoader = _PlainTagsCLoader if hasattr(yaml, "CSafeLoader") else _NoAliasLoader
# A plain string scalar is read as its text (tens of thousands per large assessment), so
# long as both loaders construct strings the stock way.
_STR_TAG = "tag:yaml.org,2002:str"
assert all(
    loader.yaml_constructors.get(_STR_TAG) is yaml.constructor.SafeConstructor.construct_yaml_str
    for loader in (_FastLoader, _NoAliasLoader)
)


def _convert(
    loader: Any, root: yaml.Node, lines: dict[Loc, int], source: str, anchored: bool
) -> Any:
    """Plain data from a composed document, with the line of every location in `lines`:
    a mapping's key and its value at the key's line, the mapping itself at its last key's.
    Refuses aliases, tags on mappings and sequences, and nesting deeper than MAX_DEPTH.
    `anchored`: whether the text holds an `&`, without which it defines no anchor, so has no
    alias (an alias to no anchor fails to compose) and no node twice in the tree."""
    seen: set[int] = set()  # nodes met: the composer shares one between an anchor and aliases

    def first_time(node: yaml.Node) -> bool:
        """Whether the node was not met before (now it has been)."""
        if not anchored:  # no node can be met twice: ~40,000 ids not kept for nothing
            return True
        if id(node) in seen:
            return False
        seen.add(id(node))
        return True

    scalar = yaml.ScalarNode
    # Most nodes are plain text: a string within the depth limit, met for the first time
    # (and now met), whose value is its text with nothing in it to check. The test is
    # written out where a mapping or sequence takes its items, not called (about 40,000
    # nodes at 1,000 loops); without anchors every node is met once, so first_time is not.
    once = first_time if anchored else None

    def refused(node: yaml.Node, message: str, fix: str) -> InputError:
        return InputError(Problem(source, message, line=node.start_mark.line + 1, fix=fix))

    def convert(node: yaml.Node, loc: Loc, depth: int) -> Any:
        if not first_time(node):
            raise refused(
                node,
                "YAML aliases (*name) are not supported in these files",
                "write the value out in full where it is used",
            )
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN_TAGS:
            raise refused(
                node,
                f"YAML tag {node.tag!r} is not supported in these files",
                "remove the tag (the part starting with '!'); files hold plain data only",
            )
        if depth > MAX_DEPTH:
            raise refused(
                node,
                f"nesting deeper than {MAX_DEPTH} levels",
                "flatten the structure; no valid file nests this deep",
            )
        lines[loc] = node.start_mark.line + 1
        if node.__class__ is scalar and node.tag == _STR_TAG:
            return node.value  # what the loader's own str constructor returns
        inner = depth + 1
        # Deeper than the limit, convert() refuses every node: none is taken as text here.
        shallow = inner <= MAX_DEPTH
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                # A plain key or value is taken here, as convert() would take it.
                if (
                    shallow
                    and key_node.__class__ is scalar
                    and key_node.tag == _STR_TAG
                    and (once is None or once(key_node))
                ):
                    key = key_node.value
                    lines[loc] = key_node.start_mark.line + 1
                else:
                    key = convert(key_node, loc, inner)
                    if not isinstance(key, (str, int)):
                        raise InputError(
                            Problem(
                                source,
                                "mapping keys must be plain words",
                                line=key_node.start_mark.line + 1,
                            )
                        )
                if key in out:
                    raise refused(
                        key_node,
                        f"key {key!r} appears twice in the same mapping",
                        "remove or rename one of them",
                    )
                here = (*loc, key)
                if (
                    shallow
                    and value_node.__class__ is scalar
                    and value_node.tag == _STR_TAG
                    and (once is None or once(value_node))
                ):
                    out[key] = value_node.value
                else:
                    out[key] = convert(value_node, here, inner)
                lines[here] = key_node.start_mark.line + 1
            return out
        if isinstance(node, yaml.SequenceNode):
            items: list[Any] = []
            for i, item in enumerate(node.value):
                if (
                    shallow
                    and item.__class__ is scalar
                    and item.tag == _STR_TAG
                    and (once is None or once(item))
                ):
                    lines[(*loc, i)] = item.start_mark.line + 1
                    items.append(item.value)
                else:
                    items.append(convert(item, (*loc, i), inner))
            return items
        try:
            return loader.construct_object(node)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError):
            raise refused(node, *_unreadable(node)) from None

    return convert(root, (), 0)


def _unreadable(node: yaml.Node) -> tuple[str, str]:
    """What is wrong with a value the loader could not build, and the fix, in words: the
    loader's own messages name tags and Python types."""
    text = str(node.value)[:80] if isinstance(node, yaml.ScalarNode) else ""
    standard = node.tag.startswith("tag:yaml.org,2002:")
    tag = node.tag.removeprefix("tag:yaml.org,2002:")
    if not standard or tag not in ("merge", "timestamp", "int", "float"):
        return (
            f"YAML tag {node.tag!r} is not supported in these files",
            "remove the tag (the part starting with '!'); files hold plain data only",
        )
    if tag == "merge":
        return (
            "YAML merge keys (<<) are not supported in these files",
            "write the keys out in full where they are used",
        )
    if tag == "timestamp":
        return (
            f'"{text}" is not a valid date',
            "write a date as YYYY-MM-DD (2026-05-02), or put it in quotes to keep it as text",
        )
    return (
        f'"{text}" is not a number',
        "write a number, or remove the tag (the part starting with '!')",
    )


def parse_yaml_text(text: str, source: str) -> tuple[Any, LineMap]:
    """Parse YAML text into plain Python data plus a LineMap; InputError on any problem.

    The fast (libyaml) parser reads valid files; when it fails, the pure-Python parser reads
    the file again because its messages name the offending character and construct.
    """
    documents = _parse_with_fallback(text, source, single=True)
    return documents[0] if documents else (None, LineMap())


def parse_yaml_documents(text: str, source: str) -> list[tuple[Any, LineMap]]:
    """Every non-empty document of a YAML stream (`kubectl get`, `helm template` output),
    each with its own LineMap; InputError on any problem, as parse_yaml_text."""
    return _parse_with_fallback(text, source, single=False)


def _parse_with_fallback(text: str, source: str, single: bool) -> list[tuple[Any, LineMap]]:
    if _FastLoader is _NoAliasLoader:
        return _parse(_NoAliasLoader, text, source, single)
    try:
        return _parse(_FastLoader, text, source, single)
    except _SyntaxProblem:
        return _parse(_NoAliasLoader, text, source, single)


class _SyntaxProblem(InputError):
    """A parse error worth a second opinion from the more precise parser."""


def _parse(loader_cls: Any, text: str, source: str, single: bool) -> list[tuple[Any, LineMap]]:
    try:
        loader = loader_cls(text)  # the pure-Python reader checks characters right here
    except yaml.YAMLError as exc:
        raise InputError(
            Problem(source, f"not valid YAML: {exc}", fix="remove control characters from the file")
        ) from None
    documents: list[tuple[Any, LineMap]] = []
    try:
        while single or loader.check_node():
            node = _next_node(loader, source, single)
            if node is not None:
                lines: dict[Loc, int] = {}
                try:
                    data = _convert(loader, node, lines, source, anchored="&" in text)
                except (yaml.YAMLError, ValueError, TypeError) as exc:
                    raise _SyntaxProblem(Problem(source, f"cannot read a value: {exc}")) from None
                documents.append((data, LineMap(lines)))
            if single:
                break
        return documents
    except yaml.MarkedYAMLError as exc:  # from check_node, between documents
        raise _syntax_problem(exc, source) from None
    finally:
        loader.dispose()


def _next_node(loader: Any, source: str, single: bool) -> Any:
    """The next document's node (None for an empty one); one document only when `single`."""
    try:
        return loader.get_single_node() if single else loader.get_node()
    except yaml.MarkedYAMLError as exc:
        raise _syntax_problem(exc, source) from None
    except yaml.YAMLError as exc:
        raise _SyntaxProblem(Problem(source, f"not valid YAML: {exc}")) from None
    except RecursionError:
        raise InputError(
            Problem(source, "nesting too deep to read", fix="flatten the structure")
        ) from None


def _syntax_problem(exc: yaml.MarkedYAMLError, source: str) -> _SyntaxProblem:
    mark = exc.problem_mark or exc.context_mark
    what = exc.problem or exc.context or "invalid YAML"
    return _SyntaxProblem(
        Problem(
            source,
            f"not valid YAML: {what}",
            line=mark.line + 1 if mark else None,
            fix="check indentation, quotes and colons around this line",
        )
    )


STDIN = "-"

_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _not_regular(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _too_large(source: str, what: str, size: float, max_bytes: int) -> InputError:
    return InputError(
        Problem(
            source,
            f"{what} is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB",
            fix=(
                "an assessment is a description of control loops; split or trim it"
                if what.startswith("assessment")
                else "a knowledge-base file holds one pattern, its cases or one list; "
                "check it is the file you meant, or split it"
            ),
        )
    )


def _read_bounded(read: Any, limit: int) -> bytes:
    """At most `limit` bytes from `read(n)`, however much the source could still give."""
    chunks, total = [], 0
    while total < limit:
        chunk = read(min(1 << 20, limit - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _read_regular(path: Path, source: str, what: str, max_bytes: int) -> bytes:
    """The bytes of a regular file, checked with stat before it is opened: opening a FIFO
    blocks until a writer comes, and a device such as /dev/zero never ends."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise InputError(
                Problem(
                    source,
                    f"is a symbolic link to {os.readlink(path)}, which does not exist",
                    fix="fix or remove the link, or give the file it should point to",
                )
            ) from None
        raise InputError(
            Problem(
                source,
                f"{what} not found",
                fix="check the path (it is relative to the current directory)",
            )
        ) from None
    except OSError as exc:
        raise InputError(Problem(source, f"cannot read {what}: {exc.strerror}")) from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(
            Problem(
                source,
                f"is a directory, not {'an' if what[:1] in 'aeiou' else 'a'} {what}",
                fix="give the path of a .yaml file inside it",
            )
        )
    if not stat.S_ISREG(info.st_mode):
        raise InputError(
            Problem(
                source,
                f"is {_not_regular(info.st_mode)}, not a regular file",
                fix="give a file; to read from a pipe, give - and redirect the pipe to "
                "standard input",
            )
        )
    if info.st_size > max_bytes:
        raise _too_large(source, what, info.st_size, max_bytes)
    try:
        # O_NONBLOCK: if a FIFO was swapped in after the stat, opening it must not block.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise InputError(Problem(source, f"cannot read {what}: {exc.strerror}")) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputError(
                Problem(source, "changed into something other than a regular file while read")
            )
        raw = _read_bounded(lambda n: os.read(fd, n), max_bytes + 1)
    except BlockingIOError:  # a regular-looking file that behaves like a stream (/proc/kmsg)
        raise InputError(
            Problem(source, f"cannot read {what}: it has no data ready", fix="give a file")
        ) from None
    except OSError as exc:
        raise InputError(Problem(source, f"cannot read {what}: {exc.strerror}")) from None
    finally:
        os.close(fd)
    if len(raw) > max_bytes:  # it grew after the stat (or /proc-style: size 0, data on read)
        raise _too_large(source, what, len(raw), max_bytes)
    return raw


def _read_stdin(what: str, max_bytes: int) -> bytes:
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise InputError(Problem("<standard input>", "is closed", fix="give a file name"))
    try:
        raw = _read_bounded(stream.read, max_bytes + 1)
    except OSError as exc:
        raise InputError(Problem("<standard input>", f"cannot read: {exc.strerror}")) from None
    if len(raw) > max_bytes:
        raise _too_large("<standard input>", what, len(raw), max_bytes)
    return raw


def read_text(path: Path, *, max_bytes: int = MAX_BYTES, what: str = "file") -> str:
    """Read a UTF-8 text file defensively; InputError naming the path on any problem.

    Only a regular file is read, or standard input when the path is `-`; either way at most
    `max_bytes` are read, so a device or an endless pipe is refused instead of exhausting
    memory or hanging.
    """
    source = str(path)
    if source == STDIN:
        raw = _read_stdin(what, max_bytes)
    else:
        raw = _read_regular(Path(path), source, what, max_bytes)
    for bom, encoding in (
        (b"\xff\xfe\x00\x00", "UTF-32"),
        (b"\x00\x00\xfe\xff", "UTF-32"),
        (b"\xff\xfe", "UTF-16"),
        (b"\xfe\xff", "UTF-16"),
    ):
        if raw.startswith(bom):
            raise InputError(
                Problem(
                    source,
                    f"{what} is {encoding} text; it must be UTF-8",
                    fix=f"save the file as UTF-8 (e.g. iconv -f {encoding} -t UTF-8)",
                )
            )
    head = raw[:512]
    if len(head) >= 8 and b"\x00" in head and (not any(head[1::2]) or not any(head[0::2])):
        raise InputError(  # ASCII text in UTF-16 has a NUL in every other byte
            Problem(
                source,
                f"{what} looks like UTF-16 text; it must be UTF-8",
                fix="save the file as UTF-8 (e.g. iconv -f UTF-16LE -t UTF-8)",
            )
        )
    if b"\x00" in raw[:8192]:
        raise InputError(
            Problem(source, f"{what} looks binary, not YAML text", fix="give a YAML text file")
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            Problem(
                source, f"{what} is not UTF-8 text (byte {exc.start})", fix="save the file as UTF-8"
            )
        ) from None
    if not text.strip():
        raise InputError(
            Problem(
                source,
                f"{what} is empty",
                fix="start from `coherence example llm-platform -o FILE`",
            )
        )
    return text


def load_yaml(path: Path, *, max_bytes: int = MAX_BYTES, what: str = "file") -> tuple[Any, LineMap]:
    """Read and parse a YAML file; see read_text and parse_yaml_text."""
    return parse_yaml_text(read_text(path, max_bytes=max_bytes, what=what), str(path))


def atomic_write_text(path: Path, text: str) -> None:
    """Write text so that readers see the old file or the new one, never a torn one."""
    path = Path(path)
    # mkstemp creates 0600; keep the file's own mode, or the umask default for a new file.
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~_UMASK
    fd, tmp = tempfile.mkstemp(dir=path.parent or Path("."), prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent or Path("."), os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


# A writer's own temporary lives for milliseconds; one older than this was left by a process
# killed between creating it and renaming it over the target.
STALE_TEMPORARY_S = 5.0


def remove_stale_temporaries(path: Path, older_than_s: float = STALE_TEMPORARY_S) -> list[Path]:
    """Delete the temporary files an interrupted atomic write left beside `path` (its own
    `.NAME.xxxxxxxx.tmp` and its sidecars'); a killed process cannot clean up after itself.
    Returns what was removed. Anything else in the directory is never touched."""
    path = Path(path)
    own = re.compile(rf"^\.{re.escape(path.name)}\.(?:interview\.json\.)?[a-z0-9_]{{8}}\.tmp$")
    removed = []
    now = time.time()
    try:
        candidates = [p for p in (path.parent or Path(".")).iterdir() if own.match(p.name)]
    except OSError:
        return []
    for candidate in candidates:
        with contextlib.suppress(OSError):
            if candidate.is_file() and now - candidate.stat().st_mtime > older_than_s:
                candidate.unlink()
                removed.append(candidate)
    return removed


def dump_yaml(data: Any) -> str:
    """YAML text in a stable, human-friendly layout (keys in model order, block style)."""
    return yaml.safe_dump(
        data, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False
    )
