"""Several respondents' answers about one platform, merged into one assessment.

Loops are matched by id, then by name (case-insensitively); resources likewise. Where the
respondents agree, or only one gave an answer, the answer is taken. Where they disagree,
the merged section keeps every answer with who gave it, under `disputed`, and the field
itself holds `unknown`:

    loops:
      - id: replica-hpa
        timescale: unknown
        disputed:
          timescale:
            - {by: Platform team, value: 15s}
            - {by: Inference team, value: 60s}

Because the field is `unknown`, every rule treats a disputed value as unknown: findings
that rest on it are possible, and the question that would settle it is asked. `unknown`
given by one respondent is no disagreement with another's value (not knowing is not a
different answer); the value is taken.

A resource's `calls` cannot be unknown (a call path is a structure, not an answer), so a
disputed call list holds the union of the calls named and records the alternatives.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from expert.assessment import durations, limits
from expert.assessment.fields import spec as field_spec
from expert.assessment.fields import value_at
from expert.assessment.model import (
    DISPUTED,
    MAX_TEXT,
    UNKNOWN,
    Economics,
    Loop,
    Resource,
    disputed_sections,
    shown,
)
from expert.errors import InputError, Problem
from expert.yamlio import LineMap, dump_yaml

if TYPE_CHECKING:
    from expert.assessment.vocabulary import Vocabulary

# Where imported values came from: bookkeeping that follows the answers, not an answer.
SOURCES = "sources"
NOT_APPLICABLE = "not_applicable"
Section = Literal["loops", "resources", "economics"]
# The mapping fields of a loop whose keys are answers of their own.
_NESTED = ("retry", "guards", "answers")
# Fields that hold the union of the alternatives when disputed, not `unknown`.
_UNION_FIELDS = {("resources", "calls")}
_FACT_KIND = {"loops": "loop", "resources": "resource"}


class Alternative(BaseModel):
    by: str
    value: Any


class Dispute(BaseModel):
    section: Section
    id: str = ""
    name: str = ""
    field: str
    alternatives: list[Alternative]


@dataclass
class MergeResult:
    data: dict[str, Any]
    respondents: list[str]
    disputes: list[Dispute] = field(default_factory=list)
    matched_by_name: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_yaml(self) -> str:
        return dump_yaml(self.data)

    def summary(self) -> str:
        """What the merge did, for a terminal."""
        lines = [
            f"merged {len(self.respondents)} respondents ({', '.join(self.respondents)}): "
            f"{len(self.data.get('loops', []))} loops, {len(self.disputes)} disagreement(s)"
        ]
        for d in self.disputes:
            said = "; ".join(f"{a.by}: {_readable(a.value)}" for a in d.alternatives)
            where = f"{d.section[:-1]} {d.id}" if d.id else d.section
            lines.append(f"  disputed {where} {d.field}: {said}")
        lines += [f"  {m}" for m in self.matched_by_name]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


def _readable(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value)) if value else "none"
    return str(value)


def _key(text: Any) -> str:
    """How names are compared: case-insensitively, spaces collapsed."""
    return " ".join(str(text).split()).casefold()


def is_known(value: Any) -> bool:
    if value is None or value == UNKNOWN:
        return False
    if isinstance(value, list):
        return bool(value) and any(v != UNKNOWN for v in value)
    return True


def same_answer(section: str, name: str, a: Any, b: Any) -> bool:
    """Two answers say the same thing: lists in any order, durations by meaning
    (`60s` is `1m`), text case-insensitively."""
    if isinstance(a, list) and isinstance(b, list):
        return sorted(map(str, a)) == sorted(map(str, b))
    kind = _FACT_KIND.get(section)
    spec = field_spec(kind, name) if kind else None
    if spec is not None and spec.unit == "ms" and isinstance(a, str) and isinstance(b, str):
        try:
            return durations.parse(a) == durations.parse(b)
        except durations.DurationError:
            return False
    if isinstance(a, str) and isinstance(b, str):
        return _key(a) == _key(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


def flatten_answers(item: dict[str, Any]) -> dict[str, Any]:
    """A loop's, resource's or economics' answers by dotted field (no id, no disputes)."""
    out: dict[str, Any] = {}
    for key, value in item.items():
        if key in ("id", DISPUTED, SOURCES, NOT_APPLICABLE):
            continue
        if key in _NESTED and isinstance(value, dict):
            for sub, v in value.items():
                out[f"{key}.{sub}"] = v
        else:
            out[key] = value
    return out


