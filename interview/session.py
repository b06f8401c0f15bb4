"""The assessment being built: every change is validated, then saved atomically.

The interview never holds answers the file does not have: a confirmed answer is applied to
a copy of the assessment, validated exactly as `coherence assess` validates a file, and
written with expert.assessment.save (temporary file, fsync, rename). An invalid answer
raises InputError and changes nothing, so the user can correct it in place.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from expert.assess import check_answers, load_assessment
from expert.assessment import SCHEMA_VERSION, SLUG, SLUG_HELP, Assessment, save, validate
from expert.errors import InputError, Problem
from expert.knowledge import KnowledgeBase
from expert.patterns import Question
from expert.templates import LoopTemplate
from expert.yamlio import remove_stale_temporaries
from interview.questions import field_value


def _is_blank(path: Path) -> bool:
    try:
        return path.stat().st_size == 0 or not path.read_bytes().strip()
    except OSError:
        return False


class Session:
    """One assessment file and the knowledge base it is written against."""

    def __init__(self, path: Path, kb: KnowledgeBase, assessment: Assessment | None) -> None:
        self.path = path
        self.kb = kb
        # None until the platform has a name: a valid file needs one.
        self.assessment = assessment

    @classmethod
    def open(cls, path: Path, kb: KnowledgeBase) -> Session:
        """Open an existing assessment or prepare a new one; InputError if the file is bad.

        A file that exists but does not validate is never overwritten: the user fixes it
        (the message names the line) or picks another file.
        """
        path = Path(path)
        if path.is_dir():
            raise InputError(
                Problem(str(path), "is a directory", fix="give the name of a .yaml file")
            )
        if not path.parent.exists():
            raise InputError(
                Problem(
                    str(path),
                    "its directory does not exist",
                    fix=f"create {path.parent} first, or choose another place",
                )
            )
        # A session killed mid-save may have left its temporary file: a save that never
        # completed, so never acknowledged to the user; the file itself is the last good one.
        remove_stale_temporaries(path)
        if not path.exists() or _is_blank(path):
            return cls(path, kb, None)
        return cls(path, kb, load_assessment(path, kb))

    # ------------------------------------------------------------ reading

    def data(self) -> dict[str, Any]:
        if self.assessment is None:
            return {"schema_version": SCHEMA_VERSION, "system": {}, "loops": []}
        return self.assessment.model_dump(mode="json", exclude_none=True)

    def value(self, q: Question, target: str = "") -> Any:
        """The stored answer to q (None when not answered yet)."""
        a = self.assessment
        if a is None:
            return None
        if q.about == "system":
            return field_value(a.system, q.field or "")
        if q.about == "economics":
            return field_value(a.economics, q.field or "") if a.economics else None
        if q.about == "resource":
            res = next((r for r in a.resource_list() if r.id == target), None)
            return field_value(res, q.field or "") if res else None
        loop = a.loop(target)
        if loop is None:
            return None
        if q.answer is not None:
            return loop.answers.get(q.id)
        return field_value(loop, q.field or "")

    def loop_name(self, loop_id: str) -> str:
        loop = self.assessment.loop(loop_id) if self.assessment else None
        if loop is None or not loop.name or loop.name == "unknown":
            return loop_id
        return loop.name

    # ------------------------------------------------------------ changing

    def answer(self, q: Question, target: str, value: Any) -> None:
        """Store the answer to q (None clears it); InputError if the result is invalid."""
        data = self.data()
        if q.about == "system":
            if self.assessment is None and q.field != "name":
                raise InputError(
                    Problem(
                        str(self.path),
                        "the platform needs a name before anything can be saved",
                        fix="answer the first question (the platform's name) first",
                    )
                )
            _put(data["system"], q.field or "", value)
        elif self.assessment is None:
            raise InputError(
                Problem(
                    str(self.path),
                    "the platform needs a name before anything can be saved",
                    fix="answer the first question (the platform's name) first",
                )
            )
        elif q.about == "economics":
            _put(data.setdefault("economics", {}), q.field or "", value)
        elif q.about == "resource":
            resources = data.get("resources")
            if resources is None:  # declare every resource the loops name, then this one
                resources = [{"id": rid} for rid in self.assessment.resource_ids()]
                data["resources"] = resources
            res = next((r for r in resources if r["id"] == target), None)
            if res is None:
                res = {"id": target}
                resources.append(res)
            _put(res, q.field or "", value)
        else:
            loop = _loop(data, target)
            if q.answer is not None:
                if value is None:
                    loop.setdefault("answers", {}).pop(q.id, None)
                else:
                    loop.setdefault("answers", {})[q.id] = value
            else:
                _put(loop, q.field or "", value)
                if q.field == "acts_on" and data.get("resources") is not None:
                    _declare(data, value)
        self._commit(data)

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
        data = self.data()
        loop: dict[str, Any] = copy.deepcopy(template.loop) if template else {}
        loop.pop("id", None)
        loop = {"id": loop_id, "name": name or loop.get("name") or loop_id, **_without(loop)}
        if data.get("resources") is not None and isinstance(loop.get("acts_on"), list):
            _declare(data, loop["acts_on"])
        data["loops"].append(loop)
        self._commit(data)

    def duplicate_loop(self, loop_id: str, new_id: str, new_name: str) -> None:
        self._require_id(new_id)
        data = self.data()
        index = _index(data, loop_id)
        twin = copy.deepcopy(data["loops"][index])
        twin["id"], twin["name"] = new_id, new_name
        data["loops"].insert(index + 1, twin)
        self._commit(data)

    def rename_loop(self, loop_id: str, new_id: str, new_name: str) -> None:
        self._require_id(new_id, replacing=loop_id)
        data = self.data()
        loop = _loop(data, loop_id)
        loop["id"], loop["name"] = new_id, new_name
        for other in data["loops"]:  # keep references from other loops pointing at it
            if isinstance(other.get("controls"), list):
                other["controls"] = [new_id if c == loop_id else c for c in other["controls"]]
        self._commit(data)

    def delete_loop(self, loop_id: str) -> None:
        data = self.data()
        data["loops"].pop(_index(data, loop_id))
        for other in data["loops"]:
            if isinstance(other.get("controls"), list):
                other["controls"] = [c for c in other["controls"] if c != loop_id]
        self._commit(data)

    # ------------------------------------------------------------ internals

    def _require_id(self, loop_id: str, *, replacing: str | None = None) -> None:
        problem = self.check_loop_id(loop_id, replacing=replacing)
        if problem:
            raise InputError(Problem(str(self.path), problem, where="loop id"))

    def _commit(self, data: dict[str, Any]) -> None:
        """Validate as `coherence assess` would, then save atomically; InputError if invalid."""
        source = str(self.path)
        assessment = validate(data, self.kb.vocabulary, source)
        problems = check_answers(assessment, self.kb, source)
        if problems:
            raise InputError(problems)
        try:
            save(assessment, self.path)
        except OSError as exc:
            raise InputError(
                Problem(
                    source,
                    f"cannot save: {exc.strerror or exc}",
                    fix="free some space or fix the permissions, then confirm the answer again",
                )
            ) from None
        self.assessment = assessment


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


def _without(loop: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in loop.items() if k not in ("id", "name")}


def _index(data: dict[str, Any], loop_id: str) -> int:
    for i, loop in enumerate(data["loops"]):
        if loop["id"] == loop_id:
            return i
    raise InputError(Problem("<interview>", f"there is no loop {loop_id!r}"))


def _loop(data: dict[str, Any], loop_id: str) -> dict[str, Any]:
    return data["loops"][_index(data, loop_id)]


def _declare(data: dict[str, Any], acts_on: Any) -> None:
    """With declared resources, a loop may only act on declared ones: declare new ids."""
    if not isinstance(acts_on, list):
        return
    known = {r["id"] for r in data["resources"]}
    data["resources"].extend({"id": rid} for rid in acts_on if rid not in known)
