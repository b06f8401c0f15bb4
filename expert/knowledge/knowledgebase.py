"""Load and merge knowledge bases: the built-in one and any organisation packs (`--kb DIR`).

A knowledge base is a directory of YAML data:
    vocabulary.yaml            word lists and settings (a pack may add terms)
    patterns/**/<id>.yaml      one pattern per file; <id>.cases.yaml beside it
    questions/*.yaml           interview questions (a list per file)
    templates/*.yaml           loop templates (a list per file)
    disabled.yaml              (packs) {pattern-id: reason} switches patterns off, on record
A later pack overrides an earlier definition with the same id; a pattern that replaces an
earlier one says why (`overrides: {reason: ...}`). Overridden and disabled patterns are kept
on record (KnowledgeBase.changes) and every report lists them. Nothing is ever executed.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from expert import collector
from expert.assessment.fields import FACT_KINDS, FieldSpec, answer_field
from expert.assessment.model import pydantic_problems
from expert.assessment.vocabulary import Vocabulary
from expert.errors import InputError, Problem
from expert.knowledge.patterns import ANY_PLACEHOLDER, CaseFile, Pattern, Question
from expert.knowledge.templates import LoopTemplate
from expert.yamlio import LineMap, load_yaml

MAX_KB_FILE = 1024 * 1024
MAX_KB_FILES = 5000


def cases_path(pattern_path: Path | str) -> Path:
    """Where a pattern's example cases sit: `<id>.cases.yaml` beside `<id>.yaml`."""
    path = Path(pattern_path)
    return path.with_name(path.stem + ".cases.yaml")


def builtin_dir() -> Path:
    """The knowledge base shipped with the package (works from a wheel and from source)."""
    return Path(str(resources.files("knowledge_base")))


def builtin_is_source() -> bool:
    """Whether the built-in knowledge base is a source checkout's (the project file beside
    it; an editable install counts), not an installed copy, which the next upgrade
    replaces."""
    return (builtin_dir().parent / "pyproject.toml").is_file()


@dataclass
class Origin:
    pack: str
    path: str


@dataclass(frozen=True)
class PatternChange:
    """A pack's change to a pattern defined before it: replaced by id, or switched off."""

    pattern: str
    change: Literal["overridden", "disabled"]
    reason: str
    pack: str
    path: str
    replaces: str = ""  # for an override: the pack whose pattern it replaced

    def record(self) -> dict[str, str]:
        """The stable form in results (JSON `knowledge_base.changed_patterns`)."""
        return {
            "pattern": self.pattern,
            "change": self.change,
            "reason": self.reason,
            "pack": self.pack,
            "replaces": self.replaces,
        }


