"""The assessment file format: what it accepts, what it refuses and how it says so."""

from pathlib import Path

import pytest

from expert import assessment
from expert.errors import InputError
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
            "finite",
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
