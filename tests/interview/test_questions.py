"""How knowledge-base questions become inputs, and typed answers become values."""

from __future__ import annotations

from pathlib import Path

import pytest

from expert.analysis.applicability import applies
from expert.assessment.model import UNKNOWN, validate
from expert.knowledge import knowledgebase as knowledge
from expert.knowledge.knowledgebase import KnowledgeBase
from expert.knowledge.patterns import Question
from interview import flow
from interview.questions import (
    NOT_APPLICABLE,
    AnswerError,
    AnswerSpec,
    close_to_known,
    describe,
    field_kind,
    parse_typed,
    slugify,
    spec_for,
)
from interview.session import Session


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return knowledge.load([])


def test_every_question_in_the_knowledge_base_has_an_input(kb: KnowledgeBase) -> None:
    a = validate(
        {"schema_version": 1, "system": {"name": "p"}, "loops": [{"id": "x"}, {"id": "y"}]},
        kb.vocabulary,
    )
    assert kb.questions
    for q in kb.questions.values():
        spec = spec_for(q, kb, a, "x")
        assert spec.kind in ("text", "duration", "integer", "number", "single", "multi", "ids")
        if spec.kind == "single":
            assert spec.choices, q.id  # never an empty list to pick from


@pytest.mark.parametrize(
    ("scope", "field", "kind"),
    [
        ("loop", "timescale", "duration"),
        ("loop", "deadline", "duration"),
        ("loop", "layer", "single"),
        ("loop", "triggers", "multi"),
        ("loop", "acts_on", "ids"),
        ("loop", "controls", "multi"),
        ("loop", "retry.max_retries", "integer"),
        ("loop", "retry.jitter", "single"),
        ("loop", "owner", "text"),
        ("economics", "accelerator_hour_cost", "number"),
        ("economics", "engineers", "integer"),
        ("resource", "calls", "multi"),
        ("resource", "startup_time", "duration"),
    ],
)
def test_input_kind_follows_the_field_type(scope: str, field: str, kind: str) -> None:
    assert field_kind(scope, field) == kind


def test_vocabulary_fields_offer_the_vocabulary(kb: KnowledgeBase) -> None:
    q = kb.questions["loop-layer"]
    spec = spec_for(q, kb, None)
    assert [c.value for c in spec.choices] == list(kb.vocabulary.layers)
    assert spec.choices[0].label == kb.vocabulary.layers["scheduler"].label
    assert spec.allows_unknown


def test_the_platform_name_cannot_be_unknown(kb: KnowledgeBase) -> None:
    q = next(q for q in kb.questions.values() if q.about == "system" and q.field == "name")
    spec = spec_for(q, kb, None)
    assert not spec.allows_unknown
    with pytest.raises(AnswerError):
        parse_typed(spec, "don't know")


