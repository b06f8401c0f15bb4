"""`coherence kb lint`: named validators over the knowledge base and any packs.

Each validator checks one promise the knowledge base makes and reports every breach with the
file, the place and the fix. The validators run in order; when files do not even parse or
match their schema, the validators that need the merged knowledge base are skipped (their
findings would only repeat the schema problem).

Validators (see VALIDATORS for the one-line descriptions):
schema, modeline, unique-ids, load, vocabulary, sources, cases, questions-feed-rules,
question-fields, reachable, feeds-forward, placeholders, asks, costs, templates, compile.

"Every question feeds a rule" is decided as follows. A question passes when what it sets is
read by the rules, directly or through the structure the engine derives:
- a loop `answer` question: some active pattern tests `answers.<id>`;
- a loop or resource `field` question: some pattern tests the field, or the field is an input
  of a derived fact (edge, pair, nesting, amplification, cycle, acts, platform) that some
  pattern matches, or a narrative shows it (`{var.field}`), or it names the thing (`name`);
- a `system` or `economics` question: the reports and the economics module read these
  fields, so it passes when the field exists in the assessment format.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from expert.assessment.fields import FACT_KINDS
from expert.assessment.model import (
    Economics,
    Guards,
    Loop,
    Resource,
    Retry,
    System,
    pydantic_problems,
)
from expert.errors import InputError, Problem
from expert.knowledge import knowledgebase as knowledge
from expert.knowledge.imperative import instruction
from expert.knowledge.patterns import CaseFile, Pattern, Question
from expert.knowledge.schema import MODELINE_PREFIX, SCHEMA_FILES
from expert.knowledge.templates import LoopTemplate
from expert.yamlio import LineMap, load_yaml

COST_COMPUTATIONS = ("accelerator_hours", "tokens", "engineer_hours")

# Loop and resource fields that feed the facts the engine derives, by derived fact kind.
DERIVED_FROM: dict[str, dict[str, set[str]]] = {
    "edge": {
        "loop": {"acts_on", "triggers", "actuations", "observes", "changes"},
        "resource": {"calls"},
    },
    "pair": {"loop": {"acts_on", "timescale", "layer", "triggers", "observes"}, "resource": set()},
    "nesting": {"loop": {"acts_on", "deadline", "propagates_cancellation"}, "resource": {"calls"}},
    "amplification": {
        "loop": {"acts_on", "actuations", "retry.max_retries"},
        "resource": {"calls"},
    },
    "cycle": {
        "loop": {"acts_on", "triggers", "actuations", "observes", "changes"},
        "resource": {"calls"},
    },
    "acts": {
        # with roles_here and actuations_here, what every loop on the resource does
        "loop": {"acts_on", "timescale", "deadline", "actuations", "triggers", "instances"},
        "resource": {
            "startup_time",
            "checkpoint_interval",
            "checkpoint_duration",
            "synchronized",
        },
    },
    "waits": {"loop": {"acts_on", "deadline", "triggers"}, "resource": {"calls", "startup_time"}},
    "platform": {"loop": set(), "resource": {"kind", "accelerated"}},
    # stated masks, or those implied by a retrying loop upstream of a reader (masking.py)
    "mask": {
        "loop": {"masks", "acts_on", "actuations", "triggers", "observes", "retry.retries_on"},
        "resource": {"calls"},
    },
}
# Loop fields the engine derives from others: reading them reads their inputs.
LOOP_DERIVED = {
    "emits": {"actuations", "changes"},
    "reacts": {"triggers", "observes"},
    "roles": {"actuations", "triggers", "instances", "acts_on"},
}


@dataclass
class LintResult:
    name: str
    description: str
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems and not self.skipped


@dataclass
class _Files:
    """Every YAML file of every pack, parsed and validated one by one."""

    dirs: list[tuple[str, Path]]
    patterns: list[tuple[str, Path, Pattern]] = field(default_factory=list)
    cases: list[tuple[str, Path, CaseFile]] = field(default_factory=list)
    questions: list[tuple[str, Path, Question]] = field(default_factory=list)
    templates: list[tuple[str, Path, LoopTemplate]] = field(default_factory=list)
    kinds: dict[Path, str] = field(default_factory=dict)  # file -> schema kind


VALIDATORS: dict[str, str] = {
    "schema": "every file parses and matches its schema",
    "modeline": "every file names its JSON Schema on the first line, for editors",
    "unique-ids": "no id is defined twice in a pack; file names match pattern ids",
    "load": "the packs merge into one knowledge base",
    "vocabulary": "patterns name known facts, fields, operators and vocabulary terms",
    "sources": "every pattern cites at least one public source",
    "cases": "every pattern has at least one firing and one quiet, valid example case",
    "questions-feed-rules": "every question sets something a rule or a report reads",
    "question-fields": "question fields exist in the assessment format; asked_when is valid",
    "question-labels": "every question stored in a loop's answers has a short label for tables",
    "reachable": "every symptom and ghost cost can be reached from a stage-1 pattern",
    "feeds-forward": "feeds name active patterns of a later stage; subsumes, incoherence ones",
    "placeholders": "narratives, clears and reasons use placeholders the engine can fill",
    "clears-as-commands": "every `clears` reads as a command once turned (reports list them)",
    "asks": "asked questions exist and are loop questions about matched loops",
    "costs": "ghost costs name a known computation with low <= likely <= high",
    "templates": "loop templates are valid loops in the vocabulary",
    "scaffold": "no text or source left as `coherence kb new` wrote it",
    "compile": "the knowledge base compiles into engine rules",
}


def _kind_of(path: Path, root: Path) -> str:
    rel = path.relative_to(root)
    if rel.parts[0] == "patterns":
        return "cases" if path.name.endswith((".cases.yaml", ".cases.yml")) else "pattern"
    if rel.parts[0] in ("questions", "templates"):
        return rel.parts[0]
    return {"vocabulary.yaml": "vocabulary", "disabled.yaml": "disabled"}.get(rel.name, "")


def _pack_files(root: Path) -> list[Path]:
    out: list[Path] = []
    for sub in ("patterns", "questions", "templates"):
        base = root / sub
        if base.is_dir():
            out += sorted(p for p in base.rglob("*") if p.suffix in (".yaml", ".yml"))
    out += [root / n for n in ("vocabulary.yaml", "disabled.yaml") if (root / n).is_file()]
    return out


def _validated(
    model: type[BaseModel], data: Any, source: str, lines: LineMap, loc: tuple[Any, ...] = ()
) -> tuple[Any, list[Problem]]:
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        problems = pydantic_problems(
            exc, source, data, _Shifted(lines, loc), schema="coherence kb schema"
        )
        if loc:
            prefix = f"[{loc[0]}]"
            problems = [
                Problem(
                    p.source, p.message, f"{prefix}.{p.where}" if p.where else prefix, p.line, p.fix
                )
                for p in problems
            ]
        return None, problems


class _Shifted(LineMap):
    """Line lookups for one item of a list file (locations relative to the item)."""

    def __init__(self, base: LineMap, prefix: tuple[Any, ...]) -> None:
        super().__init__()
        self.base, self.prefix = base, prefix

    def line(self, loc: Any) -> int | None:
        return self.base.line((*self.prefix, *tuple(loc)))


def _check_schema(files: _Files) -> list[Problem]:
    problems: list[Problem] = []
    for pack, root in files.dirs:
        for path in _pack_files(root):
            kind = _kind_of(path, root)
            files.kinds[path] = kind
            try:
                data, lines = load_yaml(path, max_bytes=knowledge.MAX_KB_FILE, what=f"{kind} file")
            except InputError as exc:
                problems += exc.problems
                continue
            src = str(path)
            if kind in ("pattern", "cases") and not isinstance(data, dict):
                problems.append(
                    Problem(
                        src,
                        f"a {kind} file is a mapping of fields, not {type(data).__name__}",
                        line=1,
                        fix="start from a copy of an existing file (see knowledge_base/README.md)",
                    )
                )
                continue
            if kind == "pattern":
                obj, found = _validated(Pattern, data, src, lines)
                problems += found
                if obj is not None:
                    files.patterns.append((pack, path, obj))
            elif kind == "cases":
                obj, found = _validated(CaseFile, data, src, lines)
                problems += found
                if obj is not None:
                    files.cases.append((pack, path, obj))
            elif kind in ("questions", "templates"):
                if not isinstance(data, list):
                    problems.append(
                        Problem(
                            src, f"a {kind} file is a list", line=1, fix="start each item with '- '"
                        )
                    )
                    continue
                model: type[BaseModel] = Question if kind == "questions" else LoopTemplate
                store = files.questions if kind == "questions" else files.templates
                for i, item in enumerate(data):
                    obj, found = _validated(model, item, src, lines, (i,))
                    problems += found
                    if obj is not None:
                        store.append((pack, path, obj))
            elif kind == "vocabulary":
                if not isinstance(data, dict):
                    problems.append(Problem(src, "the vocabulary must be a mapping", line=1))
            elif kind == "disabled":
                if not isinstance(data, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in data.items()
                ):
                    problems.append(
                        Problem(
                            src,
                            "must map pattern ids to the reason they are switched off",
                            line=1,
                            fix='e.g.  hpa-vpa-same-metric: "VPA runs in recommend-only mode"',
                        )
                    )
            else:
                problems.append(
                    Problem(src, "is not a knowledge-base file", fix="move it out of the pack")
                )
    return problems


def _check_modelines(files: _Files) -> list[Problem]:
    problems = []
    for path, kind in files.kinds.items():
        if kind not in SCHEMA_FILES:
            continue
        expected = SCHEMA_FILES[kind]
        try:
            first = path.read_text(encoding="utf-8").splitlines()[0] if path.stat().st_size else ""
        except (OSError, UnicodeDecodeError):
            continue  # reported by the schema validator
        fix = f"make the first line `{MODELINE_PREFIX}<path to>/{expected}`"
        if not first.startswith(MODELINE_PREFIX):
            problems.append(
                Problem(str(path), "has no yaml-language-server modeline", line=1, fix=fix)
            )
            continue
        target = first[len(MODELINE_PREFIX) :].strip()
        if Path(target).name != expected:
            problems.append(
                Problem(str(path), f"modeline names {target!r}, not {expected}", line=1, fix=fix)
            )
        elif (
            not target.startswith(("http://", "https://")) and not (path.parent / target).is_file()
        ):
            problems.append(
                Problem(
                    str(path),
                    f"modeline points at {target!r}, which does not exist",
                    line=1,
                    fix="write the schemas with `coherence kb schema DIR` and point at them",
                )
            )
    return problems


def _check_unique(files: _Files) -> tuple[list[Problem], list[str]]:
    problems: list[Problem] = []
    notes: list[str] = []
    first_pack: dict[str, str] = {}
    for what, items in (
        ("pattern", files.patterns),
        ("question", files.questions),
        ("template", files.templates),
    ):
        seen: dict[tuple[str, str], Path] = {}
        for pack, path, obj in items:
            key = (pack, obj.id)
            if key in seen:
                problems.append(
                    Problem(
                        str(path),
                        f"{what} id {obj.id!r} is also defined in {seen[key]}",
                        fix="give each one its own id; to replace a built-in, use a pack",
                    )
                )
                continue
            seen[key] = path
            owner = first_pack.setdefault(f"{what}:{obj.id}", pack)
            if owner != pack:
                notes.append(f"{pack} overrides {what} {obj.id!r} from {owner}")
    for _, path, p in files.patterns:
        if path.stem != p.id:
            problems.append(
                Problem(
                    str(path),
                    f"file name does not match the pattern id {p.id!r}",
                    fix=f"rename it to {p.id}.yaml (its cases file is found by that name)",
                )
            )
    for _, path, cf in files.cases:
        beside = path.with_name(path.name.replace(".cases.", ".", 1))
        if not beside.is_file():
            problems.append(
                Problem(
                    str(path),
                    f"no pattern file {beside.name} beside this cases file",
                    fix="put <id>.cases.yaml in the same directory as <id>.yaml",
                )
            )
        elif cf.pattern != beside.stem:
            problems.append(
                Problem(
                    str(path),
                    f"cases are for {cf.pattern!r} but sit beside {beside.name}",
                    fix="make `pattern:` match the pattern's id",
                )
            )
    return problems, notes


def _origin(kb: knowledge.KnowledgeBase, pid: str) -> str:
    origin = kb.origins.get(pid)
    return origin.path if origin else pid


def _terms(p: Pattern) -> list[tuple[str, str, Any]]:
    """(variable, fact kind, term) for every term of the match and the escalations."""
    out = [(var, fm.fact, t) for var, fm in p.match.items() for t in fm.where]
    for esc in p.escalate:
        for var, terms in esc.when.items():
            if var in p.match:
                out += [(var, p.match[var].fact, t) for t in terms]
    return out


def _check_vocabulary(kb: knowledge.KnowledgeBase) -> list[Problem]:
    from expert.knowledge.conditions import check_pattern

    answer_fields = kb.answer_fields()
    every = set(kb.patterns)
    problems = []
    for p in kb.active():
        for k, v in enumerate(p.variants()):
            for msg in check_pattern(v, kb.vocabulary, answer_fields, every):
                problems.append(
                    Problem(_origin(kb, p.id), p.form_place(k) + msg, where=f"pattern {p.id}")
                )
    return problems


def _check_scaffold(kb: knowledge.KnowledgeBase) -> list[Problem]:
    """A pattern or case written by `coherence kb new` still holds a fill-in mark or the
    reserved source address: the author has not finished it."""
    from expert.knowledge.scaffold import FILL_IN, PLACEHOLDER_URL

    problems = []
    for p in kb.active():
        texts = [
            ("title", p.title),
            ("summary", p.summary),
            ("mechanism", p.mechanism),
            *knowledge.pattern_texts(p),
            *((f"forms[{i}].narrative", f.narrative) for i, f in enumerate(p.forms)),
            *((f"sources[{i}].title", s.title) for i, s in enumerate(p.sources)),
        ]
        problems += [
            Problem(
                _origin(kb, p.id),
                f"{where} is still the text `coherence kb new` wrote",
                where=where,
                fix="replace the <fill in: ...> text with your own words",
            )
            for where, text in texts
            if FILL_IN in text
        ]
        problems += [
            Problem(
                _origin(kb, p.id),
                f"sources[{i}] is the placeholder address {PLACEHOLDER_URL}",
                where=f"sources[{i}].url",
                fix="cite the postmortem, paper, documentation page or issue the pattern rests on",
            )
            for i, s in enumerate(p.sources)
            if s.url == PLACEHOLDER_URL
        ]
        cases = kb.cases.get(p.id)
        for i, case in enumerate(cases.cases if cases else []):
            if FILL_IN in case.name or FILL_IN in case.why:
                problems.append(
                    Problem(
                        str(knowledge.cases_path(kb.origins[p.id].path))
                        if p.id in kb.origins
                        else p.id,
                        f"case {i + 1} is still the text `coherence kb new` wrote",
                        where=f"cases[{i}]",
                        fix="name the case and say why it fires or stays quiet",
                    )
                )
    return problems


# A command left in the past tense; "Feed", "Need" and "Shed" are commands as they stand.
_PAST_START = re.compile(r"^\S+ (was|were)\b|^(?!Shed\b)[A-Z][a-z]+(?<!e)ed\b")


def _check_clears(kb: knowledge.KnowledgeBase) -> list[Problem]:
    """A `clears` is written as what would be true ("the deadline was raised"); the reports
    turn it into a command ("Raise the deadline"). Where that leaves a past tense, the
    reader gets a broken instruction."""
    problems = []
    for p in kb.active():
        for i, template in enumerate(p.clears):
            # Placeholders stand for loop names here, as the reports fill them.
            named = re.sub(
                r"\{([^{}]+)\}", lambda m: "Loop " + m.group(1).split(".")[0].title(), template
            )
            text = instruction(template, named)
            if _PAST_START.match(text) or re.search(r"\b(was|were)\b", text):
                problems.append(
                    Problem(
                        _origin(kb, p.id),
                        f"reads as {text!r} once turned into a command",
                        where=f"clears[{i}]",
                        fix='write it as one condition in the past tense ("the deadline was '
                        'raised above the start-up time"), or split joined clauses into separate '
                        "clears; see Clears in knowledge_base/README.md",
                    )
                )
    return problems


def _check_sources(kb: knowledge.KnowledgeBase) -> list[Problem]:
    problems = []
    for p in kb.active():
        if not p.sources:
            problems.append(
                Problem(
                    _origin(kb, p.id),
                    "cites no public source",
                    where="sources",
                    fix="add a postmortem, paper, documentation page or issue (title and url)",
                )
            )
        for i, s in enumerate(p.sources):  # the url is a web address (patterns.Source)
            if not s.title.strip():
                problems.append(
                    Problem(_origin(kb, p.id), "source without a title", where=f"sources[{i}]")
                )
    return problems


def _check_cases(kb: knowledge.KnowledgeBase) -> list[Problem]:
    from expert.knowledge.casetest import case_assessment

    problems = []
    for p in kb.active():
        src = _origin(kb, p.id)
        casefile = kb.cases.get(p.id)
        cases = casefile.cases if casefile else []
        case_src = str(knowledge.cases_path(src))
        for expect in ("fires", "quiet"):
            if not any(c.expect == expect for c in cases):
                problems.append(
                    Problem(
                        case_src,
                        f"pattern {p.id!r} has no case that expects it to {expect.rstrip('s')}"
                        if expect == "fires"
                        else f"pattern {p.id!r} has no quiet (near-miss) case",
                        fix="add a case with `expect: "
                        + expect
                        + "` (see knowledge_base/README.md)",
                    )
                )
        names: set[str] = set()
        for i, c in enumerate(cases):
            if c.name in names:
                problems.append(
                    Problem(case_src, f"case name {c.name!r} is used twice", where=f"cases[{i}]")
                )
            names.add(c.name)
            try:
                a = case_assessment(c, kb, f"{case_src} case {c.name!r}")
            except InputError as exc:
                problems += exc.problems
                continue
            if c.loops is not None:
                ids = {lp.id for lp in a.loops}
                problems += [
                    Problem(
                        case_src,
                        f"case {c.name!r} expects loop {lid!r}, which its assessment "
                        "does not declare",
                        where=f"cases[{i}].loops",
                    )
                    for lid in c.loops
                    if lid not in ids
                ]
            if c.expect == "quiet" and (c.status or c.loops):
                problems.append(
                    Problem(
                        case_src,
                        f"quiet case {c.name!r} sets status or loops, which only firing cases use",
                        where=f"cases[{i}]",
                        fix="remove them",
                    )
                )
    return problems


def _reads(kb: knowledge.KnowledgeBase) -> dict[str, set[str]]:
    """Fields the active patterns read, by fact kind, including the inputs of derived facts."""
    reads: dict[str, set[str]] = {kind: set() for kind in FACT_KINDS}
    matched_kinds: set[str] = set()
    for p in (v for each in kb.active() for v in each.variants()):
        for _var, kind, term in _terms(p):
            reads[kind].add(term.field)
            matched_kinds.add(kind)
        for _, text in knowledge.placeholders(p):
            var, _, fname = text.partition(".")
            if var in p.match and fname:
                reads[p.match[var].fact].add(fname)
        # A declared comparison reads each value it names (expert/knowledge/comparisons.py).
        for c in [*p.compare, *(c for esc in p.escalate for c in esc.compare)]:
            for var, fname, _bound in c.refs():
                reads[p.match[var].fact].add(fname)
    for kind in matched_kinds:
        for target, fields in DERIVED_FROM.get(kind, {}).items():
            reads[target] |= fields
    for derived, inputs in LOOP_DERIVED.items():
        if derived in reads["loop"]:
            reads["loop"] |= inputs
    if "roles" in reads["loop"]:  # a role may hold only on a synchronised resource
        reads["resource"].add("synchronized")
    # A loop is matched at all only through the facts it produces; identity is always shown.
    reads["loop"] |= {"name", "id"}
    reads["resource"] |= {"name", "id"}
    return reads


def _model_fields(about: str) -> set[str]:
    if about == "loop":
        names = set(Loop.model_fields)
        names |= {f"retry.{n}" for n in Retry.model_fields}
        names |= {f"guards.{n}" for n in Guards.model_fields}
        return names - {"retry", "guards", "answers"}
    models: dict[str, type[BaseModel]] = {
        "resource": Resource,
        "system": System,
        "economics": Economics,
    }
    return set(models[about].model_fields)


def _check_questions(kb: knowledge.KnowledgeBase) -> list[Problem]:
    reads = _reads(kb)
    problems = []
    for q in sorted(kb.questions.values(), key=lambda q: q.id):
        src = kb.origins.get(f"question:{q.id}", knowledge.Origin("", q.id)).path
        where = f"question {q.id}"
        if q.answer is not None:
            if q.about != "loop":
                problems.append(
                    Problem(
                        src,
                        "answer questions are stored on loops",
                        where=where,
                        fix="use about: loop",
                    )
                )
            elif f"answers.{q.id}" not in reads["loop"]:
                problems.append(
                    Problem(
                        src,
                        f"no active pattern reads answers.{q.id}",
                        where=where,
                        fix="test it in a pattern's match, or remove the question",
                    )
                )
            continue
        if q.about in ("system", "economics"):
            continue  # report and economics inputs (checked by question-fields)
        if q.field not in reads[q.about]:
            problems.append(
                Problem(
                    src,
                    f"no active pattern reads the {q.about} field {q.field!r}, directly or "
                    "through a derived fact or a narrative",
                    where=where,
                    fix="test it in a pattern, or remove the question",
                )
            )
    return problems


def _check_question_fields(kb: knowledge.KnowledgeBase) -> list[Problem]:
    from expert.knowledge.conditions import check_term, resolve

    answer_fields = kb.answer_fields()
    problems = []
    for q in sorted(kb.questions.values(), key=lambda q: q.id):
        src = kb.origins.get(f"question:{q.id}", knowledge.Origin("", q.id)).path
        where = f"question {q.id}"
        if q.field is not None and q.field not in _model_fields(q.about):
            problems.append(
                Problem(
                    src,
                    f"the assessment format has no {q.about} field {q.field!r}",
                    where=where,
                    fix="known: " + ", ".join(sorted(_model_fields(q.about))),
                )
            )
        if q.asked_when and q.about not in ("loop", "resource"):
            problems.append(
                Problem(src, "asked_when applies to loop and resource questions only", where=where)
            )
            continue
        for i, term in enumerate(q.asked_when):
            # the terms test the loop or resource being asked about, as the interview does
            rf = resolve(q.about, term.field, kb.vocabulary, answer_fields)
            problems += [
                Problem(src, msg, where=f"{where}.asked_when[{i}]")
                for msg in check_term(term, q.about, rf, {}, kb.vocabulary, answer_fields)
            ]
        values = [str(c.value) for c in q.choices]
        if len(values) != len(set(values)):
            problems.append(Problem(src, "two choices have the same value", where=where))
    return problems


def _check_question_labels(kb: knowledge.KnowledgeBase) -> list[Problem]:
    # A field question is named by its field's label; an answer has no other short name,
    # and tables and lists would show its whole question instead.
    return [
        Problem(
            kb.origins.get(f"question:{q.id}", knowledge.Origin("", q.id)).path,
            f"the answer to {q.id!r} has no short label: tables and lists would show the "
            "whole question",
            where=f"question {q.id}",
            fix="add `label:`, a few lower-case words naming the answer "
            "('sees throttles and quotas')",
        )
        for q in sorted(kb.questions.values(), key=lambda q: q.id)
        if q.answer is not None and not q.label.strip()
    ]


def _check_reachable(kb: knowledge.KnowledgeBase) -> list[Problem]:
    active = {p.id: p for p in kb.active()}
    reached: set[str] = set()
    frontier = [pid for pid, p in active.items() if p.stage == 1]
    while frontier:
        pid = frontier.pop()
        for fed in active[pid].leads_to:
            if fed in active and fed not in reached:
                reached.add(fed)
                frontier.append(fed)
    return [
        Problem(
            _origin(kb, pid),
            f"{p.kind} {pid!r} cannot be reached: no chain of `feeds` from an incoherence or "
            "auditability pattern leads to it",
            fix=f"add {pid} to the feeds of the patterns that cause it",
        )
        for pid, p in sorted(active.items())
        if p.stage > 1 and pid not in reached
    ]


def _check_feeds(kb: knowledge.KnowledgeBase) -> list[Problem]:
    problems = []
    for p in kb.active():
        for fed in p.leads_to:
            target = kb.patterns.get(fed)
            if target is None:
                problems.append(
                    Problem(_origin(kb, p.id), f"feeds unknown pattern {fed!r}", where="feeds")
                )
            elif fed in kb.disabled:
                problems.append(
                    Problem(
                        _origin(kb, p.id),
                        f"feeds {fed!r}, which is disabled ({kb.disabled[fed]})",
                        where="feeds",
                        fix=f"disable {p.id} too, or override it in the pack without this feed",
                    )
                )
            elif target.stage <= p.stage:
                problems.append(
                    Problem(
                        _origin(kb, p.id),
                        f"feeds {fed!r}, a {target.kind} pattern that does not come after a "
                        f"{p.kind} pattern",
                        where="feeds",
                        fix="incoherence/auditability feed symptoms or costs; symptoms feed costs",
                    )
                )
        for general in p.subsumes:
            target = kb.patterns.get(general)
            if target is None or general in kb.disabled or target.kind != "incoherence":
                problems.append(
                    Problem(
                        _origin(kb, p.id),
                        f"subsumes {general!r}, which is not an active incoherence pattern",
                        where="subsumes",
                        fix="name the incoherence pattern whose finding this one states more "
                        "precisely, or remove it",
                    )
                )
    return problems


def _check_asks(kb: knowledge.KnowledgeBase) -> list[Problem]:
    problems = []
    for p in kb.active():
        for i, ask in enumerate(p.asks):
            q = kb.questions.get(ask.question)
            if q is None:
                problems.append(
                    Problem(
                        _origin(kb, p.id),
                        f"asks unknown question {ask.question!r}",
                        where=f"asks[{i}]",
                        fix="see knowledge_base/questions/",
                    )
                )
            elif q.about != "loop":
                problems.append(
                    Problem(
                        _origin(kb, p.id),
                        f"asks {ask.question!r}, a {q.about} question; "
                        "only loop questions can be asked about a matched loop",
                        where=f"asks[{i}]",
                    )
                )
            for k, v in enumerate(p.variants()):
                if ask.about in v.match and v.match[ask.about].fact != "loop":
                    problems.append(
                        Problem(
                            _origin(kb, p.id),
                            f"asks about {ask.about!r}, which is not a loop",
                            where=f"{p.form_place(k)}asks[{i}]",
                        )
                    )
    return problems


def _check_costs(kb: knowledge.KnowledgeBase) -> list[Problem]:
    problems = []
    for p in kb.active():
        src = _origin(kb, p.id)
        if p.kind != "ghost-cost":
            if p.cost is not None:
                problems.append(Problem(src, "only ghost-cost patterns carry a cost", where="cost"))
            continue
        if p.cost is None:
            problems.append(
                Problem(
                    src,
                    "a ghost cost needs a `cost` block",
                    where="cost",
                    fix=f"computation: one of {', '.join(COST_COMPUTATIONS)}, with parameters",
                )
            )
            continue
        if p.cost.computation not in COST_COMPUTATIONS:
            problems.append(
                Problem(
                    src,
                    f"unknown cost computation {p.cost.computation!r}",
                    where="cost.computation",
                    fix=f"use one of {', '.join(COST_COMPUTATIONS)}",
                )
            )
        params = p.cost.parameters
        if not {"low", "likely", "high"} <= set(params):
            problems.append(
                Problem(src, "cost parameters need low, likely and high", where="cost.parameters")
            )
        elif not (0 <= params["low"] <= params["likely"] <= params["high"]):
            problems.append(
                Problem(
                    src,
                    "cost parameters must satisfy 0 <= low <= likely <= high",
                    where="cost.parameters",
                )
            )
        if not p.cost.assumptions:
            problems.append(
                Problem(src, "state the assumptions behind the range", where="cost.assumptions")
            )
    return problems


def _check_templates(files: _Files, kb: knowledge.KnowledgeBase) -> list[Problem]:
    from expert.analysis.assess import check_answers
    from expert.assessment.model import validate

    problems = []
    for _, path, t in files.templates:
        loop = dict(t.loop)
        if "id" in loop or "acts_on" in loop:
            problems.append(
                Problem(
                    str(path),
                    "a template leaves id and acts_on to the user",
                    where=f"template {t.id}",
                    fix="remove them from `loop`",
                )
            )
            loop.pop("id", None)
            loop.pop("acts_on", None)
        data = {"schema_version": 1, "system": {"name": "template"}, "loops": [{"id": "t", **loop}]}
        source = f"{path} (template {t.id})"
        try:
            a = validate(data, kb.vocabulary, source)
        except InputError as exc:
            problems += exc.problems
            continue
        problems += check_answers(a, kb, source)
        if not t.notes:
            problems.append(
                Problem(
                    str(path),
                    "no notes: say what to check and where the defaults come from",
                    where=f"template {t.id}",
                )
            )
    return problems


def _check_compile(kb: knowledge.KnowledgeBase) -> tuple[list[Problem], list[str]]:
    """Compile the knowledge base; the notes say how much of the engine's fixed limits each
    stage's rulesets use, so an author sees how close a pack runs to them."""
    from expert.engine.compiler import compile_kb
    from expert.engine.safety import MAX_ALPHA_STACK, MAX_CHILDREN

    try:
        compiled = compile_kb(kb)
    except InputError as exc:
        return exc.problems, []
    notes = []
    for n, stage in enumerate(compiled.budget(), start=1):
        if not stage:
            notes.append(f"stage {n}: no rules")
            continue
        rules = sum(b.rules for b in stage)
        notes.append(
            f"stage {n}: {rules} rules in {len(stage)} ruleset{'s' * (len(stage) != 1)}, "
            f"largest alpha stack {max(b.alpha_stack for b in stage)} of {MAX_ALPHA_STACK}, "
            f"widest alpha node {max(b.widest_node for b in stage)} of {MAX_CHILDREN}"
        )
    return [], notes