@dataclass
class KnowledgeBase:
    vocabulary: Vocabulary
    patterns: dict[str, Pattern] = field(default_factory=dict)
    # Where each pattern's example cases sit; they are read at the first use of `cases`
    # (kb test, kb lint, kb list), since an assessment never needs them: about half of the
    # knowledge base's files, and of the time loading it takes.
    case_files: dict[str, Path] = field(default_factory=dict)
    questions: dict[str, Question] = field(default_factory=dict)
    templates: dict[str, LoopTemplate] = field(default_factory=dict)
    disabled: dict[str, str] = field(default_factory=dict)
    origins: dict[str, Origin] = field(default_factory=dict)
    packs: list[str] = field(default_factory=list)
    changes: list[PatternChange] = field(default_factory=list)  # in load order
    # question_for_field's lookup, with the questions it was built from: it is asked
    # thousands of times a run, and the questions rarely change after loading.
    _asking: tuple[tuple[Question, ...], dict[tuple[str, str], list[Question]]] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _cases: dict[str, CaseFile] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def cases(self) -> dict[str, CaseFile]:
        """Each pattern's example cases, read and validated on first use; InputError (naming
        the file) on a problem in one."""
        return self.read_cases()

    def read_cases(self) -> dict[str, CaseFile]:
        """Read the example cases now, if not yet read (see `cases`)."""
        if self._cases is None:
            with collector.paused():
                self._cases = {pid: _load_cases(pid, path) for pid, path in self.case_files.items()}
        return self._cases

    @property
    def version(self) -> str:
        # "+1pack", "+2packs": the packs layered on the built-in knowledge base
        n = len(self.packs) - 1
        extra = f"+{n}pack{'s' if n != 1 else ''}" if n > 0 else ""
        return self.vocabulary.version + extra

    def record(self) -> dict[str, Any]:
        """What results say about the knowledge base they come from (JSON `knowledge_base`):
        its version, size and packs, and every pattern a pack overrode or switched off,
        with the reason and the pack, in a stable order."""
        return {
            "version": self.version,
            "patterns": len(self.active()),
            "packs": self.packs,
            "disabled": dict(sorted(self.disabled.items())),
            "changed_patterns": [
                c.record()
                for c in sorted(self.changes, key=lambda c: (c.pattern, c.change, c.pack))
            ],
        }

    def intern_comparisons(self) -> KnowledgeBase:
        """Enter every pattern's declared comparisons in this process's table of derived
        fields, as loading does (Pattern.intern_comparisons). A knowledge base unpickled in
        another process (the cache, the interview's assessment process) needs it: without
        it, facts would lack the fields its rules test."""
        for p in self.patterns.values():
            p.intern_comparisons()
        return self

    def active(self) -> list[Pattern]:
        """Patterns in force (not disabled), in a stable order."""
        return [p for pid, p in sorted(self.patterns.items()) if pid not in self.disabled]

    def answer_fields(self) -> dict[str, tuple[FieldSpec, list[str] | None]]:
        """Fields that questions store in loops' `answers` maps, by question id."""
        out: dict[str, tuple[FieldSpec, list[str] | None]] = {}
        for q in self.questions.values():
            if q.answer is None or q.about != "loop":
                continue
            if q.answer == "yesno":
                out[q.id] = (answer_field(q.id, "yesno"), None)
            elif q.answer == "category":
                out[q.id] = (answer_field(q.id, "category"), [str(c.value) for c in q.choices])
            elif q.answer == "set":
                out[q.id] = (answer_field(q.id, "set"), [str(c.value) for c in q.choices])
            elif q.answer == "number":
                out[q.id] = (answer_field(q.id, "interval"), None)
        return out

    def question_for_field(self, fieldname: str, about: str = "loop") -> Question | None:
        """The first question about a loop (or a resource), by (priority, id), that asks for
        fieldname."""
        found = self.questions_for_field(fieldname, about)
        return found[0] if found else None

    def questions_for_field(self, fieldname: str, about: str = "loop") -> list[Question]:
        """Every question about a loop (or a resource) that asks for fieldname, by (priority,
        id): one field may be asked in different words of different loops (a timeout's
        deadline, an interrupting loop's grace period), each question's `asked_when` says
        which."""
        questions = tuple(self.questions.values())
        if self._asking is None or self._asking[0] != questions:  # none yet, or edited since
            asking: dict[tuple[str, str], list[Question]] = {}
            for q in sorted(questions, key=lambda q: (q.priority, q.id)):
                for name in (q.field, f"answers.{q.id}"):
                    if name is not None:
                        asking.setdefault((q.about, name), []).append(q)
            self._asking = (questions, asking)
        return self._asking[1].get((about, fieldname), [])


def _validate(model: type[BaseModel], data: Any, source: str, lines: LineMap | None) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(
            pydantic_problems(exc, source, data, lines or LineMap(), schema="coherence kb schema")
        ) from None


def _yaml_files(root: Path, sub: str) -> list[Path]:
    base = root / sub
    if not base.is_dir():
        return []
    files = sorted(p for p in base.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    resolved_root = root.resolve()
    for p in files:
        # A pack may not reach outside its own directory (e.g. through a symlink).
        if not p.resolve().is_relative_to(resolved_root):
            raise InputError(
                Problem(
                    str(p),
                    "points outside its knowledge-base directory",
                    fix="copy the file into the pack instead of linking to it",
                )
            )
    if len(files) > MAX_KB_FILES:
        raise InputError(
            Problem(
                str(base),
                f"more than {MAX_KB_FILES} files",
                fix="a knowledge-base pack is a few hundred files at most",
            )
        )
    return files


DATA_SUFFIXES = {".yaml", ".yml", ".json", ".md", ".txt"}


def check_pack_dir(root: Path) -> None:
    """A pack is data only and stays inside its directory: refuse anything else up front."""
    resolved_root = root.resolve()
    problems = []

    def unreadable(exc: OSError) -> None:
        problems.append(
            Problem(str(exc.filename or root), f"cannot be read: {exc.strerror or exc}")
        )

    seen = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False, onerror=unreadable):
        seen += len(dirnames) + len(filenames)
        if seen > MAX_KB_FILES:  # stop early: a wrong --kb (a home folder, /proc) is huge
            raise InputError(
                Problem(
                    str(root),
                    f"holds more than {MAX_KB_FILES} files and folders",
                    fix="--kb takes a knowledge-base pack: a few hundred files at most",
                )
            )
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(resolved_root):
                    what = "points outside its knowledge-base directory"
                elif path.is_dir():
                    what = "is a link to a directory, which is not followed"
                else:
                    continue
                problems.append(
                    Problem(str(path), what, fix="copy it into the pack instead of linking to it")
                )
            elif name in filenames and path.suffix.lower() not in DATA_SUFFIXES:
                problems.append(
                    Problem(
                        str(path),
                        "a knowledge-base pack holds data only (YAML, JSON, Markdown, text)",
                        fix="remove this file from the pack; nothing in a pack is ever run",
                    )
                )
    if problems:
        raise InputError(problems)


