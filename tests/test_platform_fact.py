"""What the platform as a whole runs, judged from its resources' kinds: symptoms and costs
that apply only to some platforms (load symptoms need requests) read it."""

from __future__ import annotations

import pytest

from expert.analysis import facts, graph
from expert.assessment.vocabulary import ResourceKindTerm
from tests.helpers import builtin_kb, make

VOCAB = builtin_kb().vocabulary
LOOP = {"id": "hpa", "actuations": ["scale_out"], "acts_on": ["r"]}


def serves_requests(kinds: list[str], **extra: object) -> str:
    a = make(
        [LOOP],
        [
            {"id": "r", "kind": kinds[0]},
            *[{"id": f"r{n}", "kind": k} for n, k in enumerate(kinds[1:])],
        ],
        **extra,
    )
    s = graph.derive(a, VOCAB)
    return str(facts.platform_fact(a, VOCAB, "s", s)["serves_requests"])


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        (["service"], "yes"),  # a plain service has callers too
        (["model_replica"], "yes"),
        (["job", "gpu_pool", "storage"], "no"),  # a platform of jobs alone
        (["job", "service"], "yes"),
    ],
)
def test_a_platform_answers_requests_where_a_resource_takes_them(
    kinds: list[str], expected: str
) -> None:
    assert serves_requests(kinds) == expected


def test_token_figures_mean_requests_whatever_the_kinds() -> None:
    assert serves_requests(["job"], economics={"monthly_tokens": 1_000_000}) == "yes"


def test_a_platform_with_no_resources_may_or_may_not_answer_requests() -> None:
    a = make([{"id": "hpa", "actuations": ["scale_out"]}])
    s = graph.derive(a, VOCAB)
    assert facts.platform_fact(a, VOCAB, "s", s)["serves_requests"] == "unknown"


def test_a_packs_inference_kind_takes_requests_unless_it_says_otherwise() -> None:
    # A pack written before the flag existed must not lose its load symptoms.
    assert ResourceKindTerm(label="an inference endpoint", workload="inference").takes_requests
    assert not ResourceKindTerm(label="a batch queue", workload="training").takes_requests
    said = ResourceKindTerm(label="an offline scorer", workload="inference", takes_requests=False)
    assert said.takes_requests is False


def uses_accelerators(kinds: list[str], **extra: object) -> str:
    resources = [{"id": "r" if n == 0 else f"r{n}", "kind": k} for n, k in enumerate(kinds)]
    a = make([LOOP], resources, **extra)
    s = graph.derive(a, VOCAB)
    return str(facts.platform_fact(a, VOCAB, "s", s)["uses_accelerators"])


@pytest.mark.parametrize(
    ("kinds", "count", "expected"),
    [
        (["job"], None, "yes"),  # a job is taken to run on accelerators unless told otherwise
        (["job", "node"], 0, "no"),  # a CPU batch cluster: the count the user gave wins
        (["service"], 8, "yes"),
        (["service", "storage"], None, "no"),
    ],
)
def test_the_accelerator_count_given_wins_over_the_resource_kinds(
    kinds: list[str], count: int | None, expected: str
) -> None:
    extra = {"economics": {"accelerator_count": count}} if count is not None else {}
    assert uses_accelerators(kinds, **extra) == expected
