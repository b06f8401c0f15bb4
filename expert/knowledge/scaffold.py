"""`coherence kb new ID`: a new pattern file and its cases file, ready to be filled in.

The pattern matches one loop per role (two loops also share a resource, through the `pair`
fact), and the cases file holds a firing case and a near miss built from the vocabulary's
own definition of each role, so `kb test` runs at once. Every text the author must write is
marked `<fill in: ...>` and the source is a reserved address: `kb lint` refuses both until
they are replaced.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from expert.assessment.vocabulary import Vocabulary, suggest
from expert.errors import InputError, Problem
from expert.knowledge.knowledgebase import KnowledgeBase
from expert.knowledge.patterns import PatternId
from expert.knowledge.schema import MODELINE_PREFIX, SCHEMA_FILES

FILL_IN = "<fill in:"
PLACEHOLDER_URL = "https://example.invalid/fill-in-the-source"
KINDS = ("incoherence", "auditability")


@dataclass
class Scaffold:
    pattern: Path
    cases: Path
    pattern_text: str
    cases_text: str


def _problem(what: str, message: str, fix: str) -> InputError:
    return InputError(Problem(what, message, fix=fix))


def check_request(
    pattern_id: str, kind: str, layers: list[str], roles: list[str], vocab: Vocabulary
) -> None:
    """Refuse an id, kind, layer or role the knowledge base would not accept."""
    from pydantic import TypeAdapter, ValidationError

    try:
        TypeAdapter(PatternId).validate_python(pattern_id)
    except ValidationError:
        raise _problem(
            pattern_id, "is not a pattern id", "use lower-case words joined by '-'"
        ) from None
    if kind not in KINDS:
        raise _problem(
            kind,
            "is not a kind `kb new` writes",
            f"use one of {', '.join(KINDS)}; symptoms and ghost costs are caused by other "
            "patterns: copy one under knowledge_base/patterns/symptom or ghost-cost",
        )
    problems = [
        Problem(layer, "is not a layer", fix=suggest(layer, sorted(vocab.layers)))
        for layer in layers
        if layer not in vocab.layers
    ]
    problems += [
        Problem(role, "is not a role", fix=suggest(role, sorted(vocab.roles)))
        for role in roles
        if role not in vocab.roles
    ]
    if not 1 <= len(roles) <= 2:
        problems.append(
            Problem(
                ", ".join(roles) or "roles",
                f"{len(roles)} roles given",
                fix="give one role (a pattern about one loop) or two (two loops on one resource)",
            )
        )
    if kind == "auditability" and len(roles) != 1:
        problems.append(
            Problem(kind, "an auditability pattern is about one loop", fix="give one role")
        )
    if problems:
        raise InputError(problems)


def _variables(roles: list[str]) -> list[str]:
    out: list[str] = []
    for role in roles:
        name = role if role not in out else f"{role}_2"
        out.append(name)
    return out


def _loop_for(role: str, loop_id: str, resource: str, vocab: Vocabulary) -> str:
    """A loop that plays `role` by the vocabulary's first way of playing it."""
    way = vocab.roles[role].when[0]
    parts = [f"id: {loop_id}", f"actuations: [{way.actuations[0]}]"]
    if way.triggers:
        parts.append(f"triggers: [{way.triggers[0]}]")
    if way.instances:
        parts.append(f"instances: {way.instances[0]}")
    parts.append(f"acts_on: [{resource}]")
    return "{" + ", ".join(parts) + "}"


def _loop_without(role: str, loop_id: str, resource: str, vocab: Vocabulary) -> str:
    """A loop that does not play `role`: an actuation none of its ways names."""
    used = {a for way in vocab.roles[role].when for a in way.actuations}
    other = next((a for a in vocab.terms("actuations") if a not in used), "")
    return f"{{id: {loop_id}, actuations: [{other}], acts_on: [{resource}]}}"


def _resource(rid: str, role_vars: list[str], roles: list[str], vocab: Vocabulary) -> str:
    synced = any(vocab.roles[r].when[0].synchronized for r in roles)
    return f"{{id: {rid}, kind: service" + (", synchronized: 'yes'" if synced else "") + "}"


def _modeline(file: Path, root: Path, kind: str) -> str:
    target = root / "schema" / SCHEMA_FILES[kind]
    return MODELINE_PREFIX + os.path.relpath(target, file.parent).replace(os.sep, "/")