# Sections a pack may add terms to. `version` is the built-in knowledge base's own; a pack's
# is ignored. `settings` tune every pattern, built-in ones included, so a pack cannot change
# them.
PACK_SECTIONS_IGNORED = ("version",)


def _merge_vocabulary(
    base: dict[str, Any] | None,
    extra: dict[str, Any],
    source: str,
    lines: LineMap | None = None,
    origin: dict[tuple[str, str], str] | None = None,
) -> dict[str, Any]:
    """`base` with the terms of a pack's vocabulary added. A pack adds new terms to existing
    word lists only: a section that is not a word list, a term id already defined (by the
    built-in vocabulary or an earlier pack) and a change of settings are refused, each with
    the file, line and place. `origin` records which file defined each (section, term)."""
    if origin is None:
        origin = {}
    if base is None:
        for key, value in extra.items():
            if isinstance(value, dict) and key != "settings":
                origin.update(dict.fromkeys(((key, term) for term in value), source))
        return extra
    lines = lines or LineMap()
    merged = dict(base)
    problems: list[Problem] = []
    sections = [k for k, v in base.items() if isinstance(v, dict) and k != "settings"]
    for key, value in extra.items():
        if key in PACK_SECTIONS_IGNORED:
            continue
        if key == "settings":
            refused = (
                "a pack cannot change the vocabulary's settings",
                "remove `settings:` from the pack: they tune every pattern, built-in ones included",
            )
        elif key not in merged:
            refused = (
                f"{key!r} is not a vocabulary section",
                f"add terms under one of: {', '.join(sections)}",
            )
        elif not (isinstance(value, dict) and isinstance(merged[key], dict)):
            refused = (
                f"vocabulary section {key!r} cannot be replaced",
                "a pack may only add terms to existing word lists, written as a mapping from "
                "each new term id to its description",
            )
        else:
            refused = None
        if refused is not None:
            problems.append(
                Problem(source, refused[0], where=key, line=lines.line((key,)), fix=refused[1])
            )
            continue
        for term in value:
            if term in merged[key]:
                problems.append(
                    Problem(
                        source,
                        f"{key} term {term!r} is already defined by "
                        f"{origin.get((key, term), 'the built-in vocabulary')}",
                        where=f"{key}.{term}",
                        line=lines.line((key, term)),
                        fix="a pack may only add terms: give yours a new id (prefix it with "
                        "your organisation's name), or leave the existing term as it is",
                    )
                )
            else:
                origin[key, term] = source
        merged[key] = {**merged[key], **{t: v for t, v in value.items() if t not in merged[key]}}
    if problems:
        raise InputError(problems)
    return merged


# The engine renders placeholders matching this (explain.py); anything else is left as typed.
ENGINE_PLACEHOLDER = re.compile(r"^(\w+)(?:\.([\w.-]+))?$")


def pattern_texts(p: Pattern) -> list[tuple[str, str]]:
    """(place, text) of every text of a pattern that may hold placeholders."""
    out = [("narrative", p.narrative)]
    out += [(f"clears[{i}]", c) for i, c in enumerate(p.clears)]
    out += [(f"escalate[{i}].because", e.because) for i, e in enumerate(p.escalate)]
    return out


def placeholders(p: Pattern) -> list[tuple[str, str]]:
    """(place, placeholder) of every {...} in the pattern's texts."""
    return [
        (where, m.group(1))
        for where, text in pattern_texts(p)
        for m in ANY_PLACEHOLDER.finditer(text)
    ]


