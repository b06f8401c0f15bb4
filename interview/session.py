"""The assessment being built: every change is validated, then saved atomically.

The interview never holds answers the file does not have: a confirmed answer is applied to
the file's data, validated exactly as `coherence assess` validates a file, and written
atomically (temporary file, fsync, rename). An invalid answer raises InputError and changes
nothing, so the user can correct it in place.

Nothing in the file is lost or replaced behind the user's back:
- one interview writes a file at a time (interview.lock); a second one on the same file
  shows it read-only, says which process holds it, and takes over once that one has ended;
- before each save the file is compared (SHA-256) with the version last read or written.
  A change made outside (an editor, a script) is read back and the answer is applied on top
  of it, field by field; if both changed the same field, nothing is saved and the user is
  told in plain words, and confirming again puts their answer over the file's. An outside
  edit that made the file invalid is never overwritten;
- the file is edited in place (expert.yamledit): comments, key order and quoting of a
  hand-written file survive; only the answered field's node changes. A new file is written
  in the standard layout.
"""

from __future__ import annotations

import copy
import hashlib
import os
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from expert.analysis.assess import check_answers
from expert.assessment.fields import value_at
from expert.assessment.model import (
    SCHEMA_VERSION,
    SLUG,
    SLUG_HELP,
    UNKNOWN,
    Assessment,
    Loop,
    shown,
    validate,
)
from expert.assessment.respondents import DISPUTED, SOURCES, Section
from expert.assessment.respondents import NOT_APPLICABLE as NOT_APPLICABLE_FIELDS
from expert.errors import InputError, Problem
from expert.knowledge.knowledgebase import KnowledgeBase
from expert.knowledge.patterns import Question
from expert.knowledge.templates import LoopTemplate
from expert.yamlio import (
    LineMap,
    atomic_write_text,
    dump_yaml,
    parse_yaml_text,
    read_text,
    remove_stale_temporaries,
)
from interview import lock
from interview.questions import NOT_APPLICABLE

if TYPE_CHECKING:
    from expert import yamledit

Edit = Callable[[dict[str, Any]], None]
_MISSING = object()
MAX_CONFLICTS_SHOWN = 3
# Where a question's answer lives, for the sections respondents can disagree in.
SECTIONS_OF: dict[str, Section] = {
    "loop": "loops",
    "resource": "resources",
    "economics": "economics",
}


def _is_blank(path: Path) -> bool:
    try:
        return path.stat().st_size == 0 or not path.read_bytes().strip()
    except OSError:
        return False


