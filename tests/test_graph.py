"""Influence-structure derivation: edges, pairs, nestings, amplification, cycles."""

from expert.analysis import graph
from expert.assessment import durations
from tests.helpers import builtin_kb, make

VOCAB = builtin_kb().vocabulary


def derive(loops, resources=None):
    return graph.derive(make(loops, resources), VOCAB)


def test_edge_needs_a_produced_signal_that_the_other_loop_reacts_to_on_a_shared_resource():
    s = derive(
        [
            {"id": "killer", "actuations": ["terminate"], "acts_on": ["api"]},
            {"id": "retrier", "triggers": ["failure"], "acts_on": ["api"]},
            {"id": "elsewhere", "triggers": ["failure"], "acts_on": ["batch"]},
        ]
    )
    edges = {(e.source, e.target, e.signal) for e in s.edges}
    assert ("killer", "retrier", "task_terminated") in edges
    assert not any(e.target == "elsewhere" for e in s.edges)


def test_signals_travel_the_call_path_in_their_own_direction():
    resources = [{"id": "front", "calls": ["back"]}, {"id": "back"}]
    s = derive(
        [
            {
                "id": "front-retry",
                "actuations": ["retry"],
                "triggers": ["failure"],
                "acts_on": ["front"],
            },
            {
                "id": "back-scaler",
                "triggers": ["queue_depth"],
                "actuations": ["terminate"],
                "acts_on": ["back"],
            },
        ],
        resources,
    )
    edges = {(e.source, e.target, e.signal, e.resource) for e in s.edges}
    # load flows downstream, terminations flow upstream
    assert ("front-retry", "back-scaler", "load_increase", "back") in edges
    assert ("back-scaler", "front-retry", "task_terminated", "front") in edges


def test_unknown_actuations_produce_no_confirmed_edge():
    s = derive(
        [
            {"id": "a", "actuations": "unknown", "acts_on": ["r"]},
            {"id": "b", "triggers": ["failure"], "acts_on": ["r"]},
        ]
    )
    assert s.edges == []
    assert s.emits["a"]["task_terminated"] == "unknown"


def test_partial_list_marks_other_terms_unknown():
    s = derive([{"id": "a", "actuations": ["retry", "unknown"], "acts_on": ["r"]}])
    assert s.emits["a"]["load_increase"] == "yes"
    assert s.emits["a"]["capacity_freed"] == "unknown"


def test_a_clients_own_retries_sit_above_the_retriers_it_calls_on_one_resource():
    # Both act on one request path; the gateway was described first. The path read "the
    # gateway sits above the SDK", and the advice to keep retries nearest the user pointed
    # at the wrong layer.
    s = derive(
        [
            {
                "id": "gateway",
                "actuations": ["retry"],
                "acts_on": ["chat"],
                "instances": "per_request",
                "retry": {"max_retries": 2},
            },
            {
                "id": "sdk",
                "actuations": ["retry"],
                "acts_on": ["chat"],
                "instances": "per_client",
                "retry": {"max_retries": 2},
            },
        ],
        [{"id": "chat"}],
    )
    (amp,) = s.amplifications
    assert amp.loops == ["sdk", "gateway"]


def test_amplification_multiplies_attempts_along_the_call_path():
    resources = [{"id": "edge", "calls": ["mid"]}, {"id": "mid", "calls": ["leaf"]}, {"id": "leaf"}]
    s = derive(
        [
            {
                "id": "sdk",
                "actuations": ["retry"],
                "acts_on": ["edge"],
                "retry": {"max_retries": 3},
            },
            {
                "id": "mesh",
                "actuations": ["retry"],
                "acts_on": ["mid"],
                "retry": {"max_retries": 2},
            },
            {
                "id": "server",
                "actuations": ["retry"],
                "acts_on": ["leaf"],
                "retry": {"max_retries": 1},
            },
        ],
        resources,
    )
    (amp,) = s.amplifications
    assert amp.loops == ["sdk", "mesh", "server"]
    assert amp.factor == (4 * 3 * 2, 4 * 3 * 2)


def test_unknown_retry_count_widens_the_factor():
    s = derive(
        [
            {"id": "a", "actuations": ["retry"], "acts_on": ["r"], "retry": {"max_retries": 2}},
            {"id": "b", "actuations": ["retry"], "acts_on": ["r"]},
        ]
    )
    (amp,) = s.amplifications
    assert amp.factor == (3 * 1, 3 * (graph.UNKNOWN_RETRIES_HI + 1))


def test_timeout_inversion_is_detected_on_nested_deadlines():
    resources = [{"id": "gw", "calls": ["model"]}, {"id": "model"}]
    s = derive(
        [
            {"id": "outer", "acts_on": ["gw"], "deadline": "30s", "propagates_cancellation": "no"},
            {"id": "inner", "acts_on": ["model"], "deadline": "120s"},
        ],
        resources,
    )
    (n,) = s.nestings
    assert (n.outer, n.inner, n.inverted, n.cancels) == ("outer", "inner", "yes", "no")


