"""The engine child reads each firing's rule and bound fact ids off the action text; it must
give exactly what decoding the whole action gives, whatever the facts hold."""

from __future__ import annotations

import json

import pytest

from expert.engine.child import _bound_ids

META = {"p#0": {"vars": ["v0", "v1"]}, "q#from:p#0": {"vars": ["v0"]}}


def _decoded(action: str) -> tuple[str, dict[str, str]]:
    name, bound = next(iter(json.loads(action).items()))
    return name, {v: bound[v]["id"] for v in META[name]["vars"]}


@pytest.mark.parametrize(
    "bound",
    [
        # the usual form: flat facts, id first, as the parent encodes them
        {"v0": {"id": "loop:a", "kind": "loop", "x": "v1"}, "v1": {"id": "pair:a~b@r"}},
        # values that look like structure, a non-ASCII id
        {"v0": {"id": "loop:é", "note": '"v1": {"id": "x"}'}, "v1": {"id": "loop:b"}},
        # an id with an escaped quote or backslash, an id not first: decoded in full
        {"v0": {"id": 'loop:a"b', "kind": "loop"}, "v1": {"id": "loop:c\\d"}},
        {"v0": {"kind": "loop", "id": "loop:a"}, "v1": {"id": "loop:b"}},
        # variables in another order
        {"v1": {"id": "loop:b"}, "v0": {"id": "loop:a"}},
    ],
)
@pytest.mark.parametrize("separators", [(", ", ": "), (",", ":")])
def test_ids_read_off_the_text_equal_the_decoded_ones(
    bound: dict[str, dict[str, str]], separators: tuple[str, str]
) -> None:
    action = json.dumps({"p#0": bound}, ensure_ascii=False, separators=separators)
    assert _bound_ids(action, META) == _decoded(action)


def test_a_variable_missing_from_the_action_is_an_error() -> None:
    with pytest.raises(KeyError):
        _bound_ids(json.dumps({"p#0": {"v0": {"id": "loop:a"}}}), META)


@pytest.mark.parametrize(
    "facts",
    [
        # as the engine writes them: each fact exactly as asserted
        [{"id": "loop:a", "kind": "loop", "x": '"v1":{"id": "loop:z"}'}, {"id": "pair:a~b@r"}],
        [{"id": 'loop:a"b', "kind": "loop"}, {"id": "loop:c\\d"}],
        [{"id": "loop:é"}, {"id": "loop:b", "note": "},"}],
    ],
)
@pytest.mark.parametrize("order", [("v0", "v1"), ("v1", "v0")])
def test_ids_passed_over_asserted_facts_equal_the_decoded_ones(
    facts: list[dict[str, str]], order: tuple[str, str]
) -> None:
    texts = [json.dumps({**f, "sid": "s1", "scope": "s1"}, ensure_ascii=False) for f in facts]
    asserted = {f["id"]: t for f, t in zip(facts, texts, strict=True) if "\\" not in t[:20]}
    body = ",".join(f'"{v}":{t}' for v, t in zip(order, texts, strict=True))
    action = '{"p#0":{' + body + "}}"
    assert _bound_ids(action, META, asserted) == _decoded(action)
    # a fact asserted with another text (another run's, say) is not taken for the one bound
    other = {i: t.replace('"s1"', '"s2"') for i, t in asserted.items()}
    assert _bound_ids(action, META, other) == _decoded(action)
