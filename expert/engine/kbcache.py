"""The knowledge base, loaded and compiled, kept on disk between commands.

Loading the built-in knowledge base (two hundred YAML files, each validated) and compiling
its patterns into rules take about 0.15 s of every command that assesses, more than the
engine needs for a ten-loop platform. Both depend only on the knowledge-base directories
and on this package's code, so their result is kept, pickled, under a key made of:
- every file and folder of the built-in knowledge base and of each pack: names, kinds,
  links, sizes, times and inodes, and the contents of its YAML files, with each pack's path
  as given and as resolved;
- the source of this package, and the versions of Python, pydantic and PyYAML.
Any change to one of them is a new key, so the knowledge base is loaded and checked afresh.
A pack that loading refuses before reading it (files that are not data, links out of it)
has no key: nothing in it is read here, and loading reports the problem as it would without
the cache. Only a load that succeeded, with nothing changed while it ran, is kept.

Reading an entry back enters the comparisons its patterns declare in this process's table
of derived fields, as loading does (KnowledgeBase.intern_comparisons); loading also entered
those of patterns a pack replaced, which no rule reads, so only they are missing then.

Where: `COHERENCE_CACHE_DIR`, else `coherence-cache-UID` under the system's temporary
directory, created private to the user. A pickle runs code when it is read, so an entry is
read only from a directory the user owns that nobody else may write to, and only if it is a
plain file the user owns that nobody else may write to; anything else is left alone and the
knowledge base is loaded as if there were no cache. `COHERENCE_NO_CACHE=1` turns caching
off. A cache that cannot be read or written only makes a command slower, never an error.
The newest KEEP entries are kept; no other file in the folder is ever touched, except the
half-written entries of a process that died.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import re
import stat
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import pydantic
import yaml

from expert import collector
from expert.engine.compiler import Compiled, compile_kb
from expert.errors import InputError
from expert.knowledge import knowledgebase
from expert.knowledge.knowledgebase import KnowledgeBase

FORMAT = "1"  # raised when what an entry holds changes shape
KEEP = 8  # entries kept: one per knowledge base and code version recently used
ENTRY = re.compile(r"kb-[0-9a-f]{40}\.pickle")  # nothing else in the folder is ever touched
# An entry being written: mkstemp's name with the prefix and suffix _write gives it.
WRITING = re.compile(r"\.kb-[a-z0-9_]{8}\.tmp")
STALE_WRITE_S = 60  # one older than this was left by a process that died


def enabled() -> bool:
    """Whether commands keep the knowledge base (COHERENCE_NO_CACHE unset, empty or 0)."""
    return os.environ.get("COHERENCE_NO_CACHE", "") in ("", "0")


def load(extra_dirs: Sequence[Path] = ()) -> tuple[KnowledgeBase, Compiled]:
    """The knowledge base (built-in plus packs, in order) and its compiled rules, as
    `knowledgebase.load` and `compile_kb` make them: from the cache when nothing they are
    made from has changed. InputError (naming the file) on a problem in the knowledge base,
    raised by loading itself, so a command reports what it would report without the cache."""
    dirs = [knowledgebase.builtin_dir(), *map(Path, extra_dirs)]
    with collector.paused():  # unpickling, like loading, makes many objects at once
        folder = cache_dir()
        key = _key(dirs) if folder else None
        entry = folder / f"kb-{key}.pickle" if folder and key else None
        kept = _read(entry) if entry else None
        if kept is not None:
            return kept
        kb = knowledgebase.load(list(extra_dirs))
        compiled = compile_kb(kb)
        # Kept only if nothing changed while it loaded: else the entry would hold the new
        # files under the old files' key.
        if entry is not None and _key(dirs) == key:
            _write(entry, (kb, compiled))
        return kb, compiled


def cache_dir() -> Path | None:
    """The cache directory, created if missing; None when caching is off or the directory
    is not safe to read pickles from (see the module's text)."""
    geteuid = getattr(os, "geteuid", None)
    if not enabled() or geteuid is None:  # no owners to check (Windows): no cache
        return None
    uid = geteuid()
    given = os.environ.get("COHERENCE_CACHE_DIR")
    try:
        folder = Path(given) if given else Path(tempfile.gettempdir()) / f"coherence-cache-{uid}"
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700, parents=bool(given))
        st = folder.lstat()
    except OSError:  # no usable temporary directory (a read-only system), or no folder
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid or st.st_mode & 0o022:
        return None  # a link, someone else's, or writable by others
    return folder