def set_dotted(item: dict[str, Any], dotted: str, value: Any) -> None:
    head, _, tail = dotted.partition(".")
    if tail:
        item.setdefault(head, {})[tail] = value
    else:
        item[head] = value


@dataclass
class _Respondent:
    who: str
    data: dict[str, Any]
    carried: dict[tuple[str, str], dict[str, list[Alternative]]]  # (section, id) -> disputes
    implied: list[str]  # resources named only by acts_on, when none are declared


def _normalise(who: str, raw: dict[str, Any], vocab: Vocabulary) -> _Respondent:
    """Validate one respondent's answers (so `yes`, `no` and numbers are spelled one way)
    and set aside the disputes an earlier merge recorded."""
    from expert.assessment.model import validate

    if not isinstance(raw, dict):
        raise InputError(Problem(who, "is not an assessment (a mapping)", fix="give a YAML file"))
    source = f"answers from {who}"
    problems = check_disputes(raw, source)  # a merged file, merged again
    if problems:
        raise InputError(problems)
    data = copy.deepcopy(raw)
    carried: dict[tuple[str, str], dict[str, list[Alternative]]] = {}
    sections: list[tuple[str, dict[str, Any]]] = [
        *(("loops", lp) for _, lp in limits.entries(data, "loops")),
        *(("resources", r) for _, r in limits.entries(data, "resources")),
    ]
    if isinstance(data.get("economics"), dict):
        sections.append(("economics", data["economics"]))
    for section, item in sections:
        disputed = item.pop(DISPUTED, None)
        if disputed:
            carried[(section, limits.word(item.get("id")) or "")] = {
                name: [Alternative.model_validate(a) for a in alts]
                for name, alts in disputed.items()
            }
    model = validate(data, vocab, source)
    dumped = model.model_dump(mode="json", exclude_none=True)
    for res in dumped.get("resources") or []:
        if not res.get("calls"):
            res.pop("calls", None)  # the default: nothing said about calls
    for lp in dumped.get("loops", []):
        if not lp.get("answers"):
            lp.pop("answers", None)
    implied = model.resource_ids() if model.resources is None else []
    return _Respondent(who, dumped, carried, implied)


def match_ids(
    items: list[dict[str, Any]], merged: list[dict[str, Any]], who: str, what: str, log: list[str]
) -> dict[str, str]:
    """Each item's id -> the merged id it is the same as (by id, then by name)."""
    by_id = {m["id"]: m for m in merged}
    claimed: set[str] = set()
    out: dict[str, str] = {}
    for item in items:
        if item["id"] in by_id:
            out[item["id"]] = item["id"]
            claimed.add(item["id"])
    for item in items:
        if item["id"] in out:
            continue
        name = item.get("name")
        hits = [
            m["id"]
            for m in merged
            if is_known(name) and is_known(m.get("name")) and _key(m["name"]) == _key(name)
        ]
        free = [h for h in hits if h not in claimed]
        if len(free) == 1:
            out[item["id"]] = free[0]
            claimed.add(free[0])
            log.append(f"{who}'s {what} {item['id']} is {free[0]} (same name, {name!r})")
        else:
            out[item["id"]] = item["id"]
    return out


def rename_references(
    data: dict[str, Any], loops: dict[str, str], resources: dict[str, str]
) -> None:
    """Point one respondent's references at the merged ids."""

    def mapped(values: Any, table: dict[str, str]) -> Any:
        return [table.get(v, v) for v in values] if isinstance(values, list) else values

    for lp in data.get("loops", []):
        lp["id"] = loops.get(lp["id"], lp["id"])
        lp["acts_on"] = mapped(lp.get("acts_on"), resources)
        lp["controls"] = mapped(lp.get("controls"), loops)
        for key in ("acts_on", "controls"):
            if lp[key] is None:
                del lp[key]
    for res in data.get("resources") or []:
        res["id"] = resources.get(res["id"], res["id"])
        if "calls" in res:
            res["calls"] = mapped(res["calls"], resources)


