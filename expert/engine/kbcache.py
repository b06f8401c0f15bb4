"""The knowledge base, loaded and compiled, kept on disk between commands.

Loading the built-in knowledge base (two hundred YAML files, each validated) and compiling
its patterns into rules take about 0.15 s of every command that assesses, more than the
engine needs for a ten-loop platform. Both depend only on the knowledge-base directories
and on this package's code, so their result is kept, pickled, under a key made of:
- every file and folder of the built-in knowledge base and of each pack: names, kinds,
  links, sizes and times, and the contents of the YAML files loading reads, with each
  pack's path as given and as resolved (a pack is first checked as loading checks it, so
  nothing in a pack that loading would refuse is read);
- the source of this package, and the versions of Python, pydantic and PyYAML.
Any change to one of them is a new key, so the knowledge base is loaded and checked afresh:
a pack edited, added to or linked out of its folder is refused exactly as it would be
without the cache. Only a load that succeeded is kept.

Where: `COHERENCE_CACHE_DIR`, else `coherence-cache-UID` under the system's temporary
directory, created private to the user. A pickle runs code when it is read, so a cache is
read only from a directory the user owns that nobody else may write to, and only from files
the user owns; anything else is left alone and the knowledge base is loaded as if there were
no cache. `COHERENCE_NO_CACHE=1` turns caching off. A cache that cannot be read or written
only makes a command slower, never an error. The newest KEEP entries are kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pydantic
import yaml

from expert import collector
from expert.engine.compiler import Compiled, compile_kb
from expert.knowledge import knowledgebase
from expert.knowledge.knowledgebase import KnowledgeBase

FORMAT = "1"  # raised when what an entry holds changes shape
KEEP = 8  # entries kept: one per knowledge base and code version recently used
PREFIX = "kb-"
SUFFIX = ".pickle"


def load(extra_dirs: Sequence[Path] = ()) -> tuple[KnowledgeBase, Compiled]:
    """The knowledge base (built-in plus packs, in order) and its compiled rules, as
    `knowledgebase.load` and `compile_kb` make them: from the cache when nothing they are
    made from has changed. InputError (naming the file) on a problem in the knowledge base."""
    with collector.paused():  # unpickling, like loading, makes many objects at once
        folder = cache_dir()
        key = _key([knowledgebase.builtin_dir(), *map(Path, extra_dirs)]) if folder else None
        entry = folder / f"{PREFIX}{key}{SUFFIX}" if folder and key else None
        kept = _read(entry) if entry else None
        if kept is not None:
            return kept
        kb = knowledgebase.load(list(extra_dirs))
        compiled = compile_kb(kb)
        if entry is not None:
            _write(entry, (kb, compiled))
        return kb, compiled


def cache_dir() -> Path | None:
    """The cache directory, created if missing; None when caching is off or the directory
    is not safe to read pickles from (see the module's text)."""
    if os.environ.get("COHERENCE_NO_CACHE"):
        return None
    getuid = getattr(os, "getuid", None)
    if getuid is None:  # no owners to check (Windows): no cache
        return None
    uid = getuid()
    given = os.environ.get("COHERENCE_CACHE_DIR")
    folder = Path(given) if given else Path(tempfile.gettempdir()) / f"coherence-cache-{uid}"
    try:
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700, parents=bool(given))
        st = folder.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid or st.st_mode & 0o022:
        return None  # a link, someone else's, or writable by others
    return folder


def _key(dirs: list[Path]) -> str | None:
    """The entry's name: a digest of everything loading and compiling read (None when a
    directory cannot be read through, which loading will report). InputError for a pack
    that loading would refuse before reading it (files that are not data, links out of it)."""
    h = hashlib.blake2b(digest_size=20)
    versions = (FORMAT, sys.version, pydantic.VERSION, yaml.__version__)
    h.update(repr(versions).encode())
    for n, d in enumerate(dirs):
        if not d.is_dir():
            return None
        if n:  # a pack: checked as loading checks it, before any file in it is read
            knowledgebase.check_pack_dir(d)
        h.update(f"\0dir\0{d}\0{d.resolve()}\0".encode())
        if not _digest_tree(h, d, skip_bytecode=n == 0):
            return None
    package = Path(__file__).resolve().parents[1]
    h.update(b"\0code\0")
    for path in sorted(package.rglob("*.py")):
        h.update(f"{path.relative_to(package)}\0".encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _digest_tree(h: hashlib.blake2b, root: Path, skip_bytecode: bool) -> bool:
    """Add every entry under root (not following links) to the digest: its name, kind, size
    and times, and the contents of the YAML files loading reads. False if the tree cannot be
    read or is too large."""
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
            try:
                st = path.lstat()
                kind = stat.S_IFMT(st.st_mode)
                h.update(f"\0{path.relative_to(root)}\0{kind}\0".encode())
                if stat.S_ISLNK(st.st_mode):
                    # What it points to; the file there is in the pack too (or refused).
                    h.update(f"{os.readlink(path)}\0{path.resolve()}".encode())
                elif not stat.S_ISDIR(st.st_mode):
                    h.update(f"{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}".encode())
                    if (
                        stat.S_ISREG(st.st_mode)
                        and path.suffix in (".yaml", ".yml")
                        and st.st_size <= knowledgebase.MAX_KB_FILE
                    ):
                        h.update(path.read_bytes())
            except OSError:
                return False
    return not failed


def _read(entry: Path) -> tuple[KnowledgeBase, Compiled] | None:
    """The kept knowledge base and rules, or None (no entry, not the user's own, unreadable,
    or from an older format: it is then loaded afresh and written again)."""
    try:
        fd = os.open(entry, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
            return None
        try:
            data = fh.read()
        except OSError:
            return None
    try:
        kept = pickle.loads(data)
    # A cut-short or foreign entry fails in many ways (unpickling, a missing class, an
    # attribute that moved): each only means "not cached".
    except Exception:
        return None
    if (
        isinstance(kept, tuple)
        and len(kept) == 2
        and isinstance(kept[0], KnowledgeBase)
        and isinstance(kept[1], Compiled)
    ):
        kb, compiled = kept
        kb.intern_comparisons()  # unpickling validates nothing, so enters nothing
        with contextlib.suppress(OSError):
            os.utime(entry)  # recently used: kept longest
        return kb, compiled
    return None


def _write(entry: Path, kept: tuple[KnowledgeBase, Compiled]) -> None:
    """Keep an entry (written beside it, then moved into place, so a reader never sees half
    of one) and remove all but the newest KEEP."""
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
        entries = sorted(
            folder.glob(f"{PREFIX}*{SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True
        )
        for old in entries[KEEP:]:
            old.unlink()
    except (OSError, pickle.PicklingError):
        return
