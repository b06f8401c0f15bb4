"""The knowledge base kept between commands (expert/engine/kbcache.py): a kept one gives the
findings a fresh one gives, any change to what it was made from loads it afresh, and a cache
that is unsafe, damaged or switched off is passed over without an error."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from expert.engine import kbcache
from expert.errors import InputError
from expert.knowledge import knowledgebase
from tests.helpers import OUTLASTING_RETRIES

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("COHERENCE_CACHE_DIR", str(folder))
    monkeypatch.delenv("COHERENCE_NO_CACHE", raising=False)
    return folder


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("kb-*.pickle"))


def no_fresh_load(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("loaded afresh, not from the cache")

    monkeypatch.setattr(knowledgebase, "load", refuse)


def make_pack(root: Path) -> Path:
    """A pack overriding one built-in pattern with a new title."""
    pack = root / "pack"
    (pack / "patterns").mkdir(parents=True)
    source = ROOT / "knowledge_base/patterns/incoherence/preemption-outpaces-checkpointing.yaml"
    text = source.read_text()
    assert "\ntitle:" in text
    title = "title: Checkpoints older than the eviction notice"
    lines = [title if line.startswith("title:") else line for line in text.splitlines()]
    lines.append("overrides: {reason: our own wording}")
    (pack / "patterns" / source.name).write_text("\n".join(lines) + "\n")
    return pack


def test_a_second_load_reads_the_kept_knowledge_base(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb, compiled = kbcache.load()
    [entry] = entries(cache)
    assert cache.stat().st_mode & 0o777 == 0o700
    assert entry.stat().st_mode & 0o777 == 0o600
    no_fresh_load(monkeypatch)
    kept_kb, kept_rules = kbcache.load()
    assert kept_kb is not kb
    assert kept_kb.record() == kb.record()
    assert sorted(kept_kb.patterns) == sorted(kb.patterns)
    assert kept_rules.key == compiled.key
    assert kept_rules.rulesets == compiled.rulesets


def _assess(case: Path, env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-m", "expert", "assess", str(case), "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_a_kept_knowledge_base_finds_what_a_fresh_one_finds(tmp_path: Path) -> None:
    """In a new process, as every command is: the comparisons a pattern declares become
    fields of the facts only if this process knows them."""
    case = tmp_path / "route.yaml"
    case.write_text(OUTLASTING_RETRIES)
    env = {**os.environ, "COHERENCE_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("COHERENCE_NO_CACHE", None)
    first = _assess(case, env)  # loads, compiles and keeps
    assert entries(tmp_path / "cache")
    second = _assess(case, env)  # reads what the first kept
    fresh = _assess(case, {**env, "COHERENCE_NO_CACHE": "1"})
    assert "retries-outlast-timeout" in {f["rule"] for f in fresh["findings"]}  # type: ignore[index]
    assert first == second == fresh


def test_an_edited_pack_is_loaded_afresh(cache: Path, tmp_path: Path) -> None:
    pack = make_pack(tmp_path)
    kb, _ = kbcache.load([pack])
    assert kb.patterns["preemption-outpaces-checkpointing"].title.startswith("Checkpoints older")
    edited = pack / "patterns" / "preemption-outpaces-checkpointing.yaml"
    edited.write_text(edited.read_text().replace("Checkpoints older", "Checkpoints later"))
    kb, _ = kbcache.load([pack])
    assert kb.patterns["preemption-outpaces-checkpointing"].title.startswith("Checkpoints later")
    assert len(entries(cache)) == 2
    # The built-in knowledge base alone is another entry again, with its own title.
    builtin, _ = kbcache.load()
    assert builtin.packs == ["built-in"]
    assert not builtin.patterns["preemption-outpaces-checkpointing"].title.startswith(
        ("Checkpoints older", "Checkpoints later")
    )


def test_a_pack_refused_is_refused_again_and_never_kept(cache: Path, tmp_path: Path) -> None:
    pack = make_pack(tmp_path)
    kbcache.load([pack])
    # A file that is not data makes the pack unsafe: the kept entry no longer matches.
    (pack / "patterns" / "hook.py").write_text("print('hello')\n")
    for _ in range(2):
        with pytest.raises(InputError, match="data only"):
            kbcache.load([pack])
    assert len(entries(cache)) == 1


def test_a_link_out_of_a_pack_is_refused_after_a_kept_load(cache: Path, tmp_path: Path) -> None:
    pack = make_pack(tmp_path)
    kbcache.load([pack])
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text("- {}\n")
    (pack / "questions").mkdir()
    (pack / "questions" / "more.yaml").symlink_to(outside)
    with pytest.raises(InputError, match="outside its knowledge-base directory"):
        kbcache.load([pack])


def test_a_damaged_entry_is_loaded_afresh_and_replaced(cache: Path) -> None:
    kb, _ = kbcache.load()
    [entry] = entries(cache)
    good = entry.read_bytes()
    for damage in (b"", good[: len(good) // 2], b"not a pickle", good.replace(b"expert", b"xpert")):
        entry.write_bytes(damage)
        again, _ = kbcache.load()
        assert again.record() == kb.record()
        assert entry.read_bytes() == good


def test_an_unsafe_cache_folder_is_passed_over(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.mkdir(mode=0o700)
    cache.chmod(0o777)  # anyone may write there: a pickle from it could run their code
    assert kbcache.cache_dir() is None
    kb, _ = kbcache.load()
    assert entries(cache) == [] and kb.patterns
    cache.chmod(0o700)
    link = tmp_path / "link"
    link.symlink_to(cache)
    monkeypatch.setenv("COHERENCE_CACHE_DIR", str(link))
    assert kbcache.cache_dir() is None


def test_an_entry_not_a_plain_file_is_not_read(cache: Path, tmp_path: Path) -> None:
    kbcache.load()
    [entry] = entries(cache)
    elsewhere = tmp_path / "elsewhere.pickle"
    shutil.move(entry, elsewhere)
    entry.symlink_to(elsewhere)
    assert kbcache._read(entry) is None


def test_caching_can_be_switched_off(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COHERENCE_NO_CACHE", "1")
    kb, compiled = kbcache.load()
    assert kb.patterns and compiled.rulesets
    assert not cache.exists()


def test_only_the_newest_entries_are_kept_and_nothing_else_is_touched(cache: Path) -> None:
    cache.mkdir(mode=0o700)
    olds = [cache / f"kb-{n:040x}.pickle" for n in range(kbcache.KEEP + 3)]
    for n, old in enumerate(olds):
        old.write_bytes(b"stale")
        os.utime(old, (1_000_000 + n, 1_000_000 + n))
    mine = cache / "kb-notes.pickle"  # not an entry's name: someone else's
    mine.write_bytes(b"keep me")
    left = cache / ".kb-x1y2z3_4.tmp"  # half written by a process that died
    left.write_bytes(b"half")
    os.utime(left, (1_000_000, 1_000_000))
    writing = cache / ".kb-a1b2c3d4.tmp"  # being written now
    writing.write_bytes(b"half")
    notes = cache / ".kb-notes-of-mine.tmp"  # not a name this cache gives: left alone
    notes.write_bytes(b"mine")
    os.utime(notes, (1_000_000, 1_000_000))
    kbcache.load()
    kept = {p.name for p in entries(cache)} - {mine.name}
    assert len(kept) == kbcache.KEEP
    assert {p.name for p in olds[4:]} < kept  # the new entry and the seven newest others
    assert mine.exists() and writing.exists() and notes.exists() and not left.exists()


def test_a_change_while_loading_is_not_kept(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pack = make_pack(tmp_path)
    loading = knowledgebase.load

    def edited_meanwhile(*args: object, **kwargs: object) -> object:
        kb = loading(*args, **kwargs)  # type: ignore[arg-type]
        (pack / "patterns" / "notes.md").write_text("added while loading\n")
        return kb

    monkeypatch.setattr(knowledgebase, "load", edited_meanwhile)
    kbcache.load([pack])
    assert entries(cache) == []


def test_a_refused_pack_is_refused_as_without_the_cache(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading checks and merges the packs one by one: the first problem it meets is the
    one reported, with or without the cache."""
    first = tmp_path / "first"
    first.mkdir()
    (first / "vocabulary.yaml").write_text("settings: {pair_timescale_ratio: 2}\n")
    second = make_pack(tmp_path)
    (second / "patterns" / "hook.py").write_text("print('hello')\n")
    with pytest.raises(InputError) as cached:
        kbcache.load([first, second])
    monkeypatch.setenv("COHERENCE_NO_CACHE", "1")
    with pytest.raises(InputError) as fresh:
        kbcache.load([first, second])
    assert str(cached.value) == str(fresh.value)
    assert "hook.py" not in str(fresh.value)