def _digest(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


class OutsideChange(InputError):
    """The file changed outside the interview in a way that stops this save."""


class Session:
    """One assessment file and the knowledge base it is written against."""

    def __init__(
        self,
        path: Path,
        kb: KnowledgeBase,
        assessment: Assessment | None,
        raw: dict[str, Any] | None = None,
        text: str | None = None,
    ) -> None:
        self.path = path
        self.kb = kb
        # None until the platform has a name: a valid file needs one.
        self.assessment = assessment
        # The file as last read or written: its data as parsed and the digest of its text.
        self._raw = raw
        self._digest = _digest(text)
        self._doc: yamledit.Document | None = None  # that text, loaded for editing in place
        self._lock: lock.Lock | None = None
        self._unlockable = False  # no lock file can be made here (e.g. a read-only folder)
        self.holder: lock.Holder | None = None  # who has the file, while this one cannot write
        # Told about what happened to the file besides the answer (set by the app).
        self.on_notice: Callable[[str], None] | None = None
        # Given each change's validated assessment just before the file is written, so work
        # on it can start meanwhile (the app starts the engine). It is not saved yet: it
        # becomes `assessment` only once the write has succeeded (set by the app).
        self.on_validated: Callable[[Assessment], None] | None = None
        self._indexed: Assessment | None = None  # the assessment _loops_by_id indexes
        self._loops_by_id: dict[str, Loop] = {}

    @property
    def read_only(self) -> bool:
        """Another interview has the file: this one shows it but cannot save."""
        return self.holder is not None

    @classmethod
    def open(cls, path: Path, kb: KnowledgeBase) -> Session:
        """Open an existing assessment or prepare a new one; InputError if the file is bad.

        A file that exists but does not validate is never overwritten: the user fixes it
        (the message names the line) or picks another file. A file another interview has
        open is opened read-only (see `read_only` and `holder`).
        """
        path = Path(path)
        if path.is_dir():
            raise InputError(
                Problem(str(path), "is a directory", fix="give the name of a .yaml file")
            )
        if os.path.lexists(path):
            # Saving renames a new file over the path: a device, a pipe or a socket there
            # would be replaced by a regular file, and a symbolic link by a copy.
            if not path.is_file():
                what = (
                    f"is a symbolic link to {os.readlink(path)}, which does not exist"
                    if path.is_symlink() and not path.exists()
                    else "is not a regular file"
                )
                raise InputError(Problem(str(path), what, fix="give the name of a .yaml file"))
            if path.is_symlink():  # its target is the file read and saved
                path = Path(os.path.realpath(path))
        if not path.parent.exists():
            raise InputError(
                Problem(
                    str(path),
                    "its directory does not exist",
                    fix=f"create {path.parent} first, or choose another place",
                )
            )
        session = cls(path, kb, None)
        session._claim(quiet=True)
        if not session.read_only:
            # A session killed mid-save may have left its temporary file: a save that never
            # completed, so never acknowledged to the user; the file itself is the last good
            # one. Only the lock's holder cleans up: no other interview is writing then.
            remove_stale_temporaries(path)
        try:
            text = session._current_text()
            if text:
                session._raw, session.assessment = session._parse(text)
        except BaseException:
            session.close()  # a file refused is left as it was, with no lock beside it
            raise
        session._digest = _digest(text)
        return session

    def close(self) -> None:
        """Let another interview write the file (a later change takes the lock again)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    # ------------------------------------------------------------ reading

    def value(self, q: Question, target: str = "") -> Any:
        """The stored answer to q (None when not answered yet)."""
        a = self.assessment
        if a is None:
            return None
        if q.about == "system":
            return value_at(a.system, q.field or "")
        if q.about == "economics":
            return value_at(a.economics, q.field or "") if a.economics else None
        if q.about == "resource":
            res = next((r for r in a.resource_list() if r.id == target), None)
            if res is not None and disputed_field(q) in (res.not_applicable or ()):
                return NOT_APPLICABLE
            return value_at(res, q.field or "") if res else None
        loop = self._loop(a, target)
        if loop is None:
            return None
        if disputed_field(q) in (loop.not_applicable or ()):
            return NOT_APPLICABLE
        if q.answer is not None:
            return loop.answers.get(q.id)
        return value_at(loop, q.field or "")

    def _loop(self, a: Assessment, loop_id: str) -> Loop | None:
        """a.loop(loop_id), by an index kept per assessment: the outline reads an answer
        of every loop on each redraw, and a.loop reads the loops one by one. Every change
        replaces the assessment (it is never edited in place), so the index follows it."""
        if self._indexed is not a:
            self._loops_by_id = {lp.id: lp for lp in a.loops}
            self._indexed = a
        return self._loops_by_id.get(loop_id)

    def dispute(self, q: Question, target: str = "") -> list[tuple[str, Any]]:
        """Who said what about q's answer, when respondents disagree about it (a merged
        file's `disputed`); [] when they do not."""
        a, section = self.assessment, SECTIONS_OF.get(q.about)
        if a is None or section is None:
            return []
        if section == "economics":
            item: Any = a.economics
        elif section == "resources":
            item = next((r for r in a.resource_list() if r.id == target), None)
        else:
            item = a.loop(target)
        said = item.disputed.get(disputed_field(q), []) if item is not None else []
        return [(alt.by, alt.value) for alt in said]

    def loop_name(self, loop_id: str) -> str:
        loop = self.assessment.loop(loop_id) if self.assessment else None
        if loop is None or not loop.name or loop.name == "unknown":
            return loop_id
        return loop.name

    def asked_name(self, scope: str, target: str) -> str:
        """The name of the loop or resource a question is about."""
        if scope != "resource":
            return self.loop_name(target)
        res = self.assessment.resource(target) if self.assessment else None
        return res.shown_name if res is not None else target

    # ------------------------------------------------------------ changing

    def answer(self, q: Question, target: str, value: Any) -> None:
        """Store the answer to q (None clears it); InputError if the result is invalid."""
        before = self._timescale_of(q, target)
        self._change(self._answering(q, target, value))
        after = self._timescale_of(q, target)
        if after != before:
            loop = self.assessment.loop(target) if self.assessment else None
            self._notice(
                f"{loop.name if loop else 'This loop'} reacted when its old deadline ({before}) "
                f"expired, so its timescale follows the new one: {after}. Change it under the "
                "timescale question if that is not so."
            )

    def _timescale_of(self, q: Question, target: str) -> Any:
        """A loop's timescale as saved, when q is its deadline question (else None)."""
        if q.about != "loop" or q.field != "deadline" or self._raw is None:
            return None
        loop = next((lp for lp in _loops(self._raw) if lp.get("id") == target), None)
        return loop.get("timescale") if loop is not None else None

    def answer_many(self, answers: list[tuple[Question, str, Any]]) -> None:
        """Store several answers at once, in one save: all of them or, if the result is
        invalid, none (InputError). How a template's proposed values are accepted."""
        edits = [self._answering(q, target, value) for q, target, value in answers]

        def edit(data: dict[str, Any]) -> None:
            for one in edits:
                one(data)

        self._change(edit)

    def _answering(self, q: Question, target: str, value: Any) -> Edit:
        """The edit that stores one answer (InputError if it cannot be stored yet)."""
        if self.assessment is None and (q.about != "system" or q.field != "name"):
            raise InputError(
                Problem(
                    str(self.path),
                    "the platform needs a name before anything can be saved",
                    fix="answer the first question (the platform's name) first",
                )
            )
        field = q.field or ""
        na = value == NOT_APPLICABLE
        if na:
            value = None  # the field itself is left unset; the item lists it as not applying

        def edit(data: dict[str, Any]) -> None:
            if q.about == "system":
                _put(data.setdefault("system", {}), field, value)
            elif q.about == "economics":
                _put(_mapping(data, "economics"), field, value)
            elif q.about == "resource":
                resources = data.get("resources")
                if resources is None:  # declare every resource the loops name, then this one
                    resources = data["resources"] = [{"id": rid} for rid in _implied(data)]
                res = next((r for r in resources if r.get("id") == target), None)
                if res is None:
                    res = {"id": target}
                    resources.append(res)
                _put(res, field, value)
            else:
                loop = _loop(data, target)
                if q.answer is not None:
                    answers = _mapping(loop, "answers")
                    if value is None:
                        answers.pop(q.id, None)
                        if not answers:
                            loop.pop("answers")
                    else:
                        answers[q.id] = value
                else:
                    old = loop.get(field)
                    _put(loop, field, value)
                    if _follows_deadline(loop, field, old, value):
                        loop["timescale"] = value
                    if field == "acts_on" and data.get("resources") is not None:
                        _declare(data, value)
            if q.about in SECTIONS_OF:
                item = _item(data, SECTIONS_OF[q.about], target)
                if q.about != "economics":
                    _mark_not_applicable(item, disputed_field(q), na)
                # The user's own answer is no longer what an import found in a file.
                _drop(item, SOURCES, disputed_field(q))
                if value not in (None, UNKNOWN):
                    # It settles what respondents disagreed about; don't know leaves their
                    # answers on record.
                    _settle(item, disputed_field(q))

        return edit

    def resolve_dispute(self, section: Section, item_id: str, field: str, value: Any) -> None:
        """Settle a disagreement between respondents: `field` (dotted, as under `disputed`)
        of the loop or resource `item_id` (or of economics) takes `value`, one respondent's
        answer or the user's own, and its entry under `disputed` goes (the whole section
        when it was the last). Saved like an answer; InputError if there is no such
        disagreement or the value is not a valid answer."""

        def edit(data: dict[str, Any]) -> None:
            item = _item(data, section, item_id)
            disputed = item.get(DISPUTED)
            if not isinstance(disputed, dict) or field not in disputed:
                where = section if section == "economics" else f"{section[:-1]} {item_id}"
                raise InputError(
                    Problem(
                        str(self.path),
                        f"respondents do not disagree about {where}'s {field}",
                        fix="it may have been settled already; answer the question instead",
                    )
                )
            _put(item, field, value)
            _settle(item, field)

        self._change(edit)

    def decide(
        self, finding_id: str, state: str, reason: str, by: str = "", on: date | None = None
    ) -> None:
        """Record a decision about a finding under `decisions`, dated `on` (today), replacing
        any earlier one; InputError if it is not valid (a blank reason, an unknown state)."""
        entry: dict[str, Any] = {
            "state": state,
            "reason": reason.strip(),
            "date": (on or date.today()).isoformat(),
        }
        if by.strip():
            entry["by"] = by.strip()

        def edit(data: dict[str, Any]) -> None:
            _mapping(data, "decisions")[finding_id] = entry

        self._change(edit)

    def check_loop_id(self, loop_id: str, *, replacing: str | None = None) -> str | None:
        """Why loop_id cannot be used (None if it can)."""
        if not loop_id:
            return "Give the loop an id: a short name such as gateway-timeout."
        if not SLUG.match(loop_id):
            return f"{loop_id!r} cannot be used as an id: {SLUG_HELP}."
        if self.assessment and loop_id != replacing and self.assessment.loop(loop_id):
            return f"Another loop already has the id {loop_id!r}; each loop needs its own."
        return None

    def add_loop(self, loop_id: str, name: str, template: LoopTemplate | None = None) -> None:
        self._require_id(loop_id)
        loop: dict[str, Any] = copy.deepcopy(template.loop) if template else {}
        loop.pop("id", None)
        loop = {"id": loop_id, "name": name or loop.get("name") or loop_id, **_without(loop)}

        def edit(data: dict[str, Any]) -> None:
            if data.get("resources") is not None and isinstance(loop.get("acts_on"), list):
                _declare(data, loop["acts_on"])
            _loops(data).append(copy.deepcopy(loop))

        self._change(edit)

    def duplicate_loop(self, loop_id: str, new_id: str, new_name: str) -> None:
        self._require_id(new_id)

        def edit(data: dict[str, Any]) -> None:
            index = _index(data, loop_id)
            twin = copy.deepcopy(_loops(data)[index])
            twin["id"], twin["name"] = new_id, new_name
            _loops(data).insert(index + 1, twin)

        self._change(edit)

    def rename_loop(self, loop_id: str, new_id: str, new_name: str) -> None:
        self._require_id(new_id, replacing=loop_id)

        def edit(data: dict[str, Any]) -> None:
            loop = _loop(data, loop_id)
            loop["id"], loop["name"] = new_id, new_name
            for other in _loops(data):  # keep references from other loops pointing at it
                if isinstance(other.get("controls"), list):
                    other["controls"] = [new_id if c == loop_id else c for c in other["controls"]]

        self._change(edit)

    def delete_loop(self, loop_id: str) -> None:
        def edit(data: dict[str, Any]) -> None:
            _loops(data).pop(_index(data, loop_id))
            for other in _loops(data):
                if isinstance(other.get("controls"), list):
                    other["controls"] = [c for c in other["controls"] if c != loop_id]

        self._change(edit)

    # ------------------------------------------------------------ internals

    def _require_id(self, loop_id: str, *, replacing: str | None = None) -> None:
        problem = self.check_loop_id(loop_id, replacing=replacing)
        if problem:
            raise InputError(Problem(str(self.path), problem, where="loop id"))

    def _notice(self, text: str) -> None:
        if self.on_notice is not None:
            self.on_notice(text)

    def _claim(self, *, quiet: bool = False) -> None:
        """Hold the lock before writing. Without it, note who holds it and (unless quiet)
        raise InputError: this session is read-only until that interview ends."""
        if self._lock is not None or self._unlockable:
            return
        try:
            got = lock.acquire(self.path)
        except lock.LockFileError:
            raise InputError(
                Problem(
                    str(lock.lock_path(self.path)),
                    "is not a regular file, so it cannot record which interview has "
                    f"{self.path.name} open",
                    fix="remove it (the interview makes it again)",
                )
            ) from None
        except OSError:  # e.g. a read-only folder: saving will say what is wrong
            self._unlockable = True
            return
        if isinstance(got, lock.Holder):
            self.holder = got
            if quiet:
                return
            raise InputError(
                Problem(
                    str(self.path),
                    f"is open in {got.describe()}; this window can only show it, so the "
                    "answer is not saved",
                    fix="finish there, or close that interview and confirm the answer here again",
                )
            )
        self._lock, self.holder = got, None

    def _current_text(self) -> str | None:
        """The file's text now: None if there is no file, "" if it is blank."""
        if not self.path.exists():
            return None
        try:
            return read_text(self.path, what="assessment file")
        except InputError:
            if not self.path.exists():
                return None
            if _is_blank(self.path):
                return ""
            raise

    def _parse(self, text: str) -> tuple[dict[str, Any], Assessment]:
        """The file's data and the assessment it holds; InputError if it is not valid."""
        data, lines = parse_yaml_text(text, str(self.path))
        return data, self._validate(data, lines)

    def _validate(self, data: Any, lines: LineMap | None = None) -> Assessment:
        """Validate as `coherence assess` would; InputError if invalid."""
        source = str(self.path)
        assessment = validate(data, self.kb.vocabulary, source, lines)
        problems = check_answers(assessment, self.kb, source)
        if problems:
            raise InputError(problems)
        return assessment

    def _change(self, edit: Edit) -> None:
        """Apply edit to the file's data, validate and save; InputError if not saved."""
        self._claim()
        for _attempt in range(3):
            try:
                text = self._current_text()
            except InputError as exc:
                raise self._invalid_outside(exc) from None
            if _digest(text) != self._digest:
                self._catch_up(text, edit)
            data = copy.deepcopy(self._raw) if self._raw is not None else _skeleton()
            edit(data)
            assessment = self._validate(data)
            if self.on_validated is not None:
                self.on_validated(assessment)
            out = self._render(data, assessment, text)
            try:  # an editor may have saved while this one was being prepared
                unchanged = _digest(self._current_text()) == self._digest
            except InputError:
                unchanged = False
            if unchanged:
                self._write(out, data, assessment)
                return
            self._doc = None
        raise InputError(
            Problem(
                str(self.path),
                "keeps changing outside the interview, so the answer is not saved",
                fix="finish the other edits first, then confirm the answer again",
            )
        )

    def _catch_up(self, text: str | None, edit: Edit) -> None:
        """The file changed outside: take its version as the base for this answer, or
        raise OutsideChange when the answer cannot simply be applied on top of it."""
        source = str(self.path)
        self._doc = None
        if not text:  # removed or emptied: no one's content is overwritten
            if self._raw is not None:
                self._notice(
                    f"{self.path.name} had been removed or emptied outside the interview; "
                    "it is written again with all the answers given so far."
                )
            self._digest = _digest(text)
            self._raw = copy.deepcopy(self._raw)
            return
        try:
            theirs, assessment = self._parse(text)
        except InputError as exc:
            raise self._invalid_outside(exc) from None
        base = self._raw if self._raw is not None else {}
        mine: Any = copy.deepcopy(base) if self._raw is not None else _skeleton()
        try:
            edit(mine)
        except InputError:
            mine = base
        conflicts = _conflicts(base, mine, theirs)
        # Either way the file's version is what the interview shows from now on.
        self._raw, self._digest, self.assessment = theirs, _digest(text), assessment
        if conflicts:
            raise OutsideChange(
                Problem(
                    source,
                    "was changed outside the interview while you answered: "
                    + "; ".join(conflicts)
                    + ". Nothing is saved yet, and the file's version is kept",
                    fix="confirm again to save your answer over it, or move on to keep the file's",
                )
            )
        self._notice(
            f"{self.path.name} was changed outside the interview; those changes are kept and "
            "your answer is added to them."
        )

    def _invalid_outside(self, exc: InputError) -> OutsideChange:
        first = exc.problems[0] if exc.problems else None
        where = f" (line {first.line}: {first.message})" if first and first.line else ""
        if first and not where:
            where = f" ({first.message})"
        return OutsideChange(
            Problem(
                str(self.path),
                f"was changed outside the interview and is not valid now{where}; it is not "
                "overwritten, and your answer is not saved yet",
                fix="correct the file (or undo that change) in your editor, then confirm the "
                "answer again",
            )
        )

    def _render(self, data: dict[str, Any], assessment: Assessment, text: str | None) -> str:
        """The file's new text: edited in place, or in the standard layout for a new file."""
        if not text or self._raw is None:
            return assessment.to_yaml()
        from expert import yamledit  # ruamel.yaml takes a while to import: not at start-up

        out = yamledit.spliced(text, self._raw, data, str(self.path))
        if out is not None:  # only values changed: rewritten where they are written
            self._doc = None  # it holds the text before; read again when next needed
            return out
        try:
            if self._doc is None:
                self._doc = yamledit.Document(text)
            order = assessment.model_dump(mode="json", exclude_none=True)
            return yamledit.edited(self._doc, self._raw, data, order, str(self.path))
        except yamledit.EditError:
            self._doc = None
            self._notice(
                f"{self.path.name} could not be edited in place this time, so it is written "
                "in the standard layout (its comments are not kept)."
            )
            return dump_yaml(data)

    def _write(self, out: str, data: dict[str, Any], assessment: Assessment) -> None:
        source = str(self.path)
        try:
            atomic_write_text(self.path, out)
        except OSError as exc:
            self._doc = None  # it holds the unsaved change
            raise InputError(
                Problem(
                    source,
                    f"cannot save: {exc.strerror or exc}",
                    fix="free some space or fix the permissions, then confirm the answer again",
                )
            ) from None
        if self._raw is None:  # written in the standard layout: read it as it now is
            data = parse_yaml_text(out, source)[0]
        self._raw, self._digest, self.assessment = data, _digest(out), assessment


def disputed_field(q: Question) -> str:
    """The name a disagreement about q's answer has under `disputed`."""
    return f"answers.{q.id}" if q.answer is not None else q.field or ""


def _item(data: dict[str, Any], section: Section, item_id: str) -> dict[str, Any]:
    """The loop or resource with that id, or the economics section."""
    if section == "economics":
        return _mapping(data, "economics")
    if section == "loops":
        return _loop(data, item_id)
    for res in data.get("resources") or []:
        if isinstance(res, dict) and res.get("id") == item_id:
            return res
    raise InputError(Problem("<interview>", f"there is no resource {item_id!r}"))


def _settle(item: dict[str, Any], field: str) -> None:
    """Drop field's entry under `disputed`, and `disputed` itself once it is empty."""
    _drop(item, DISPUTED, field)


def _drop(item: dict[str, Any], section: str, field: str) -> None:
    """Drop field's entry under `section` (disputed, sources), and the section once empty."""
    entries = item.get(section)
    if isinstance(entries, dict) and field in entries:
        del entries[field]
        if not entries:
            del item[section]


def _skeleton() -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "system": {}, "loops": []}