def lint(extra_dirs: list[Path] | None = None) -> list[LintResult]:
    """Run every validator over the built-in knowledge base plus the given packs."""
    dirs = [knowledge.builtin_dir(), *[Path(d) for d in extra_dirs or []]]
    for d in dirs:
        if not d.is_dir():
            raise InputError(
                Problem(
                    str(d),
                    "knowledge-base pack is not a directory",
                    fix="give a directory holding patterns/, questions/ ...",
                )
            )
    files = _Files(dirs=[("built-in" if i == 0 else d.name, d) for i, d in enumerate(dirs)])
    results = {name: LintResult(name, desc) for name, desc in VALIDATORS.items()}
    results["schema"].problems = _check_schema(files)
    results["modeline"].problems = _check_modelines(files)
    results["unique-ids"].problems, results["unique-ids"].notes = _check_unique(files)
    kb: knowledge.KnowledgeBase | None = None
    if results["schema"].problems:
        results["load"].skipped = "fix the schema problems first"
    else:
        try:
            # unchecked placeholders: the `placeholders` validator reports them with the rest
            loaded = knowledge.load(list(extra_dirs or []), check_placeholders=False)
            loaded.read_cases()  # a case file that does not load is a loading problem here
            kb = loaded
        except InputError as exc:
            results["load"].problems = exc.problems
    after_load: dict[str, Callable[[knowledge.KnowledgeBase], list[Problem]]] = {
        "vocabulary": _check_vocabulary,
        "sources": _check_sources,
        "questions-feed-rules": _check_questions,
        "question-fields": _check_question_fields,
        "question-labels": _check_question_labels,
        "reachable": _check_reachable,
        "feeds-forward": _check_feeds,
        "placeholders": knowledge.placeholder_problems,
        "clears-as-commands": _check_clears,
        "asks": _check_asks,
        "costs": _check_costs,
        "cases": _check_cases,
        "scaffold": _check_scaffold,
    }
    for name in VALIDATORS:
        if name in ("schema", "modeline", "unique-ids", "load"):
            continue
        if kb is None:
            results[name].skipped = "the knowledge base did not load"
            continue
        if name == "templates":
            results[name].problems = _check_templates(files, kb)
        elif name == "compile":
            if results["vocabulary"].problems or results["feeds-forward"].problems:
                results[name].skipped = "fix the vocabulary and feeds problems first"
            else:
                results[name].problems, results[name].notes = _check_compile(kb)
        else:
            results[name].problems = after_load[name](kb)
    if kb is not None:
        results["load"].notes = [
            f"{c['change']} {c['pattern']} by {c['pack']}: {c['reason']}"
            for c in kb.record()["changed_patterns"]
        ]
    return list(results.values())