def _key(dirs: list[Path]) -> str | None:
    """The entry's name: a digest of everything loading and compiling read. None when the
    knowledge base cannot be read through, or a pack is one loading refuses before reading
    it (files that are not data, links out of it): loading then reports why."""
    h = hashlib.blake2b(digest_size=20)
    versions = (FORMAT, sys.version, pydantic.VERSION, yaml.__version__)
    h.update(repr(versions).encode())
    try:
        for n, d in enumerate(dirs):
            if not d.is_dir():
                return None
            if n:  # a pack: checked before any file in it is read
                knowledgebase.check_pack_dir(d)
            h.update(f"\0dir\0{d}\0{d.resolve()}\0".encode())
            if not _digest_tree(h, d, skip_bytecode=n == 0):
                return None
        package = Path(__file__).resolve().parents[1]
        h.update(b"\0code\0")
        for path in sorted(package.rglob("*.py")):
            if not stat.S_ISREG(path.lstat().st_mode):
                continue  # an editor's lock link beside a file it edits, say
            h.update(f"{path.relative_to(package)}\0".encode())
            h.update(path.read_bytes())
    # A link loop is a RuntimeError on Python 3.11.
    except (InputError, OSError, RuntimeError):
        return None
    return h.hexdigest()


def _digest_tree(h: hashlib.blake2b, root: Path, skip_bytecode: bool) -> bool:
    """Add every entry under root (not following links) to the digest: its name, kind, size,
    times and inode, and the contents of the YAML files loading reads. The change time is
    one no tool sets back, so a file edited and then restored with its old modification
    time is still a change. False if the tree cannot be read or is too large."""
    failed: list[OSError] = []
    seen = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False, onerror=failed.append):
        dirnames.sort()
        if skip_bytecode and "__pycache__" in dirnames:  # the built-in package's own
            dirnames.remove("__pycache__")
        seen += len(dirnames) + len(filenames)
        if seen > knowledgebase.MAX_KB_FILES:
            return False
        here = Path(dirpath)
        for name in [*dirnames, *sorted(filenames)]:
            path = here / name
            st = path.lstat()
            h.update(f"\0{path.relative_to(root)}\0{stat.S_IFMT(st.st_mode)}\0".encode())
            if stat.S_ISLNK(st.st_mode):
                # What it points to; the file there is in the pack too (or refused).
                h.update(f"{os.readlink(path)}\0{path.resolve()}".encode())
            elif not stat.S_ISDIR(st.st_mode):
                times = f"{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}"
                h.update(f"{st.st_size}\0{times}".encode())
                if (
                    stat.S_ISREG(st.st_mode)
                    and path.suffix in (".yaml", ".yml")
                    and st.st_size <= knowledgebase.MAX_KB_FILE
                ):
                    h.update(path.read_bytes())
    return not failed


def _read(entry: Path) -> tuple[KnowledgeBase, Compiled] | None:
    """The kept knowledge base and rules, or None: no entry, not a plain file of the user's
    own that only they can write, unreadable, or from an older format (it is then loaded
    afresh and written again)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        # Not blocking: a pipe put in the entry's place must not hang the command.
        fd = os.open(entry, flags | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
            return None
        with open(fd, "rb", closefd=False) as fh:
            data = fh.read()
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        kept = pickle.loads(data)
    # A cut-short or foreign entry fails in many ways (unpickling, a missing class, an
    # attribute that moved): each only means "not cached".
    except Exception:
        return None
    if not (
        isinstance(kept, tuple)
        and len(kept) == 2
        and isinstance(kept[0], KnowledgeBase)
        and isinstance(kept[1], Compiled)
    ):
        return None
    kb, compiled = kept
    kb.intern_comparisons()  # unpickling validates nothing, so enters nothing
    with contextlib.suppress(OSError):
        os.utime(entry)  # recently used: kept longest
    return kb, compiled


def _write(entry: Path, kept: tuple[KnowledgeBase, Compiled]) -> None:
    """Keep an entry (written beside it, then moved into place, so a reader never sees half
    of one) and remove all but the newest KEEP, and half-written ones a dead process left.
    Nothing here may fail a command: a cache that cannot be written is only slower."""
    folder = entry.parent
    try:
        data = pickle.dumps(kept, protocol=pickle.HIGHEST_PROTOCOL)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".kb-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, entry)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    # Pickling can fail in many ways (an object that cannot be pickled, deep recursion).
    except Exception:
        return
    _prune(folder)


def _prune(folder: Path) -> None:
    entries: list[tuple[float, Path]] = []
    now = time.time()
    try:
        names = os.listdir(folder)
    except OSError:  # removed meanwhile
        return
    for name in names:
        path = folder / name
        try:
            st = path.lstat()
        except OSError:
            continue  # removed meanwhile
        if ENTRY.fullmatch(name):
            entries.append((st.st_mtime, path))
        elif WRITING.fullmatch(name) and now - st.st_mtime > STALE_WRITE_S:
            with contextlib.suppress(OSError):
                path.unlink()
    for _, old in sorted(entries, reverse=True)[KEEP:]:
        with contextlib.suppress(OSError):
            old.unlink()