class _Merger:
    def __init__(self, respondents: list[_Respondent]) -> None:
        self.respondents = respondents
        self.disputes: list[Dispute] = []
        self.notes: list[str] = []

    def merge_items(
        self, section: Section, per_respondent: list[list[dict[str, Any]]]
    ) -> list[dict[str, Any]]:
        """Items already renamed to merged ids, combined field by field."""
        order: list[str] = []
        answers: dict[str, dict[str, list[Alternative]]] = {}
        fields: dict[str, list[str]] = {}
        names: dict[str, str] = {}
        sources: dict[str, dict[str, str]] = {}
        not_applicable: dict[str, dict[str, list[str]]] = {}  # item -> field -> who said so
        for r, items in zip(self.respondents, per_respondent, strict=True):
            for item in items:
                iid = item["id"]
                if iid not in answers:
                    order.append(iid)
                    answers[iid], fields[iid] = {}, []
                for path in item.get(NOT_APPLICABLE) or []:
                    not_applicable.setdefault(iid, {}).setdefault(path, []).append(r.who)
                for fname, where in (item.get(SOURCES) or {}).items():
                    sources.setdefault(iid, {}).setdefault(fname, where)
                if is_known(item.get("name")) and iid not in names:
                    names[iid] = str(item["name"])
                self._collect(section, r, iid, flatten_answers(item), answers[iid], fields[iid])
        out = []
        for iid in order:
            merged: dict[str, Any] = {"id": iid}
            disputed = self._decide(
                section, iid, names.get(iid, iid), answers[iid], fields[iid], merged
            )
            if disputed:
                merged[DISPUTED] = disputed
            # A source stays only with an answer that was taken, not with a disputed one.
            kept = {f: w for f, w in sources.get(iid, {}).items() if f not in disputed}
            if kept:
                merged[SOURCES] = kept
            self._not_applicable(section, names.get(iid, iid), not_applicable.get(iid), merged)
            out.append(merged)
        return out

    def _not_applicable(
        self, section: Section, name: str, said: dict[str, list[str]] | None, item: dict[str, Any]
    ) -> None:
        """Keep "does not apply" where no respondent answered the question; where another
        did, the answer stands (they know of something the first did not) and a note says so."""
        if not said:
            return
        flat = flatten_answers(item)
        answers = item.get("answers") or {}
        kept = []
        for path, whos in said.items():
            head, _, qid = path.partition(".")
            given = answers.get(qid) if head == "answers" and qid else flat.get(path)
            if given is None:
                kept.append(path)
            else:
                self.notes.append(
                    f"{section[:-1]} {name}: {' and '.join(whos)} said {path} does not apply; "
                    f"another respondent answered it, so the answer is kept"
                )
        if kept:
            item[NOT_APPLICABLE] = kept

    def _collect(
        self,
        section: str,
        r: _Respondent,
        iid: str,
        flat: dict[str, Any],
        answers: dict[str, list[Alternative]],
        names: list[str],
    ) -> None:
        carried = r.carried.get((section, iid), {})
        for name in [*flat, *(n for n in carried if n not in flat)]:
            if name not in names:
                names.append(name)
            said = answers.setdefault(name, [])
            if name in carried:
                said += carried[name]
            elif is_known(flat.get(name)):
                said.append(Alternative(by=r.who, value=flat[name]))
            elif name in flat and not said:
                # Only unknowns so far: remember one, so `unknown` survives when no one knows.
                said.append(Alternative(by="", value=flat[name]))

    def _decide(
        self,
        section: Section,
        iid: str,
        name: str,
        answers: dict[str, list[Alternative]],
        names: list[str],
        item: dict[str, Any],
    ) -> dict[str, list[dict[str, Any]]]:
        disputed: dict[str, list[dict[str, Any]]] = {}
        for fname in names:
            said = [a for a in answers[fname] if a.by]  # known answers, with who gave them
            if not said:
                set_dotted(item, fname, answers[fname][0].value if answers[fname] else UNKNOWN)
                continue
            distinct: list[Any] = []
            for a in said:
                if not any(same_answer(section, fname, a.value, v) for v in distinct):
                    distinct.append(a.value)
            if len(distinct) == 1:
                set_dotted(item, fname, said[0].value)
                continue
            if (section, fname) in _UNION_FIELDS:
                union = list(dict.fromkeys(v for a in said for v in a.value))
                set_dotted(item, fname, union)
            else:
                set_dotted(item, fname, UNKNOWN)
            disputed[fname] = [a.model_dump() for a in said]
            self.disputes.append(
                Dispute(section=section, id=iid, name=name, field=fname, alternatives=said)
            )
        return disputed