def _leaves(data: Any, prefix: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], Any]:
    """Every value in data by its place; loops and resources are placed by id, not index."""
    if isinstance(data, dict) and data:
        out: dict[tuple[Any, ...], Any] = {}
        for key, value in data.items():
            out.update(_leaves(value, (*prefix, key)))
        return out
    from expert.yamledit import keyed

    if isinstance(data, list) and data and keyed(data):
        out = {}
        for item in data:
            out.update(_leaves(item, (*prefix, ("id", item["id"]))))
        return out
    return {prefix: data}


def _conflicts(base: Any, mine: Any, theirs: Any) -> list[str]:
    """Plain-words descriptions of the fields both this answer and the outside edit
    changed, to different values."""
    b, m, t = _leaves(base), _leaves(mine), _leaves(theirs)
    found = []
    for place in [*m, *(p for p in b if p not in m)]:
        was, ours, now = (d.get(place, _MISSING) for d in (b, m, t))
        if _same(was, ours) or _same(now, was) or _same(now, ours):
            continue
        there = "was removed there" if now is _MISSING else f"is now {_shown(now)} there"
        found.append(f"{_place(place)} {there} (your answer: {_shown(ours)})")
    if len(found) > MAX_CONFLICTS_SHOWN:
        found[MAX_CONFLICTS_SHOWN:] = [f"and {len(found) - MAX_CONFLICTS_SHOWN} more"]
    return found