def placeholder_problems(kb: KnowledgeBase) -> list[Problem]:
    """Placeholders in narratives, clears and reasons that the engine cannot fill: `load`
    refuses them (a report would print such a text as "... by not answered"), and `kb lint`'s
    `placeholders` validator reports them beside every other problem."""
    answer_fields = kb.answer_fields()
    problems = []
    for p, k in ((v, k) for each in kb.active() for k, v in enumerate(each.variants())):
        origin = kb.origins.get(p.id)
        src = origin.path if origin else p.id
        for where, text in ((p.form_place(k) + w, t) for w, t in placeholders(p)):
            if p.stage > 1:
                if text not in ("loops", "causes"):
                    problems.append(
                        Problem(
                            src,
                            f"{{{text}}} is not filled for a {p.kind}",
                            where=where,
                            fix="use {loops} and {causes}",
                        )
                    )
                continue
            if not ENGINE_PLACEHOLDER.match(text):
                problems.append(
                    Problem(
                        src,
                        f"{{{text}}} cannot be filled (placeholders are {{var}} or {{var.field}} "
                        "with letters, digits, '_', '-' and '.')",
                        where=where,
                        fix="name a matched variable and a field, e.g. {retrier.deadline}",
                    )
                )
                continue
            var, _, fname = text.partition(".")
            if var not in p.match:
                problems.append(
                    Problem(
                        src,
                        f"{{{text}}}: {var!r} is not a matched fact",
                        where=where,
                        fix=f"matched: {', '.join(p.match)}",
                    )
                )
                continue
            kind = p.match[var].fact
            if kind not in FACT_KINDS:
                continue  # an unknown fact kind: the vocabulary check names it
            known = {f.name for f in FACT_KINDS[kind]}
            if kind == "loop":
                known |= {f"answers.{q}" for q in answer_fields}
            if fname and fname not in known:
                problems.append(
                    Problem(
                        src,
                        f"{{{text}}}: {kind} facts have no field {fname!r}",
                        where=where,
                        fix="known: " + ", ".join(sorted(known)),
                    )
                )
    return problems


def load(extra_dirs: list[Path] | None = None, *, check_placeholders: bool = True) -> KnowledgeBase:
    """Load the built-in knowledge base plus packs, validating every file.

    A pattern whose text names a placeholder no matched fact or field fills is refused
    (the report would print it as "not answered"); `kb lint` alone loads without that check,
    to report it with every other problem."""
    # Two hundred files parsed and validated: no cyclic collection meanwhile (see
    # expert/collector.py).
    with collector.paused():
        return _load(extra_dirs, check_placeholders)


def _load(extra_dirs: list[Path] | None, check_placeholders: bool) -> KnowledgeBase:
    dirs = [builtin_dir(), *[Path(d) for d in extra_dirs or []]]
    vocab_data: dict[str, Any] | None = None
    defined_by: dict[tuple[str, str], str] = {}
    loaded: list[tuple[str, Path]] = []
    for d in dirs:
        if not d.is_dir():
            raise InputError(
                Problem(
                    str(d),
                    "knowledge-base pack is not a directory",
                    fix="give a directory holding patterns/, questions/ ...",
                )
            )
        if d != dirs[0]:
            check_pack_dir(d)
        loaded.append((d.name if d != dirs[0] else "built-in", d))
        vfile = d / "vocabulary.yaml"
        if vfile.is_file():
            data, vlines = load_yaml(vfile, max_bytes=MAX_KB_FILE, what="vocabulary file")
            if not isinstance(data, dict):
                raise InputError(Problem(str(vfile), "vocabulary must be a mapping"))
            vocab_data = _merge_vocabulary(vocab_data, data, str(vfile), vlines, defined_by)
            # Validate after each merge so a problem is blamed on the file that brought it.
            merged = _validate(Vocabulary, vocab_data, str(vfile), vlines)
            if merged.dangling():
                raise InputError([Problem(str(vfile), msg) for msg in merged.dangling()])
        elif d == dirs[0]:
            raise InputError(
                Problem(
                    str(vfile), "the built-in vocabulary is missing", fix="reinstall the package"
                )
            )
    vocab = _validate(Vocabulary, vocab_data, str(dirs[0] / "vocabulary.yaml"), None)

    kb = KnowledgeBase(vocabulary=vocab, packs=[name for name, _ in loaded])
    problems: list[Problem] = []
    for pack, d in loaded:
        problems += _load_pack(kb, pack, d)
    problems += [
        Problem(
            kb.origins.get(f"disabled:{pid}", Origin("", "disabled.yaml")).path,
            f"disables pattern {pid!r}, which does not exist",
            fix="check the id with `coherence kb list`",
        )
        for pid in kb.disabled
        if pid not in kb.patterns
    ]
    if not problems and check_placeholders:
        # After the merge: which fields a placeholder may name depends on every pack's
        # questions.
        problems = placeholder_problems(kb)
    if problems:
        raise InputError(problems)
    return kb