def _system(rs: list[_Respondent], force: bool) -> tuple[dict[str, Any], list[str]]:
    names = [(r.who, r.data["system"]["name"]) for r in rs]
    notes: list[str] = []
    if len({_key(n) for _, n in names}) > 1:
        said = ", ".join(f"{who}: {shown(n)}" for who, n in names)
        if not force:
            raise InputError(
                Problem(
                    names[1][0],
                    f"the respondents describe different systems ({said})",
                    where="system.name",
                    fix="merge only answers about one platform, or pass --force if these "
                    "are two names for the same one",
                )
            )
        notes.append(f"system names differ ({said}); kept {shown(names[0][1])}")
    system: dict[str, Any] = {"name": names[0][1]}
    descriptions = [(r.who, r.data["system"].get("description")) for r in rs]
    given = [(who, d) for who, d in descriptions if d]
    if given:
        if len({_key(d) for _, d in given}) == 1:
            system["description"] = given[0][1]
        else:
            joined = "\n\n".join(f"{who}: {d}" for who, d in given)
            if len(joined) <= MAX_TEXT:
                system["description"] = joined
            else:
                system["description"] = given[0][1]
                notes.append(
                    f"descriptions differ and are too long to keep together; kept {given[0][0]}'s"
                )
    system["respondent"] = ", ".join(r.who for r in rs)
    return system, notes


def merge(
    assessments: Sequence[tuple[str, dict[str, Any]]],
    force: bool = False,
    *,
    vocab: Vocabulary,
) -> MergeResult:
    """Merge respondents' assessments, each given as (who, parsed file). InputError for
    answers that do not validate, for two respondents with the same name, for different
    systems without `force`, and for economics in different currencies."""
    if len(assessments) < 2:
        raise InputError(Problem("merge", "needs at least two assessments", fix="name two files"))
    whos = [who for who, _ in assessments]
    for who in whos:
        if not who.strip() or whos.count(who) > 1:
            raise InputError(
                Problem(
                    who or "<unnamed>",
                    "each respondent needs a name of their own",
                    fix="set system.respondent in each file, or give the files different names",
                )
            )
    rs = [_normalise(who, data, vocab) for who, data in assessments]
    system, notes = _system(rs, force)

    log: list[str] = []
    merged_res: list[dict[str, Any]] = []
    merged_loops: list[dict[str, Any]] = []
    any_declared = any(r.data.get("resources") is not None for r in rs)
    for r in rs:
        if any_declared and r.data.get("resources") is None:
            # Resources implied by acts_on, declared so the merged file stays consistent.
            r.data["resources"] = [{"id": rid} for rid in r.implied]
        res_map = match_ids(r.data.get("resources") or [], merged_res, r.who, "resource", log)
        loop_map = match_ids(r.data.get("loops", []), merged_loops, r.who, "loop", log)
        rename_references(r.data, loop_map, res_map)
        r.carried = {
            (s, (loop_map if s == "loops" else res_map).get(i, i)): v
            for (s, i), v in r.carried.items()
        }
        for item in r.data.get("resources") or []:
            if all(m["id"] != item["id"] for m in merged_res):
                merged_res.append({"id": item["id"], "name": item.get("name")})
        for item in r.data.get("loops", []):
            if all(m["id"] != item["id"] for m in merged_loops):
                merged_loops.append({"id": item["id"], "name": item.get("name")})

    m = _Merger(rs)
    out: dict[str, Any] = {"schema_version": 1, "system": system}
    if any_declared:
        out["resources"] = m.merge_items("resources", [r.data.get("resources") or [] for r in rs])
    out["loops"] = m.merge_items("loops", [r.data.get("loops", []) for r in rs])
    economics = [r.data.get("economics") for r in rs]
    if any(economics):
        currencies = {e.get("currency", "USD") for e in economics if e}
        if len(currencies) > 1:
            raise InputError(
                Problem(
                    rs[0].who,
                    f"cost figures are in different currencies ({', '.join(sorted(currencies))})",
                    where="economics.currency",
                    fix="convert one respondent's figures so both use the same currency",
                )
            )
        for e in economics:
            if e is not None:
                e["id"] = ""
        merged_econ = m.merge_items("economics", [[e] if e else [] for e in economics])[0]
        merged_econ.pop("id")
        out["economics"] = merged_econ
    return MergeResult(out, whos, m.disputes, log, [*notes, *m.notes])


# ---------------------------------------------------------------- checking a merged file


