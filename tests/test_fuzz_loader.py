"""Property: whatever a user or a pack author writes, loading it either succeeds or raises the
project's own InputError (a message naming file, place and fix); never another exception.

Inputs: arbitrary text, YAML-ish text assembled from the syntax that trips parsers, arbitrary
bytes in a file, and near-valid assessments and knowledge-base patterns (a valid one with one
part mutated). Assessments that load must also survive a save/load round trip unchanged.
"""

from __future__ import annotations

import copy
import datetime
import functools
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import event, given, settings
from hypothesis import strategies as st

from expert.analysis.assess import check_answers, load_assessment
from expert.assessment import model as assessment_mod
from expert.assessment.fields import FACT_KINDS
from expert.engine.compiler import compile_kb
from expert.errors import InputError
from expert.knowledge import knowledgebase as knowledge
from expert.knowledge.knowledgebase import KnowledgeBase
from expert.knowledge.patterns import OPERATORS
from tests.helpers import reuse_builtin_parses
from tests.test_fuzz_engine import assessment_dicts

ROOT = Path(__file__).parent.parent


@functools.cache
def builtin_kb() -> KnowledgeBase:
    # Not a fixture: hypothesis would print its (huge) repr with every failing example.
    return knowledge.load([])


def refused_or_loaded(call: Any) -> Any:
    """Run a load; an InputError must be a complete, printable message."""
    try:
        return call()
    except InputError as exc:
        assert exc.problems
        for p in exc.problems:
            assert p.source and p.message
        assert str(exc)
        event("refused")
        return None


def _loads(text: str, kb: KnowledgeBase) -> assessment_mod.Assessment | None:
    def call() -> assessment_mod.Assessment:
        a = assessment_mod.loads(text, kb.vocabulary, "fuzz.yaml")
        problems = check_answers(a, kb, "fuzz.yaml")
        if problems:
            raise InputError(problems)
        return a

    return refused_or_loaded(call)


# ----------------------------------------------------------------------- text and bytes

FRAGMENTS = [
    "schema_version: 1\n",
    "system:\n",
    "  name: x\n",
    "system: {name: s}\n",
    "loops:\n",
    "  - id: a\n",
    "    layer: safety\n",
    "    timescale: 30s\n",
    "    actuations: [retry, terminate]\n",
    "    retry: {max_retries: 3}\n",
    "    answers: {backfill-sees-limits: 'no'}\n",
    "resources:\n",
    "  - {id: r, calls: [r]}\n",
    "economics: {accelerator_hour_cost: .nan}\n",
    "- ",
    ": ",
    "[",
    "]",
    "{",
    "}",
    ", ",
    "&a ",
    "*a",
    "<<: *a\n",
    "!!python/object/apply:os.system [x]",
    "!!binary aGk=",
    "!local ",
    "'",
    '"',
    "\t",
    "\n",
    "  ",
    "# c\n",
    "---\n",
    "...\n",
    "? ",
    "|\n",
    ">-\n",
    "%YAML 1.1\n",
    "%TAG ! tag:x,2024:\n",
    "\ufeff",
    "é",
    "1e400",
    "1.0e+400",
    ".nan",
    "-.inf",
    "0x1F",
    "0o17",
    "2024-01-01",
    "~",
    "null",
    "yes",
    "unknown",
    "\\x1b",
    "\\u0000",
]

yamlish = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), min_size=1, max_size=40
).map("".join)


@given(text=st.one_of(st.text(), yamlish))
def test_any_text_loads_or_is_refused(text: str) -> None:
    _loads(text, builtin_kb())


@given(raw=st.one_of(st.binary(max_size=2000), yamlish.map(lambda s: s.encode("utf-8"))))
def test_any_file_loads_or_is_refused(raw: bytes) -> None:
    kb = builtin_kb()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.yaml"
        path.write_bytes(raw)

        def call() -> Any:
            return load_assessment(path, kb)

        refused_or_loaded(call)
        assert path.read_bytes() == raw  # loading never touches the file


def test_control_character_in_text_is_an_input_error() -> None:
    """Found by this fuzzer: a raw control character escaped as PyYAML's ReaderError."""
    with pytest.raises(InputError):
        assessment_mod.loads(
            'schema_version: 1\nsystem: {name: "a\x1b[2J"}\n', builtin_kb().vocabulary
        )


# ----------------------------------------------------------------------- near-valid data

HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "x" * 3000,
            "\x1b[2J",
            "\x9b2J",
            "del\x7f",
            "\u202eevil",
            "\u2066isolated\u2069",
            "yes",
            "unknown",
            "1e400s",
            "-5s",
            "0s",
            "99999d",
            "10s-1s",
            "retyr",
            "schedular",
            "a b",
            "",
            datetime.date(2024, 1, 1),
            [],
            {},
            {"id": "x"},
            ["unknown"],
            [None],
            [1, 2],
            {"nested": {"deeper": [1]}},
        ]
    ),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*prefix, i))


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """`base` with one to three parts replaced, deleted, duplicated or added."""
    data = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        key = path[-1]
        op = draw(st.sampled_from(["replace", "delete", "duplicate", "add_key", "listify"]))
        event(f"mutation {op}")
        # HOSTILE hands out the same list and dict objects each time it samples them: a copy,
        # or a later mutation here would change the strategy itself (FlakyStrategyDefinition).
        if op == "replace":
            parent[key] = copy.deepcopy(draw(HOSTILE))
        elif op == "delete":
            del parent[key]
        elif op == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        elif op == "add_key" and isinstance(parent[key], dict):
            parent[key][draw(st.sampled_from(["id", "extra", "layer", "calls", "1"]))] = (
                copy.deepcopy(draw(HOSTILE))
            )
        elif op == "listify":
            parent[key] = [parent[key]]
    return data


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _control_text(node: Any) -> list[str]:
    """Every string in `node` (keys too) that holds a character a terminal would act on."""
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in _control_text(k) + _control_text(v)]
    if isinstance(node, list):
        return [s for item in node for s in _control_text(item)]
    return [node] if isinstance(node, str) and assessment_mod.control_characters(node) else []


