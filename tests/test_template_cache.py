"""Compiled report templates are kept between runs, and a cache that cannot be used is only
slower: a report never depends on it."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from expert.render import reports


def _env(cache: jinja2.BytecodeCache) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.DictLoader({"t.j2": "{% for x in xs %}{{ x }};{% endfor %}"}),
        bytecode_cache=cache,
    )


def test_a_compiled_template_is_kept_and_used_by_the_next_run(tmp_path: Path) -> None:
    first = _env(reports._TemplateCache(str(tmp_path), pattern="__coherence_t_%s.cache"))
    assert first.get_template("t.j2").render(xs=[1, 2]) == "1;2;"
    kept = list(tmp_path.glob("__coherence_t_*.cache"))
    assert len(kept) == 1

    # A new environment (the next command) loads the compiled code instead of compiling.
    compiled: list[str] = []
    second = _env(reports._TemplateCache(str(tmp_path), pattern="__coherence_t_%s.cache"))
    real = second.compile
    second.compile = lambda *a, **k: compiled.append("x") or real(*a, **k)  # type: ignore[method-assign]
    assert second.get_template("t.j2").render(xs=[3]) == "3;"
    assert compiled == []


def test_a_damaged_cache_entry_is_compiled_again(tmp_path: Path) -> None:
    cache = reports._TemplateCache(str(tmp_path), pattern="__coherence_t_%s.cache")
    _env(cache).get_template("t.j2")
    (entry,) = tmp_path.glob("__coherence_t_*.cache")
    data = entry.read_bytes()
    entry.write_bytes(data[: len(data) // 2])  # cut short, as by a full disk
    assert _env(cache).get_template("t.j2").render(xs=[1]) == "1;"


def test_a_cache_directory_that_cannot_be_written_does_not_stop_a_report(
    tmp_path: Path,
) -> None:
    gone = tmp_path / "removed"
    cache = reports._TemplateCache(str(gone), pattern="__coherence_t_%s.cache")
    assert _env(cache).get_template("t.j2").render(xs=[1]) == "1;"
    assert not gone.exists()


def test_no_safe_cache_directory_means_compiling_every_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def unsafe(self: object) -> str:
        raise RuntimeError("Cannot determine safe temp directory.")

    monkeypatch.setattr(jinja2.FileSystemBytecodeCache, "_get_default_cache_dir", unsafe)
    assert reports._template_cache("markdown") is None


def test_each_format_keeps_its_own_entries() -> None:
    # The code compiled for one template differs with the environment's settings (HTML
    # escapes every expression), so the formats must never share an entry.
    md, html = reports._template_cache("markdown"), reports._template_cache("html")
    assert isinstance(md, jinja2.FileSystemBytecodeCache)
    assert isinstance(html, jinja2.FileSystemBytecodeCache)
    assert md.pattern != html.pattern


def test_reports_render_through_the_cache_keyed_by_settings_and_versions() -> None:
    # The point of the cache is the environments' use of it; an upgrade of Jinja or of
    # coherence, or a changed setting, must never run code compiled before it.
    for html in (False, True):
        cache = reports._env(html).bytecode_cache
        assert isinstance(cache, jinja2.FileSystemBytecodeCache)
    plain = reports._template_cache("markdown", "a")
    other = reports._template_cache("markdown", "b")
    assert isinstance(plain, jinja2.FileSystemBytecodeCache)
    assert isinstance(other, jinja2.FileSystemBytecodeCache)
    assert plain.pattern != other.pattern