def disputable_fields(section: Section) -> set[str]:
    """The dotted fields a `disputed` section may name (answers.<question> aside)."""
    models: dict[str, type[BaseModel]] = {
        "loops": Loop,
        "resources": Resource,
        "economics": Economics,
    }
    model = models[section]
    out = {name for name in model.model_fields if name not in ("id", DISPUTED, *_NESTED)}
    if section == "loops":
        for nested in ("retry", "guards"):
            sub = Loop.model_fields[nested].annotation
            # `Retry | None`: the model is the member that is not None
            inner = next(
                a
                for a in getattr(sub, "__args__", (sub,))
                if isinstance(a, type) and issubclass(a, BaseModel)
            )
            out |= {f"{nested}.{name}" for name in inner.model_fields}
    if section == "economics":
        out.discard("currency")  # figures in two currencies are refused, not disputed
    return out


def check_disputes(
    data: Any, source: str = "<assessment>", lines: LineMap | None = None
) -> list[Problem]:
    """Problems with the `disputed` sections of a parsed assessment: each names a field of
    its section, holds at least two answers from different people, and the field itself
    holds `unknown` (the union, for a resource's calls), so rules treat it as unknown."""
    lines = lines or LineMap()
    problems: list[Problem] = []
    for section, loc, item in disputed_sections(data):
        label = (
            section
            if section == "economics"
            else f"{section}[{loc[1]}] (id {shown(item.get('id'))[1:-1]})"
        )
        problems += _check_item(section, item, _Place(source, lines, loc, label))
    return problems


@dataclass(frozen=True)
class _Place:
    source: str
    lines: LineMap
    loc: tuple[Any, ...]
    label: str

    def problem(self, name: str | None, message: str, fix: str) -> Problem:
        sub = () if name is None else (name,)
        return Problem(
            self.source,
            message,
            where=f"{self.label}.{DISPUTED}" + (f".{name}" if name is not None else ""),
            line=self.lines.line((*self.loc, DISPUTED, *sub)),
            fix=fix,
        )


def _check_item(section: Section, item: dict[str, Any], at: _Place) -> list[Problem]:
    disputed = item[DISPUTED]
    if not isinstance(disputed, dict):
        return [
            at.problem(
                None,
                "must map each disputed field to the answers given",
                "e.g. disputed: {timescale: [{by: A, value: 15s}, {by: B, value: 1m}]}",
            )
        ]
    out = []
    allowed = disputable_fields(section)
    for name, alts in disputed.items():
        if not isinstance(name, str) or not (
            name in allowed or (section == "loops" and name.startswith("answers."))
        ):
            out.append(
                at.problem(
                    str(name),
                    f"{shown(name)} is not a field that can be disputed here",
                    "name a field of this section, e.g. timescale or retry.max_retries",
                )
            )
            continue
        well_formed = isinstance(alts, list) and all(
            isinstance(a, dict)
            and set(a) == {"by", "value"}
            and isinstance(a["by"], str)
            and a["by"].strip()
            for a in alts
        )
        if not well_formed:
            out.append(
                at.problem(
                    name,
                    "each answer must be {by: WHO, value: ANSWER}",
                    "write who gave each answer and what it was",
                )
            )
            continue
        bys = [a["by"].strip() for a in alts]
        if len(alts) < 2 or len(set(bys)) != len(bys):
            out.append(
                at.problem(
                    name,
                    "a disagreement needs answers from two or more people, one each",
                    "keep one answer per person, or remove the entry and keep the answer",
                )
            )
            continue
        value = value_at(item, name)
        if (section, name) in _UNION_FIELDS:
            named = {v for a in alts if isinstance(a["value"], list) for v in a["value"]}
            if not isinstance(value, list) or not named <= set(value):
                out.append(
                    at.problem(
                        name,
                        f"{name} must hold every call named in the answers",
                        "list the union of the calls, or settle the disagreement",
                    )
                )
        elif value != UNKNOWN:
            out.append(
                at.problem(
                    name,
                    f"{name} is disputed, so it must be unknown (it is {shown(value)})",
                    f"write {name}: unknown, or settle the disagreement by removing the "
                    "entry under disputed",
                )
            )
    return out


def without_disputes(data: dict[str, Any]) -> dict[str, Any]:
    """A copy without the `disputed` sections: what a file reads as for rules, whose
    disputed fields already hold unknown."""
    out = copy.deepcopy(data)
    for section in ("loops", "resources"):
        for item in out.get(section) or []:
            item.pop(DISPUTED, None)
    if isinstance(out.get("economics"), dict):
        out["economics"].pop(DISPUTED, None)
    return out