@pytest.mark.parametrize(
    ("kind", "typed", "value"),
    [
        ("duration", " 15s ", "15s"),
        ("duration", "10s-2m", "10s-2m"),
        ("duration", "minutes", "minutes"),
        ("integer", "30 000", 30000),
        ("integer", "1,200", 1200),
        ("number", "4.90", 4.9),
        ("number", "1,200", 1200),
        ("ids", "gw, vllm-pool,gw", ["gw", "vllm-pool"]),
        ("text", "  Edge team ", "Edge team"),
        ("text", "don't know", UNKNOWN),
        ("duration", "?", UNKNOWN),
        # typed as people write them (expert.assessment.naturalinput)
        ("text", "Nobody knows", UNKNOWN),
        ("text", "unknown", UNKNOWN),
        ("text", "Don't know.", UNKNOWN),
        ("text", "no idea", UNKNOWN),
        ("duration", "~30ms", "~30ms"),
        ("duration", "a few tens of ms", "20ms-90ms"),
        ("duration", "never", UNKNOWN),
        ("integer", "n/a", UNKNOWN),
        ("integer", "20 billion", 20_000_000_000),
        ("integer", "20e9", 20_000_000_000),
        ("integer", "20 000 000 000", 20_000_000_000),
        ("integer", "20,000,000,000", 20_000_000_000),
        ("number", "$2.50", 2.5),
        ("number", "USD 2.5", 2.5),
        ("number", "2.5/h", 2.5),
        ("ids", "none", []),
        # a name typed where an id goes is read as the id it gives, as a loop's name does
        ("ids", "Inference API, vLLM servers", ["inference-api", "vllm-servers"]),
        ("integer", "around 16 GPUs", 16),
    ],
)
def test_typed_answers(kind: str, typed: str, value: object) -> None:
    assert parse_typed(AnswerSpec(kind), typed) == value  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "typed", "value"),
    [
        ("integer", "never", NOT_APPLICABLE),  # gives up after: never
        ("integer", "No limit", NOT_APPLICABLE),
        ("duration", "unlimited", NOT_APPLICABLE),
        ("integer", "n/a", NOT_APPLICABLE),
        ("integer", "don't know", UNKNOWN),
        ("text", "never", UNKNOWN),  # no limit to speak of in a name or a label
    ],
)
def test_never_is_no_limit_where_the_question_may_not_apply(
    kind: str, typed: str, value: object
) -> None:
    spec = AnswerSpec(kind, allows_unknown=True, allows_not_applicable=True)  # type: ignore[arg-type]
    assert parse_typed(spec, typed) == value


@pytest.mark.parametrize(
    ("kind", "typed", "says"),
    [
        ("duration", "soon", "not a duration"),
        ("duration", "5 parsecs", "Unknown unit"),
        ("integer", "many", "whole number"),
        ("integer", "2.5", "whole number"),
        ("number", "a lot", "not a number"),
        ("ids", "!!!, ???", "letters or digits"),
        ("text", "   ", "Type an answer"),
    ],
)
def test_bad_typed_answers_say_how_to_fix_them(kind: str, typed: str, says: str) -> None:
    with pytest.raises(AnswerError, match=says):
        parse_typed(AnswerSpec(kind), typed)  # type: ignore[arg-type]


def test_describe_uses_labels_and_reads_durations(kb: KnowledgeBase) -> None:
    spec = spec_for(kb.questions["loop-layer"], kb, None)
    assert describe(spec, "safety") == kb.vocabulary.layers["safety"].label
    assert describe(spec, UNKNOWN) == "don't know"
    assert describe(spec, None) == "not answered yet"
    assert describe(AnswerSpec("duration"), "90s") == "90s (1.5m)"


def test_slugify() -> None:
    assert slugify("  Gateway Timeout (prod) ") == "gateway-timeout-prod"
    assert slugify("!!!") == ""


def test_asked_when_follows_the_answers(kb: KnowledgeBase) -> None:
    q = Question(
        id="retry-probe",
        about="loop",
        field="retry.jitter",
        text="t",
        help="h",
        asked_when=[{"field": "actuations", "has": "retry", "strict": True}],  # type: ignore[list-item]
    )

    def assessment(actuations: object) -> object:
        loop: dict[str, object] = {"id": "x"}
        if actuations is not None:
            loop["actuations"] = actuations
        data = {"schema_version": 1, "system": {"name": "p"}, "loops": [loop]}
        return validate(data, kb.vocabulary)

    assert applies(q, kb, assessment(["retry"]), "x")  # type: ignore[arg-type]
    assert not applies(q, kb, assessment(["terminate"]), "x")  # type: ignore[arg-type]
    assert not applies(q, kb, assessment(None), "x")  # strict: unknown does not ask
    loose = q.model_copy(
        update={"asked_when": [q.asked_when[0].model_copy(update={"strict": False})]}
    )
    assert applies(loose, kb, assessment(UNKNOWN), "x")  # type: ignore[arg-type]


def test_a_new_id_like_a_known_one_is_named() -> None:
    known = ("vllm-servers", "gpu-pool")
    assert close_to_known(["vlm-servers", "gpu-pool", "batch-queue"], known) == {
        "vlm-servers": "vllm-servers"
    }


