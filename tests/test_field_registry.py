"""One registry of fields: every loop and resource field of the assessment model is either
a fact field the engine reads (assessment/fields.py) or listed there with the way it reaches
the analysis instead, and every fact field is either a model field or declared derived."""

from __future__ import annotations

import typing

import pytest
from pydantic import BaseModel

from expert.assessment.fields import (
    DERIVED_FACT_FIELDS,
    LOOP_FIELDS,
    NOT_FACT_FIELDS,
    RESOURCE_FIELDS,
    FieldSpec,
)
from expert.assessment.model import Loop, Resource

CASES = [("loop", Loop, LOOP_FIELDS), ("resource", Resource, RESOURCE_FIELDS)]


def model_fields(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Dotted names of a model's answerable fields (a nested model's fields as `retry.x`)."""
    out: set[str] = set()
    for name, info in model.model_fields.items():
        nested = [
            a
            for a in (info.annotation, *typing.get_args(info.annotation))
            if isinstance(a, type) and issubclass(a, BaseModel)
        ]
        if nested:
            out |= model_fields(nested[0], f"{prefix}{name}.")
        else:
            out.add(prefix + name)
    return out


@pytest.mark.parametrize(("kind", "model", "registry"), CASES, ids=[c[0] for c in CASES])
def test_every_model_field_has_one_registry_entry(
    kind: str, model: type[BaseModel], registry: list[FieldSpec]
) -> None:
    facts = {f.name for f in registry}
    answered = model_fields(model)
    missing = answered - facts - set(NOT_FACT_FIELDS[kind])
    assert not missing, f"{kind} fields with no registry entry: {sorted(missing)}"
    both = facts & set(NOT_FACT_FIELDS[kind])
    assert not both, f"{kind} fields declared twice: {sorted(both)}"


@pytest.mark.parametrize(("kind", "model", "registry"), CASES, ids=[c[0] for c in CASES])
def test_every_registry_entry_is_a_model_field_or_derived(
    kind: str, model: type[BaseModel], registry: list[FieldSpec]
) -> None:
    answered = model_fields(model)
    extra = {f.name for f in registry} - answered - DERIVED_FACT_FIELDS[kind]
    assert not extra, f"{kind} registry entries the model does not have: {sorted(extra)}"
    stale = set(NOT_FACT_FIELDS[kind]) - answered
    assert not stale, f"{kind} entries for fields the model no longer has: {sorted(stale)}"


def test_what_tables_show_comes_from_the_registry() -> None:
    from expert.assessment.fields import NOT_FACT_LABELS
    from expert.deliverables.inventory import CORE, LABELS

    for kind, labels in NOT_FACT_LABELS.items():
        assert set(labels) <= set(NOT_FACT_FIELDS[kind]), f"{kind}: labels for unknown fields"
    assert set(CORE) <= set(LABELS), "every core field has a label in the registry"