def test_what_sits_in_an_entrys_place_is_passed_over(cache: Path) -> None:
    kb, _ = kbcache.load()
    [entry] = entries(cache)
    entry.unlink()
    entry.mkdir()
    assert kbcache.load()[0].record() == kb.record()
    entry.rmdir()
    os.mkfifo(entry)  # reading a pipe with no writer would wait for ever
    done: list[object] = []
    reader = threading.Thread(target=lambda: done.append(kbcache.load()), daemon=True)
    reader.start()
    reader.join(60)
    assert done, "reading the cache waited on a pipe"
    entry.unlink()
    kbcache.load()
    entry.chmod(0o664)  # others of the group could have written it
    assert kbcache._read(entry) is None


def test_no_usable_temporary_folder_means_no_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    def read_only_system() -> str:
        raise FileNotFoundError("No usable temporary directory found")

    monkeypatch.delenv("COHERENCE_CACHE_DIR", raising=False)
    monkeypatch.delenv("COHERENCE_NO_CACHE", raising=False)
    monkeypatch.setattr(kbcache.tempfile, "gettempdir", read_only_system)
    assert kbcache.cache_dir() is None
    assert kbcache.load()[0].patterns


def test_no_cache_is_switched_by_a_true_value(monkeypatch: pytest.MonkeyPatch) -> None:
    for value, on in (("", True), ("0", True), ("1", False), ("yes", False)):
        monkeypatch.setenv("COHERENCE_NO_CACHE", value)
        assert kbcache.enabled() is on