def _same(a: Any, b: Any) -> bool:
    from expert.yamledit import same

    if a is _MISSING or b is _MISSING:
        return a is b
    return same(a, b)


def _shown(value: Any) -> str:
    return "nothing" if value is _MISSING or value is None else shown(value)


def _place(place: tuple[Any, ...]) -> str:
    """("loops", ("id", "hpa"), "timescale") as "loop hpa's timescale"."""
    owner = ""
    names: list[str] = []
    for part in place:
        if isinstance(part, tuple):
            kind = {"loops": "loop", "resources": "resource"}.get(names[-1] if names else "", "")
            owner, names = f"{kind or 'item'} {part[1]}", []
        else:
            names.append(str(part))
    field = ".".join(names) or "the whole entry"
    return f"{owner}'s {field}" if owner else field


def _put(obj: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    for part in parts[:-1]:
        child = obj.get(part)
        if not isinstance(child, dict):
            child = obj[part] = {}
        obj = child
    if value is None:
        obj.pop(parts[-1], None)
    else:
        obj[parts[-1]] = value


def _mark_not_applicable(item: dict[str, Any], path: str, na: bool) -> None:
    """List `path` under the item's `not_applicable` (na), or take it off: any other answer,
    don't know included, says the question applies after all."""
    listed = item.get(NOT_APPLICABLE_FIELDS)
    paths = [p for p in listed if p != path] if isinstance(listed, list) else []
    if na:
        paths.append(path)
    if paths:
        item[NOT_APPLICABLE_FIELDS] = paths
    else:
        item.pop(NOT_APPLICABLE_FIELDS, None)


def _mapping(obj: dict[str, Any], key: str) -> dict[str, Any]:
    child = obj.get(key)
    if not isinstance(child, dict):
        child = obj[key] = {}
    return child


def _loops(data: dict[str, Any]) -> list[dict[str, Any]]:
    loops = data.get("loops")
    if not isinstance(loops, list):
        loops = data["loops"] = []
    return loops


def _without(loop: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in loop.items() if k not in ("id", "name")}


def _index(data: dict[str, Any], loop_id: str) -> int:
    for i, loop in enumerate(_loops(data)):
        if loop.get("id") == loop_id:
            return i
    raise InputError(Problem("<interview>", f"there is no loop {loop_id!r}"))


def _loop(data: dict[str, Any], loop_id: str) -> dict[str, Any]:
    return _loops(data)[_index(data, loop_id)]


def _follows_deadline(loop: dict[str, Any], field: str, old: Any, new: Any) -> bool:
    """Whether a new deadline moves the loop's timescale too: a loop that acts on a timeout
    reacts when its deadline expires, so where its timescale was that deadline (a template
    proposes both alike: an NCCL watchdog's 10m) it stays the deadline. A timescale the
    respondent set apart from the deadline is theirs and stays."""
    triggers = loop.get("triggers")
    return (
        field == "deadline"
        and isinstance(old, str)
        and isinstance(new, str)
        and new != old
        and new != UNKNOWN
        and loop.get("timescale") == old
        and isinstance(triggers, list)
        and "timeout" in triggers
    )


def _implied(data: dict[str, Any]) -> list[str]:
    """The resources the loops act on, in order (what an assessment without a resources
    section declares implicitly)."""
    seen: dict[str, None] = {}
    for loop in _loops(data):
        if isinstance(loop.get("acts_on"), list):
            seen.update(dict.fromkeys(loop["acts_on"]))
    return list(seen)


def _declare(data: dict[str, Any], acts_on: Any) -> None:
    """With declared resources, a loop may only act on declared ones: declare new ids."""
    if not isinstance(acts_on, list):
        return
    known = {r.get("id") for r in data["resources"]}
    data["resources"].extend({"id": rid} for rid in acts_on if rid not in known)
