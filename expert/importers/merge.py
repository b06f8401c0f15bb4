"""Add imported loops and resources to an assessment the user already has.

The user's file is the authority: an answer they gave is never replaced. An imported value
fills only a field the user left out or answered `unknown`; where both give a value and
they differ, the user's stays and the difference is reported as a conflict. Loops and
resources are matched by id, then by name (as `coherence merge` matches respondents).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from expert.assessment.respondents import (
    DISPUTED,
    NOT_APPLICABLE,
    flatten_answers,
    is_known,
    match_ids,
    rename_references,
    same_answer,
    set_dotted,
)

SOURCES = "sources"


@dataclass
class ImportMerge:
    data: dict[str, Any]
    added: list[str] = field(default_factory=list)  # "loop x", "resource y"
    filled: list[str] = field(default_factory=list)  # "loop x timescale"
    conflicts: list[str] = field(default_factory=list)
    matched_by_name: list[str] = field(default_factory=list)


def merge_import(
    existing: dict[str, Any], resource_ids: list[str], imported: dict[str, Any]
) -> ImportMerge:
    """`existing` (the user's parsed, valid file) with `imported` added. `resource_ids` are
    the user's resources, declared or implied by acts_on: when the user declares none and
    the import does, the implied ones are declared so the result stays consistent."""
    data = copy.deepcopy(existing)
    new = copy.deepcopy(imported)
    out = ImportMerge(data)
    if new.get("resources") and data.get("resources") is None:
        data["resources"] = [{"id": rid} for rid in resource_ids]
    mine_res = data.get("resources") or []
    mine_loops = data.setdefault("loops", [])
    res_map = match_ids(
        new.get("resources") or [], mine_res, "the import", "resource", out.matched_by_name
    )
    loop_map = match_ids(
        new.get("loops", []), mine_loops, "the import", "loop", out.matched_by_name
    )
    rename_references(new, loop_map, res_map)
    for section, mine in (("resources", mine_res), ("loops", mine_loops)):
        by_id = {item["id"]: item for item in mine}
        for item in new.get(section) or []:
            what = f"{section[:-1]} {item['id']}"
            if item["id"] not in by_id:
                mine.append(item)
                out.added.append(what)
                continue
            _fill(by_id[item["id"]], item, section, what, out)
    return out


def _fill(
    mine: dict[str, Any], theirs: dict[str, Any], section: str, what: str, out: ImportMerge
) -> None:
    given = flatten_answers(mine)
    disputed = set(mine.get(DISPUTED) or {})  # a recorded disagreement is the user's answer
    not_applicable = set(mine.get(NOT_APPLICABLE) or [])  # so is "does not apply"
    # A source is cited only for a value the import filled: a kept answer is the user's own.
    cited = theirs.pop(SOURCES, None) or {}
    for dotted, value in flatten_answers(theirs).items():
        if dotted == "name" or dotted in disputed or not is_known(value):
            continue
        if dotted in not_applicable:
            out.conflicts.append(
                f"{what} {dotted}: kept your 'does not apply'; configuration says {_shown(value)}"
            )
            continue
        current = given.get(dotted)
        if not is_known(current):
            set_dotted(mine, dotted, value)
            out.filled.append(f"{what} {dotted}")
            if dotted in cited:
                mine.setdefault(SOURCES, {})[dotted] = cited[dotted]
        elif not same_answer(section, dotted, current, value):
            out.conflicts.append(
                f"{what} {dotted}: kept your {_shown(current)}; configuration says {_shown(value)}"
            )


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return repr(value) if isinstance(value, str) else str(value)
