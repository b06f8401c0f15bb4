"""JSON Schemas for knowledge-base files, generated from the pydantic models.

Editors use them through the modeline on the first line of every KB file
(`# yaml-language-server: $schema=...`), so authors see mistakes as they type. The
schemas are generated, never hand-written: `coherence kb schema` rewrites them, and a test
checks that the committed copies equal the regenerated ones.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from expert.assessment.model import Assessment, json_schema
from expert.assessment.vocabulary import Vocabulary
from expert.knowledge.patterns import CaseFile, Pattern, Question
from expert.knowledge.templates import LoopTemplate

DRAFT = "https://json-schema.org/draft/2020-12/schema"
MODELINE_PREFIX = "# yaml-language-server: $schema="

# Which schema each kind of knowledge-base file is checked against.
SCHEMA_FILES = {
    "pattern": "pattern.schema.json",
    "cases": "cases.schema.json",
    "questions": "questions.schema.json",
    "templates": "templates.schema.json",
    "vocabulary": "vocabulary.schema.json",
    "disabled": "disabled.schema.json",
    "assessment": "assessment.schema.json",
}


def _titled(schema: dict[str, Any], title: str, description: str) -> dict[str, Any]:
    out = {"$schema": DRAFT, "title": title, "description": description}
    out.update({k: v for k, v in schema.items() if k not in ("title", "description")})
    return out


def _assessment_defs(*, loop_id_optional: bool) -> dict[str, Any]:
    """The assessment's definitions plus `CaseAssessment` (schema_version optional) and,
    when asked, `TemplateLoop` (a loop without its id: templates leave it to the user)."""
    root = Assessment.model_json_schema()
    defs = copy.deepcopy(root.get("$defs", {}))
    case = {k: v for k, v in root.items() if k not in ("$defs", "title")}
    case["required"] = [r for r in case.get("required", []) if r != "schema_version"]
    case["title"] = "Case assessment"
    case["description"] = "An assessment, as in an assessment file; schema_version may be left out."
    defs["CaseAssessment"] = case
    if loop_id_optional:
        loop = copy.deepcopy(defs["Loop"])
        loop["required"] = [r for r in loop.get("required", []) if r != "id"]
        loop["title"] = "Template loop"
        loop["description"] = "Pre-filled loop fields in the assessment format (no id)."
        defs["TemplateLoop"] = loop
    return defs


def _merge_defs(schema: dict[str, Any], extra: dict[str, Any]) -> None:
    defs = schema.setdefault("$defs", {})
    clash = set(defs) & set(extra)
    if clash:  # would silently replace a definition: a bug in this module, not user input
        raise AssertionError(f"schema definitions clash: {sorted(clash)}")
    defs.update(extra)


def pattern_schema() -> dict[str, Any]:
    schema = Pattern.model_json_schema()
    return _titled(
        schema,
        "Knowledge-base pattern",
        "One incoherence, symptom, ghost-cost or auditability pattern (one per file).",
    )


def cases_schema() -> dict[str, Any]:
    schema = CaseFile.model_json_schema()
    _merge_defs(schema, _assessment_defs(loop_id_optional=False))
    spec = schema["$defs"]["CaseSpec"]["properties"]
    spec["assessment"] = {
        "$ref": "#/$defs/CaseAssessment",
        "description": "the small assessment the pattern must fire on, or stay quiet on",
    }
    return _titled(
        schema,
        "Pattern example cases",
        "Firing and quiet example cases for one pattern, run by `coherence kb test`.",
    )


def questions_schema() -> dict[str, Any]:
    item = Question.model_json_schema()
    defs = item.pop("$defs", {})
    schema: dict[str, Any] = {"type": "array", "items": item}
    if defs:
        schema["$defs"] = defs
    return _titled(schema, "Interview questions", "A list of interview questions.")


def templates_schema() -> dict[str, Any]:
    item = LoopTemplate.model_json_schema()
    defs = item.pop("$defs", {})
    item["properties"]["loop"] = {
        "$ref": "#/$defs/TemplateLoop",
        "description": item["properties"]["loop"].get("description", ""),
    }
    schema: dict[str, Any] = {"type": "array", "items": item, "$defs": defs}
    _merge_defs(schema, _assessment_defs(loop_id_optional=True))
    return _titled(schema, "Loop templates", "A list of common control loops, pre-filled.")


def vocabulary_schema() -> dict[str, Any]:
    return _titled(
        Vocabulary.model_json_schema(),
        "Knowledge-base vocabulary",
        "Word lists and signal semantics; a pack's vocabulary.yaml may only add terms.",
    )


def disabled_schema() -> dict[str, Any]:
    return {
        "$schema": DRAFT,
        "title": "Disabled patterns",
        "description": "Pattern ids switched off by this pack, each with the recorded reason.",
        "type": "object",
        "propertyNames": {"pattern": "^[a-z0-9][a-z0-9-]{1,79}$"},
        "additionalProperties": {"type": "string", "minLength": 1},
    }


def all_schemas() -> dict[str, dict[str, Any]]:
    """File name -> schema, for every kind of knowledge-base file and the assessment."""
    return {
        SCHEMA_FILES["pattern"]: pattern_schema(),
        SCHEMA_FILES["cases"]: cases_schema(),
        SCHEMA_FILES["questions"]: questions_schema(),
        SCHEMA_FILES["templates"]: templates_schema(),
        SCHEMA_FILES["vocabulary"]: vocabulary_schema(),
        SCHEMA_FILES["disabled"]: disabled_schema(),
        SCHEMA_FILES["assessment"]: json_schema(),
    }


def render(schema: dict[str, Any]) -> str:
    """Stable text of a schema (what is written and what the tests compare)."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_all(directory: Path) -> list[Path]:
    """Write every schema into `directory` (created if missing); returns the paths."""
    from expert.yamlio import atomic_write_text

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in all_schemas().items():
        path = directory / name
        atomic_write_text(path, render(schema))
        written.append(path)
    return written


def stale(directory: Path) -> list[str]:
    """Schema files in `directory` that are missing or differ from the generated ones."""
    out = []
    for name, schema in all_schemas().items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != render(schema):
            out.append(name)
    return out