@given(text=st.text(st.characters(codec="utf-8"), max_size=20))
def test_text_loads_only_without_control_characters(text: str) -> None:
    """Any text in every free-text field: it is refused because it holds a control character
    (or is empty where a name is required), or it loads with none (whitespace controls at
    the ends are stripped, as all surrounding whitespace is)."""
    data = {
        "schema_version": 1,
        "system": {"name": text or "s", "description": text, "respondent": text},
        "resources": [{"id": "r", "name": text}],
        "loops": [{"id": "a", "owner": text, "target": text, "name": text}],
    }
    try:
        a = assessment_mod.validate(data, builtin_kb().vocabulary, "text.yaml")
    except InputError as exc:
        assert assessment_mod.control_characters(text) or not text.strip(), exc
        return
    assert not _control_text(a.model_dump(mode="json"))


@given(data=st.data())
def test_near_valid_assessments_load_or_are_refused(data: st.DataObject) -> None:
    kb = builtin_kb()
    base = data.draw(assessment_dicts(kb, max_loops=4))
    text = _dump(data.draw(mutated(base)))
    a = _loads(text, kb)
    if a is not None:
        event("loaded")
        assert not _control_text(a.model_dump(mode="json")), "a control character was let in"
        again = assessment_mod.loads(a.to_yaml(), kb.vocabulary, "round-trip.yaml")
        assert again == a


@settings(max_examples=max(10, settings.default.max_examples // 2))
@given(data=st.data())
def test_generated_valid_assessments_round_trip(data: st.DataObject) -> None:
    kb = builtin_kb()
    a = _loads(_dump(data.draw(assessment_dicts(kb))), kb)
    assert a is not None, "the generator makes valid assessments only"
    assert assessment_mod.loads(a.to_yaml(), kb.vocabulary, "round-trip.yaml") == a


# ----------------------------------------------------------------------- knowledge-base packs


def _builtin_patterns() -> list[dict[str, Any]]:
    out = []
    for path in sorted((ROOT / "knowledge_base" / "patterns").rglob("*.yaml")):
        if not path.name.endswith(".cases.yaml"):
            out.append(yaml.safe_load(path.read_text(encoding="utf-8")))
    return out


PATTERNS = _builtin_patterns()
FIELD_NAMES = sorted({f.name for fields in FACT_KINDS.values() for f in fields})
TERM = st.fixed_dictionaries(
    {"field": st.sampled_from([*FIELD_NAMES, "answers.backfill-sees-limits", "nope"])}
).flatmap(
    lambda t: st.sampled_from(OPERATORS).flatmap(
        lambda op: st.one_of(HOSTILE, st.sampled_from(["retry", "safety", "x.id", "1s", 3])).map(
            lambda v: {**t, op: v}
        )
    )
)


@st.composite
def mutated_pattern(draw: st.DrawFn) -> Any:
    p = copy.deepcopy(draw(st.sampled_from(PATTERNS)))
    if draw(st.booleans()):
        p["id"] = "fuzz-" + str(p.get("id"))  # a new pattern beside the built-in one
    if draw(st.booleans()) and isinstance(p.get("match"), dict) and p["match"]:
        var = draw(st.sampled_from(sorted(p["match"])))
        where = p["match"][var].setdefault("where", [])
        where.append(draw(TERM))
        event("added a term")
    return draw(mutated(p)) if draw(st.integers(0, 3)) else p


@pytest.fixture(scope="module")
def builtin_parsed_once() -> Iterator[None]:
    """Reuse the parse of the built-in files; the pack is parsed for real."""
    with pytest.MonkeyPatch.context() as mp:
        reuse_builtin_parses(mp)
        yield


@given(pattern=mutated_pattern())
def test_mutated_pack_patterns_load_or_are_refused(builtin_parsed_once: None, pattern: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pack = Path(tmp) / "pack"
        (pack / "patterns").mkdir(parents=True)
        (pack / "patterns" / "fuzz.yaml").write_text(_dump(pattern), encoding="utf-8")

        def call() -> Any:
            return compile_kb(knowledge.load([pack]))

        if refused_or_loaded(call) is not None:
            event("pack compiled")


def test_partial_acts_on_list_is_accepted() -> None:
    """[api, unknown]: api and maybe more, as graph.py and facts.py read it."""
    data = {
        "schema_version": 1,
        "system": {"name": "s"},
        "resources": [{"id": "api"}],
        "loops": [{"id": "a", "acts_on": ["api", "unknown"]}],
    }
    a = assessment_mod.validate(data, builtin_kb().vocabulary, "partial.yaml")
    assert a.resource_ids() == ["api"]