def scaffold(
    root: Path,
    pattern_id: str,
    kind: str,
    layers: list[str],
    roles: list[str],
    vocab: Vocabulary,
) -> Scaffold:
    """The two files for a new pattern under `root` (a knowledge base or pack directory)."""
    check_request(pattern_id, kind, layers, roles, vocab)
    folder = root / "patterns" / kind
    pattern_path = folder / f"{pattern_id}.yaml"
    cases_path = folder / f"{pattern_id}.cases.yaml"
    names = _variables(roles)
    match = []
    for var, role in zip(names, roles, strict=True):
        match += [
            f"  {var}:",
            "    fact: loop",
            "    where:",
            f"      # {vocab.roles[role].label}",
            f"      - {{field: roles, has: {role}, strict: true}}",
        ]
    if len(names) == 2:
        match += [
            "  pair:",
            "    # two different loops acting on one resource (both orders are facts)",
            "    fact: pair",
            "    where:",
            f"      - {{field: a, same_as: {names[0]}.id}}",
            f"      - {{field: b, same_as: {names[1]}.id}}",
        ]
    who = " and ".join(f"{{{v}.name}}" for v in names)
    pattern_text = "\n".join(
        [
            _modeline(pattern_path, root, "pattern"),
            f"id: {pattern_id}",
            f"kind: {kind}",
            f'title: "{FILL_IN} what goes wrong, as a platform owner would say it>"',
            "summary: >-",
            f"  {FILL_IN} two or three plain sentences; Top risks shows only the first>",
            "mechanism: >-",
            f"  {FILL_IN} how the loops act on each other, step by step>",
            f"layers: [{', '.join(layers)}]",
            "severity: medium",
            "match:",
            *match,
            "narrative: >-",
            f"  {FILL_IN} what happens on this platform, naming {who}>",
            "clears:",
            f'  - "{FILL_IN} the change to {who} that would clear it>"',
            "sources:",
            f'  - title: "{FILL_IN} the postmortem, paper, documentation page or issue>"',
            f"    url: {PLACEHOLDER_URL}",
            "tags: []",
            "",
        ]
    )
    loop_ids = [v.replace("_", "-") for v in names]
    fires = [_loop_for(r, lid, "svc", vocab) for r, lid in zip(roles, loop_ids, strict=True)]
    if len(names) == 2:  # the same two loops on two different resources share none
        quiet_loops = [
            _loop_for(roles[0], loop_ids[0], "svc", vocab),
            _loop_for(roles[1], loop_ids[1], "other-svc", vocab),
        ]
        quiet_resources = [
            _resource("svc", names, roles, vocab),
            _resource("other-svc", names, roles, vocab),
        ]
        quiet_why = "the two loops act on different resources"
    else:
        quiet_loops = [_loop_without(roles[0], loop_ids[0], "svc", vocab)]
        quiet_resources = [_resource("svc", names, roles, vocab)]
        quiet_why = f"the loop does not play the role {roles[0]}"

    def case(name: str, expect: str, why: str, resources: list[str], loops: list[str]) -> list[str]:
        return [
            f'  - name: "{name}"',
            f"    expect: {expect}",
            *(
                ["    status: confirmed", f"    loops: [{', '.join(loop_ids)}]"]
                if expect == "fires"
                else []
            ),
            f'    why: "{why}"',
            "    assessment:",
            "      system: {name: case}",
            "      resources:",
            *(f"        - {r}" for r in resources),
            "      loops:",
            *(f"        - {lp}" for lp in loops),
        ]

    cases_text = "\n".join(
        [
            _modeline(cases_path, root, "cases"),
            f"pattern: {pattern_id}",
            "cases:",
            *case(
                f"{FILL_IN} a platform where it fires>",
                "fires",
                f"{FILL_IN} why it fires>",
                [_resource("svc", names, roles, vocab)],
                fires,
            ),
            *case(
                f"{FILL_IN} near miss - the closest platform where it stays quiet>",
                "quiet",
                f"{FILL_IN} why it stays quiet; as written, {quiet_why}>",
                quiet_resources,
                quiet_loops,
            ),
            "",
        ]
    )
    return Scaffold(pattern_path, cases_path, pattern_text, cases_text)


def write(s: Scaffold) -> None:
    """Create both files; refuse, writing nothing, if either exists."""
    existing = [p for p in (s.pattern, s.cases) if p.exists() or p.is_symlink()]
    if existing:
        raise InputError(
            [
                Problem(str(p), "already exists", fix="choose another id, or edit the file")
                for p in existing
            ]
        )
    try:
        s.pattern.parent.mkdir(parents=True, exist_ok=True)
        with open(s.pattern, "x", encoding="utf-8") as fh:
            fh.write(s.pattern_text)
        try:
            with open(s.cases, "x", encoding="utf-8") as fh:
                fh.write(s.cases_text)
        except OSError:
            s.pattern.unlink()  # both files or neither
            raise
    except FileExistsError as exc:
        raise InputError(
            Problem(str(exc.filename), "already exists", fix="choose another id")
        ) from None
    except OSError as exc:
        raise InputError(
            Problem(str(exc.filename or s.pattern), f"cannot write: {exc.strerror}")
        ) from None


def same_roles(kb: KnowledgeBase, roles: list[str]) -> list[str]:
    """Ids of the active patterns that test their loops for every one of `roles`: the ones
    a new pattern on those roles may restate."""
    wanted = set(roles)
    out = []
    for p in kb.active():
        tested: set[str] = set()
        for fm in p.match.values():
            for term in fm.where:
                if term.field == "roles":
                    tested.update([term.has] if term.has else term.has_any or [])
        if wanted and wanted <= tested:
            out.append(p.id)
    return sorted(out)
