"""The assessment file format: what it accepts, what it refuses and how it says so."""

import json
from pathlib import Path
from typing import Any

import pytest

from expert.assessment import limits
from expert.assessment import model as assessment
from expert.errors import InputError, Problem
from expert.yamlio import LineMap
from tests.helpers import builtin_kb, make

VOCAB = builtin_kb().vocabulary


def problems(text: str) -> list[str]:
    with pytest.raises(InputError) as exc:
        assessment.loads(text, VOCAB, "a.yaml")
    return [str(p) for p in exc.value.problems]


def test_examples_load_and_round_trip(tmp_path: Path) -> None:
    for example in sorted(Path("expert/examples").glob("*.yaml")):
        a = assessment.load(example, VOCAB)
        out = tmp_path / example.name
        assessment.save(a, out)
        assert assessment.load(out, VOCAB) == a


def test_unknown_is_kept_as_a_value_never_replaced() -> None:
    a = make(
        [
            {
                "id": "x",
                "layer": "unknown",
                "timescale": "unknown",
                "actuations": "unknown",
                "retry": {"max_retries": "unknown"},
            }
        ]
    )
    loop = a.loops[0]
    assert (loop.layer, loop.timescale, loop.actuations) == ("unknown", "unknown", "unknown")
    assert "unknown" in a.to_yaml()
    assert loop.retry is not None and loop.retry.max_retries == "unknown"


def test_unknown_term_names_the_line_and_closest_match() -> None:
    text = "schema_version: 1\nsystem: {name: s}\nloops:\n  - id: a\n    actuations: [retyr]\n"
    (msg,) = problems(text)
    assert "a.yaml:5" in msg
    assert "unknown actuation 'retyr'" in msg
    assert "did you mean 'retry'" in msg


def test_bad_duration_is_explained_in_place() -> None:
    (msg,) = problems(
        "schema_version: 1\nsystem: {name: s}\nloops:\n  - {id: a, timescale: soon}\n"
    )
    assert "loops[0] (id a).timescale" in msg
    assert "200ms" in msg  # says what a valid duration looks like


def test_duplicate_loop_ids_and_undeclared_resources() -> None:
    text = """schema_version: 1
system: {name: s}
resources:
  - {id: api}
loops:
  - {id: a, acts_on: [api]}
  - {id: a, acts_on: [apj]}
"""
    msgs = problems(text)
    assert any("used twice" in m for m in msgs)
    assert any("'apj', which is not declared" in m and "did you mean 'api'" in m for m in msgs)


def test_call_cycle_is_refused() -> None:
    text = """schema_version: 1
system: {name: s}
resources:
  - {id: a, calls: [b]}
  - {id: b, calls: [a]}
"""
    (msg,) = problems(text)
    assert "loops back on itself" in msg


def test_acts_on_without_resources_section_implies_resources() -> None:
    a = make([{"id": "x", "acts_on": ["gpu-pool"]}])
    assert [r.id for r in a.resource_list()] == ["gpu-pool"]
    assert a.resource_list()[0].kind is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("- just\n- a list\n", "must be a mapping"),
        ("schema_version: 2\nsystem: {name: s}\n", "schema_version 2 is not supported"),
        ("schema_version: 1\nsystem: {name: s}\nloops:\n  - {id: Bad Id}\n", "not a valid id"),
        ("schema_version: 1\nsystem: {name: s}\nsurprise: 1\n", "unknown field 'surprise'"),
        ("schema_version: 1\nsystem: {name: s}\nloops: [{id: a, layer: [x]}]\n", "string"),
        ("a: &x [1]\nb: *x\n", "aliases"),
        ("schema_version: 1\nsystem: {name: s}\nsystem: {name: t}\n", "appears twice"),
        ("schema_version: 1\nsystem: {name: s\n", "not valid YAML"),
        (
            "schema_version: 1\nsystem: {name: s}\neconomics: {accelerator_hour_cost: .nan}\n",
            "a number is expected here, not NaN",
        ),
        (
            "schema_version: 1\nsystem: {name: s}\neconomics: {accelerator_count: -4}\n",
            "greater than or equal",
        ),
    ],
)
def test_refusals(text: str, fragment: str) -> None:
    assert any(fragment in m for m in problems(text)), problems(text)