def test_a_loop_acting_above_or_beside_the_outer_loop_is_not_nested_inside_it():
    """A client acting on the gateway and on the servers behind it calls the gateway: the
    gateway's timeout does not enclose the client's longer one, so that is no inversion.
    A loop only below stays nested."""
    resources = [{"id": "gw", "calls": ["model"]}, {"id": "model"}]
    s = derive(
        [
            {"id": "gateway", "acts_on": ["gw"], "deadline": "60s"},
            {"id": "client", "acts_on": ["gw", "model"], "deadline": "10m"},
            {"id": "server", "acts_on": ["model"], "deadline": "120s"},
        ],
        resources,
    )
    nested = {(n.outer, n.inner) for n in s.nestings}
    assert ("gateway", "client") not in nested
    assert ("gateway", "server") in nested
    assert ("client", "server") not in nested  # the client also acts on the server's level


def test_timescale_ratio_spans_every_value_the_intervals_allow():
    iv = durations.interval_of
    assert graph.ratio_x100(iv("1s"), iv("10s")) == (1000, 1000)
    lo, hi = graph.ratio_x100(iv("seconds"), iv("1m"))
    assert lo == 100 and hi >= 6000  # 59.999s vs 60s ~ 1x; 1s vs 60s = 60x
    assert graph.ratio_x100(iv("unknown"), iv("1s"))[1] == 10**9


def test_feedback_cycle_is_found_with_a_stable_rotation():
    s = derive(
        [
            {
                "id": "z-throttle",
                "actuations": ["throttle"],
                "triggers": ["rate_limit"],
                "acts_on": ["gpus"],
            },
            {
                "id": "a-backfill",
                "actuations": ["backfill"],
                "triggers": ["idle_capacity"],
                "acts_on": ["gpus"],
            },
        ]
    )
    assert [c.loops for c in s.cycles] == [["a-backfill", "z-throttle"]]
    # The throttle's idle capacity relieves what the backfill's load reinforces.
    assert s.cycles[0].kind == "oscillating" and s.cycles[0].amplifying == "no"


def test_a_preemption_that_ends_no_work_signals_no_terminated_task():
    """In-engine preemption recomputes the sequence: a caller's retry has nothing to react to.
    A cluster scheduler preempting a job does end it."""
    resources = [
        {"id": "api", "kind": "request_path", "calls": ["replicas"]},
        {"id": "replicas", "kind": "model_replica"},
        {"id": "train", "kind": "job"},
    ]
    s = derive(
        [
            {
                "id": "batching",
                "layer": "model",
                "triggers": ["resource_pressure"],
                "actuations": ["preempt"],
                "acts_on": ["replicas"],
            },
            {"id": "sdk", "triggers": ["failure"], "actuations": ["retry"], "acts_on": ["api"]},
            {
                "id": "kueue",
                "layer": "scheduler",
                "triggers": ["priority_arrival"],
                "actuations": ["preempt"],
                "acts_on": ["train"],
            },
            {
                "id": "requeue",
                "triggers": ["failure"],
                "actuations": ["retry"],
                "acts_on": ["train"],
            },
        ],
        resources,
    )
    assert s.emits["batching"]["task_terminated"] == "no"
    assert s.emits["kueue"]["task_terminated"] == "yes"
    edges = {(e.source, e.target, e.signal) for e in s.edges}
    assert ("kueue", "requeue", "task_terminated") in edges
    assert not any(src == "batching" and sig == "task_terminated" for src, _t, sig in edges)


def test_a_whole_job_stop_does_not_reach_the_agent_inside_the_job():
    """An elastic agent on each node of a job is stopped with the job when the whole job is
    stopped, so it never sees that stop as an ended task; it does see one member stopped, and a
    loop outside the job sees the whole job stopped. Where either is not known, the stop reaches
    it, as before."""
    resources = [
        {"id": "train", "kind": "job", "synchronized": "yes"},
        {"id": "svc", "kind": "service"},
    ]
    agent = {"triggers": ["failure"], "actuations": ["restart"], "acts_on": ["train"]}
    kueue = {"layer": "scheduler", "triggers": ["priority_arrival"], "actuations": ["preempt"]}
    s = derive(
        [
            {
                "id": "whole",
                "acts_on": ["train", "svc"],
                "answers": {"stops-whole-job": "yes"},
                **kueue,
            },
            {"id": "member", "acts_on": ["train"], "answers": {"stops-whole-job": "no"}, **kueue},
            {"id": "unsaid", "acts_on": ["train"], **kueue},
            {"id": "torchrun", "instances": "per_node", **agent},
            {"id": "requeue", "instances": "once", **agent},
            {"id": "uncounted", **agent},
            {"id": "svc-agent", "instances": "per_node", **{**agent, "acts_on": ["train", "svc"]}},
        ],
        resources,
    )
    assert s.roles["torchrun"]["restarts_in_place"] == "yes"
    assert s.roles["requeue"]["restarts_in_place"] == "no"
    assert s.roles["uncounted"]["restarts_in_place"] == "unknown"
    ended = {(e.source, e.target, e.resource) for e in s.edges if e.signal == "task_terminated"}
    assert ("whole", "torchrun", "train") not in ended
    assert ("member", "torchrun", "train") in ended
    assert ("unsaid", "torchrun", "train") in ended
    assert ("whole", "requeue", "train") in ended
    assert ("whole", "uncounted", "train") in ended
    # Inside the job it is stopped with it; on the service it restarts from outside.
    assert ("whole", "svc-agent", "train") not in ended
    assert ("whole", "svc-agent", "svc") in ended