def test_an_interrupting_loop_is_asked_its_grace_period_and_a_timeout_its_deadline(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    # No question asked an interrupting loop how long it gives work after its notice, so
    # a 30s grace period against a 10-minute checkpoint write was never found.
    path = tmp_path / "p.yaml"
    path.write_text(
        "schema_version: 1\nsystem: {name: t}\n"
        "resources:\n  - {id: job, kind: job, checkpoint_duration: 10m}\n"
        "loops:\n"
        "  - {id: kueue, triggers: [priority_arrival], actuations: [preempt], acts_on: [job]}\n"
        "  - {id: watchdog, triggers: [timeout], actuations: [terminate], acts_on: [job]}\n"
        "  - {id: engine, layer: model, triggers: [resource_pressure], actuations: [preempt],"
        " acts_on: [job]}\n",
        encoding="utf-8",
    )
    session = Session.open(path, kb)
    by_loop: dict[str, set[str]] = {}
    for s in flow.build(session, [], {}):
        if s.kind == "question" and s.scope == "loop":
            by_loop.setdefault(s.target, set()).add(s.question)
    assert "loop-grace-period" in by_loop["kueue"] and "loop-deadline" not in by_loop["kueue"]
    assert "loop-deadline" in by_loop["watchdog"]
    assert "loop-grace-period" not in by_loop["watchdog"]
    # a model server preempting sequences under memory pressure kills nothing: not asked
    assert "loop-grace-period" not in by_loop["engine"]


def test_disruptions_against_a_give_up_limit_are_asked_after_it_and_not_of_one_without(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    # A kubelet restarting a container never gives up: whether disruptions count against
    # its give-up limit does not apply; an elastic agent is asked it after its limit, and a
    # Job controller that retries after its retry count, which is its give-up limit (asking
    # both would ask one number twice).
    path = tmp_path / "p.yaml"
    path.write_text(
        "schema_version: 1\nsystem: {name: t}\n"
        "resources:\n  - {id: job, kind: job}\n"
        "loops:\n"
        "  - {id: jobs, triggers: [failure], actuations: [retry], acts_on: [job],"
        " instances: once}\n"
        "  - {id: agent, triggers: [failure], actuations: [restart], acts_on: [job],"
        " instances: per_node}\n"
        "  - {id: kubelet, triggers: [health_check], actuations: [restart], acts_on: [job],"
        " instances: per_replica, not_applicable: [guards.give_up_after]}\n"
        "  - {id: preempt, triggers: [priority_arrival], actuations: [preempt],"
        " acts_on: [job]}\n",
        encoding="utf-8",
    )
    session = Session.open(path, kb)
    order: dict[str, list[str]] = {}
    for s in flow.build(session, [], {}):
        if s.kind == "question" and s.scope == "loop":
            order.setdefault(s.target, []).append(s.question)
    agent, jobs = order["agent"], order["jobs"]
    assert agent.index("guard-give-up-after") < agent.index("counts-disruptions")
    assert jobs.index("retry-max-retries") < jobs.index("counts-disruptions")
    assert "guard-give-up-after" not in jobs
    assert "counts-disruptions" not in order["kubelet"]


def test_a_templates_deadline_is_asked_in_one_meaning_only(kb: KnowledgeBase) -> None:
    # One field, three meanings (a timeout, a grace period, a check's failure window): a
    # loop that fitted two would be asked the same answer twice, in two senses.
    meanings = kb.questions_for_field("deadline")
    assert len(meanings) == 3
    for t in kb.templates.values():
        data = {k: v for k, v in t.loop.items() if k != "answers"}
        a = validate(
            {"schema_version": 1, "system": {"name": "t"}, "loops": [{"id": "t", **data}]},
            kb.vocabulary,
        )
        fitting = [q.id for q in meanings if applies(q, kb, a, "t")]
        assert len(fitting) <= 1, (t.id, fitting)