def test_directory_empty_binary_and_encoding_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "e.yaml"
    empty.write_text("  \n")
    with pytest.raises(InputError, match="is empty"):
        assessment.load(empty, VOCAB)
    with pytest.raises(InputError, match="is a directory"):
        assessment.load(tmp_path, VOCAB)
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\x00\x01\x02schema")
    with pytest.raises(InputError, match="binary"):
        assessment.load(binary, VOCAB)
    latin = tmp_path / "l.yaml"
    latin.write_bytes("system: {name: caf\xe9}".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        assessment.load(latin, VOCAB)


def test_json_schema_describes_the_format() -> None:
    schema = assessment.json_schema()
    assert schema["title"] == "Control-coherence assessment"
    assert "loops" in schema["properties"]
    import jsonschema

    data = {
        "schema_version": 1,
        "system": {"name": "s"},
        "loops": [{"id": "a", "timescale": "30s", "retry": {"max_retries": 2}}],
    }
    jsonschema.validate(data, schema)


def test_save_keeps_the_file_mode(tmp_path: Path) -> None:
    a = make([{"id": "x"}])
    target = tmp_path / "a.yaml"
    assessment.save(a, target)
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()
    target.chmod(0o640)
    assessment.save(a, target)
    assert target.stat().st_mode & 0o777 == 0o640


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_multiple_choice_answers_are_lists_of_words() -> None:
    assert make([{"id": "x", "answers": {"q": ["a", "b"]}}]).loops[0].answers["q"] == ["a", "b"]
    with pytest.raises(InputError, match="list of short words"):
        make([{"id": "x", "answers": {"q": [{"nested": 1}]}}])


# ----------------------------------------------------------------- text a terminal would act on

TEXT_FIELDS = [
    ("system.name", {"system": {"name": "{}"}}),
    ("system.description", {"system": {"name": "s", "description": "{}"}}),
    ("system.respondent", {"system": {"name": "s", "respondent": "{}"}}),
    ("(id a).name", {"loops": [{"id": "a", "name": "{}"}]}),
    ("(id a).owner", {"loops": [{"id": "a", "owner": "{}"}]}),
    ("(id a).target", {"loops": [{"id": "a", "target": "{}"}]}),
    ("(id r).name", {"resources": [{"id": "r", "name": "{}"}]}),
    (
        "(id a).answers.backfill-sees-limits",
        {"loops": [{"id": "a", "answers": {"backfill-sees-limits": "{}"}}]},
    ),
    ("(id a).answers.q", {"loops": [{"id": "a", "answers": {"q": ["{}"]}}]}),
]


def _with_text(template: dict[str, Any], text: str) -> dict[str, Any]:
    data = json.loads(json.dumps(template).replace("{}", json.dumps(text)[1:-1]))
    return {"schema_version": 1, "system": {"name": "s"}, **data}


@pytest.mark.parametrize(
    "char",
    [
        "\x80",
        "\x85",
        "\x9b",
        "\x9f",
        "\x7f",
        "\x1b",
        *map(chr, range(0x202A, 0x202F)),
        *map(chr, range(0x2066, 0x206A)),
    ],
    ids=lambda ch: f"U+{ord(ch):04X}",
)
@pytest.mark.parametrize(("where", "template"), TEXT_FIELDS, ids=[w for w, _ in TEXT_FIELDS])
def test_control_characters_are_refused_in_every_text_field(
    where: str, template: dict[str, Any], char: str
) -> None:
    with pytest.raises(InputError) as exc:
        assessment.validate(_with_text(template, f"a{char}b"), VOCAB, "a.yaml")
    (problem,) = exc.value.problems
    assert where in problem.where
    if not where.endswith(".q"):  # a list of words says what it must be instead
        assert f"control characters (U+{ord(char):04X}" in problem.message
        assert problem.fix.startswith("delete them")


@pytest.mark.parametrize(
    "text",
    [
        "Équipe plateforme",
        "مراقب\u200f (RTL)",
        "\u200eleft",
        "\u061cx",
        "tab\there",
        "二 lines\nok",
        "🚦",
    ],
)
def test_plain_text_in_any_script_is_accepted(text: str) -> None:
    a = assessment.validate(_with_text(TEXT_FIELDS[1][1], text), VOCAB, "a.yaml")
    assert a.system.description == text


def test_control_characters_are_named() -> None:
    assert assessment.control_characters("a\u202eb\x9bc\u202e") == [
        "U+202E RIGHT-TO-LEFT OVERRIDE",
        "U+009B",
    ]
    assert assessment.control_characters("plain\ttext\n") == []


# ----------------------------------------------------------------- YAML booleans and numbers


def test_unquoted_yes_and_true_are_accepted_in_yes_no_fields() -> None:
    text = """schema_version: 1
system: {name: s}
resources:
  - {id: job, synchronized: yes}
loops:
  - id: a
    actuations: [retry, backfill]
    propagates_cancellation: true
    retry: {jitter: no, budget: off}
    guards: {exemptions: on, rate_limited: false}
    answers: {backfill-sees-limits: yes}
"""
    a = assessment.loads(text, VOCAB, "a.yaml")
    loop = a.loops[0]
    assert a.resource_list()[0].synchronized == "yes"
    assert loop.propagates_cancellation == "yes"
    assert loop.retry is not None and (loop.retry.jitter, loop.retry.budget) == ("no", "no")
    assert loop.guards is not None
    assert (loop.guards.exemptions, loop.guards.rate_limited) == ("yes", "no")
    assert loop.answers == {"backfill-sees-limits": "yes"}
    saved = a.to_yaml()
    assert "synchronized: 'yes'" in saved  # written back quoted, as the word
    assert assessment.loads(saved, VOCAB, "again.yaml") == a


def test_a_yaml_boolean_in_a_text_field_says_to_quote_it() -> None:
    (msg,) = problems("schema_version: 1\nsystem: {name: on}\n")
    assert "a.yaml:2 (system.name)" in msg
    assert "put it in quotes" in msg


@pytest.mark.parametrize(
    "field",
    [
        "loops: [{id: a, retry: {max_retries: true}}]",
        "loops: [{id: a, guards: {give_up_after: yes}}]",
        "economics: {accelerator_count: true}",
        "economics: {accelerator_hour_cost: true}",
        "economics: {monthly_tokens: yes}",
        "economics: {cost_per_million_tokens: on}",
        "economics: {engineer_hour_cost: true}",
        "economics: {engineers: true}",
    ],
)
def test_a_yaml_boolean_is_not_a_number(field: str) -> None:
    (msg,) = problems(f"schema_version: 1\nsystem: {{name: s}}\n{field}\n")
    assert "a yes/no value is not a number" in msg


@pytest.mark.parametrize(
    ("value", "shown"),
    [("true", "true"), ("false", "false"), ("1.0", "1.0"), ('"1"', "'1'"), ("~", "null")],
)
def test_schema_version_must_be_the_number_1(value: str, shown: str) -> None:
    (msg,) = problems(f"schema_version: {value}\nsystem: {{name: s}}\n")
    assert f"a.yaml:1: schema_version {shown} is not a version number" in msg
    assert "write schema_version: 1" in msg


# ----------------------------------------------------------------- every problem in one pass


def test_structure_vocabulary_and_references_are_reported_together() -> None:
    text = """schema_version: true
system: {name: s}
resources:
  - {id: api, calls: [apj]}
loops:
  - id: a
    layer: safty
    timescale: soon
    acts_on: [api]
    controls: [b]
  - id: a
    name: "x\\u202e"
    triggers: [timeuot]
"""
    msgs = problems(text)
    expected = [
        ("a.yaml:1", "schema_version true"),
        ("a.yaml:4", "'apj', which is not declared"),
        ("a.yaml:7", "unknown layer 'safty'"),
        ("a.yaml:8", "'soon' is not a duration"),
        ("a.yaml:10", "loop 'b', which is not declared"),
        ("a.yaml:11", "loop id 'a' is used twice"),
        ("a.yaml:12", "U+202E"),
        ("a.yaml:13", "unknown trigger 'timeuot'"),
    ]
    assert len(msgs) == len(expected), msgs
    for msg, (line, fragment) in zip(msgs, expected, strict=True):  # in the order of the file
        assert msg.startswith(line) and fragment in msg, (msg, line, fragment)


def test_a_value_validation_refuses_is_not_also_an_unknown_term() -> None:
    (msg,) = problems(
        f"schema_version: 1\nsystem: {{name: s}}\nloops: [{{id: a, layer: {'x' * 80}}}]\n"
    )
    assert "at most 64 characters" in msg


def test_checks_of_the_model_join_the_other_problems() -> None:
    def no_owner(a: assessment.Assessment) -> list[Problem]:
        return [Problem("a.yaml", f"loop {lp.id} has no owner") for lp in a.loops if not lp.owner]

    text = "schema_version: 1\nsystem: {name: s}\nloops: [{id: a, layer: schedular}]\n"
    with pytest.raises(InputError) as exc:
        assessment.loads(text, VOCAB, "a.yaml", checks=no_owner)
    assert [p.message for p in exc.value.problems] == [
        "unknown layer 'schedular'",
        "loop a has no owner",
    ]


# ----------------------------------------------------------------- input limits


def _chain(n: int) -> list[dict[str, Any]]:
    return [{"id": f"r{i}", "calls": [f"r{i + 1}"]} for i in range(n - 1)] + [{"id": f"r{n - 1}"}]


@pytest.mark.parametrize(
    ("limit", "at_limit", "over"),
    [
        ("MAX_LOOPS", lambda n: make([{"id": f"l{i}"} for i in range(n)]), "loops; the limit"),
        (
            "MAX_RESOURCES",
            lambda n: make([], [{"id": f"r{i}"} for i in range(n)]),
            "resources; the limit",
        ),
        (
            "MAX_RESOURCES",  # resources named only by acts_on count too
            lambda n: make([{"id": "a", "acts_on": [f"r{i}" for i in range(n)]}]),
            "resources; the limit",
        ),
        ("MAX_CALL_DEPTH", lambda n: make([], _chain(n)), "the call path from 'r0' to"),
        (
            "MAX_LOOPS_PER_RESOURCE",
            lambda n: make([{"id": f"l{i}", "acts_on": ["r"]} for i in range(n)]),
            "loops act on resource 'r'",
        ),
        (
            "MAX_SHARED_PAIRS",  # 3 loops on one resource make 3 pairs
            lambda n: make([{"id": f"l{i}", "acts_on": ["r"]} for i in range(3 + (n > 3))]),
            "pairs to compare",
        ),
    ],
)
def test_each_limit_admits_its_number_and_refuses_one_more(
    limit: str, at_limit: Any, over: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With small limits, so the test is quick: the constants are read at each check."""
    monkeypatch.setattr(limits, limit, 3)
    at_limit(3)
    with pytest.raises(InputError) as exc:
        at_limit(4)
    (problem,) = exc.value.problems
    assert over in problem.message and "the limit is 3" in problem.message and problem.fix


def test_limits_are_checked_before_anything_else(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_LOOPS", 1)
    text = "schema_version: 1\nsystem: {name: s}\nloops:\n  - {id: a, layer: x}\n  - {id: B}\n"
    (msg,) = problems(text)
    assert "a.yaml:3 (loops): 2 loops; the limit is 1" in msg


def test_longest_call_path_ignores_cycles_and_takes_the_longest_branch() -> None:
    resources = [
        {"id": "top", "calls": ["left", "right"]},
        {"id": "left", "calls": ["bottom"]},
        {"id": "right", "calls": ["middle"]},
        {"id": "middle", "calls": ["bottom", "undeclared"]},
        {"id": "bottom"},
        {"id": "c1", "calls": ["c2"]},
        {"id": "c2", "calls": ["c1"]},
    ]
    path = limits.longest_call_path(list(enumerate(resources)))
    assert path == ["top", "right", "middle", "bottom"]
    assert limits.longest_call_path([]) == []


def test_the_real_limits_admit_the_benchmark_shapes() -> None:
    """The 5,000-loop benchmark, a call chain as deep as the limit, and 400 loops on one
    resource are all within the limits (checked directly: assessing them is for bench.py)."""
    from tests.benchmarks.generate import generate

    assert limits.check(generate(5000, seed=1), "bench", LineMap()) == []
    chain = {"resources": _chain(limits.MAX_CALL_DEPTH), "loops": []}
    assert limits.check(chain, "chain", LineMap()) == []
    assert len(limits.longest_call_path(list(enumerate(chain["resources"])))) == 10_000
    crowd = {"loops": [{"id": f"l{i}", "acts_on": ["shared"]} for i in range(400)]}
    assert limits.check(crowd, "crowd", LineMap()) == []