def _check_override(kb: KnowledgeBase, pattern: Pattern, pack: str, path: Path) -> list[Problem]:
    """A pattern that replaces an earlier one must say why; one that replaces nothing must
    not claim to (the record would name a change that did not happen)."""
    earlier = kb.origins.get(pattern.id) if pattern.id in kb.patterns else None
    if earlier is None:
        if pattern.overrides is None:
            return []
        return [
            Problem(
                str(path),
                f"says it overrides pattern {pattern.id!r}, but no earlier pack defines it",
                where="overrides",
                fix="remove `overrides`, or check the id with `coherence kb list`",
            )
        ]
    if pattern.overrides is None:
        return [
            Problem(
                str(path),
                f"replaces the {earlier.pack} pattern {pattern.id!r} ({earlier.path}) without "
                "a recorded reason",
                where="overrides",
                fix='say why, e.g.  overrides: {reason: "policy CM-4 makes this a high-severity '
                'gap"}  (or give the pattern a new id to add it beside the original)',
            )
        ]
    kb.changes.append(
        PatternChange(
            pattern.id,
            "overridden",
            pattern.overrides.reason.strip(),
            pack,
            str(path),
            replaces=earlier.pack,
        )
    )
    return []


def _load_cases(pattern_id: str, case_path: Path) -> CaseFile:
    cdata, clines = load_yaml(case_path, max_bytes=MAX_KB_FILE, what="case file")
    cases = _validate(CaseFile, cdata, str(case_path), clines)
    if cases.pattern != pattern_id:
        raise InputError(
            Problem(
                str(case_path),
                f"cases are for {cases.pattern!r} but sit beside pattern {pattern_id!r}",
                fix="make `pattern:` match the pattern file's id",
            )
        )
    return cases


def _load_pack(kb: KnowledgeBase, pack: str, d: Path) -> list[Problem]:
    """Add one pack to kb; returns the problems that do not stop the rest from loading."""
    problems: list[Problem] = []
    for path in _yaml_files(d, "patterns"):
        if path.name.endswith((".cases.yaml", ".cases.yml")):
            continue
        data, lines = load_yaml(path, max_bytes=MAX_KB_FILE, what="pattern file")
        pattern = _validate(Pattern, data, str(path), lines)
        problems += _check_override(kb, pattern, pack, path)
        kb.patterns[pattern.id] = pattern
        kb.origins[pattern.id] = Origin(pack, str(path))
        kb.case_files.pop(pattern.id, None)  # an override brings its own cases
        case_path = cases_path(path)
        if case_path.is_file():
            kb.case_files[pattern.id] = case_path
    for path in _yaml_files(d, "questions"):
        data, lines = load_yaml(path, max_bytes=MAX_KB_FILE, what="questions file")
        if not isinstance(data, list):
            raise InputError(Problem(str(path), "a questions file is a list of questions"))
        for i, item in enumerate(data):
            q = _validate(Question, item, f"{path} (question {i + 1})", None)
            kb.questions[q.id] = q
            kb.origins[f"question:{q.id}"] = Origin(pack, str(path))
    for path in _yaml_files(d, "templates"):
        data, lines = load_yaml(path, max_bytes=MAX_KB_FILE, what="templates file")
        if not isinstance(data, list):
            raise InputError(Problem(str(path), "a templates file is a list of loop templates"))
        for i, item in enumerate(data):
            t = _validate(LoopTemplate, item, f"{path} (template {i + 1})", None)
            kb.templates[t.id] = t
    disabled = d / "disabled.yaml"
    if disabled.is_file():
        data, lines = load_yaml(disabled, max_bytes=MAX_KB_FILE, what="disabled-patterns file")
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in data.items()
        ):
            raise InputError(
                Problem(
                    str(disabled),
                    "must map pattern ids to the reason they are off",
                    fix='e.g.  hpa-vpa-same-metric: "we run VPA in recommend-only mode"',
                )
            )
        for pid, reason in data.items():
            kb.disabled[pid] = f"{reason} ({pack})"
            kb.origins[f"disabled:{pid}"] = Origin(pack, str(disabled))
            kb.changes.append(PatternChange(pid, "disabled", reason.strip(), pack, str(disabled)))
    return problems
