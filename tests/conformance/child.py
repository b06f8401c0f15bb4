"""Run one conformance case on the real durable-rules engine; print one JSON line of results.

Usage (from the repository root):  python -m tests.conformance.child CASE SEED
CASE is a key of cases.CASES / CRASH_CASES / LIMIT_CASES, or the scenarios "dedup" / "swallow".
Runs in its own process because a SIGSEGV in the C extension cannot be caught in-process.
"""

from __future__ import annotations

import copy
import json
import sys
import threading
from typing import Any

from durable import engine

from .cases import COLLIDING_IDS, Case, Firing, build, stage_facts


def _host(on_fire: Any) -> engine.Host:
    """A Host whose actions are resolved by name, like the project's driver does."""

    class RecordingHost(engine.Host):
        def _run(self) -> None:
            # Why: the stock Host._run starts two self-re-arming daemon Timer threads that call
            # ruleset.dispatch(). Measured: they occasionally run an action on 'Thread-1' while
            # the main thread is asserting, so results could still be in flight when read.
            # Synchronous assert_fact needs neither thread (no timers, no cross-ruleset posts).
            pass

        def get_action(self, action_name: str) -> Any:
            def action(c: Any) -> None:  # the engine wants exactly one positional parameter
                on_fire(action_name, c)

            return action

    return RecordingHost()


def run_case(case: Case) -> dict[str, Any]:
    runs: dict[str, tuple[str, str, list[str]]] = {}
    for rs_name, ruleset in case.rulesets.items():
        for rule_name, body in ruleset.items():
            names = [name for pattern in body["all"] for name in pattern]
            runs[body["run"]] = (rs_name, rule_name, names)

    firings: list[list[Any]] = []
    action_errors: list[str] = []
    threads: set[str] = set()
    group = [0]  # index of the engine call that is running

    def on_fire(action_name: str, c: Any) -> None:
        # Catch everything: the engine would swallow it into state['exception'] (#350).
        try:
            rs_name, rule_name, names = runs[action_name]
            matched = c._m  # {fact name: fact dict}
            firings.append([rs_name, rule_name, [matched[n]["id"] for n in names], group[0]])
            threads.add(threading.current_thread().name)
        except Exception as exc:  # reported to the parent
            action_errors.append(repr(exc))

    host = _host(on_fire)
    # set_rulesets deletes the 'run' key from the dicts it is given: hand it a copy.
    host.set_rulesets(copy.deepcopy(case.rulesets))

    not_handled: dict[str, list[str]] = {}
    observed: list[str] = []
    call_errors: list[str] = []
    known: dict[str, dict[str, Any]] = {}
    used: list[str] = []
    for stage in case.stages:
        so_far: list[Firing] = [(f[0], f[1], tuple(f[2])) for f in firings]
        facts = stage_facts(stage, so_far, known)
        known.update((f["id"], f) for f in facts)
        if stage.ruleset not in used:
            used.append(stage.ruleset)
        calls = [facts] if stage.batch else [[f] for f in facts]
        for chunk in calls:
            group[0] += 1
            try:
                if stage.batch:
                    host.assert_facts(stage.ruleset, copy.deepcopy(chunk))
                else:
                    host.assert_fact(stage.ruleset, dict(chunk[0]))
            except engine.MessageNotHandledException:
                not_handled.setdefault(stage.ruleset, []).extend(f["id"] for f in chunk)
            except engine.MessageObservedException:
                observed.extend(f["id"] for f in chunk)
            except Exception as exc:  # reported to the parent
                call_errors.append(repr(exc))

    exceptions: dict[str, Any] = {}
    stored: dict[str, list[str]] = {}
    for rs in used:
        try:
            exceptions[rs] = host.get_state(rs).get("exception")
            stored[rs] = sorted(f["id"] for f in host.get_facts(rs))
        except Exception as exc:
            # error 309: no state for the sid because no fact was ever stored in this ruleset
            if "error code: 309" not in str(exc):
                raise
            exceptions[rs], stored[rs] = None, []
    return {
        "firings": firings,
        "not_handled": {k: sorted(v) for k, v in not_handled.items()},
        "observed": observed,
        "call_errors": call_errors,
        "action_errors": action_errors,
        "threads": sorted(threads),
        "exceptions": exceptions,
        "stored": stored,
        "active_threads": threading.active_count(),
    }


def _attempt(host: engine.Host, ruleset: str, facts: Any) -> str:
    try:
        if isinstance(facts, list):
            host.assert_facts(ruleset, facts)
        else:
            host.assert_fact(ruleset, facts)
    except engine.MessageNotHandledException:
        return "not_handled"
    except engine.MessageObservedException:
        return "observed"
    return "ok"


def run_dedup() -> dict[str, Any]:
    """Engine-side identity rules the driver must respect (it dedupes before asserting)."""
    fired: list[str] = []
    host = _host(lambda _name, c: fired.append(c._m["m"]["id"]))
    host.set_rulesets({"rs": {"r": {"all": [{"m": {"kind": "K"}}], "run": "r"}}})
    base = {"kind": "K", "scope": "s"}
    out: dict[str, Any] = {
        "first": _attempt(host, "rs", {"id": "x1", **base}),
        "same_id_same_content": _attempt(host, "rs", {"id": "x1", **base}),
        "same_id_other_content": _attempt(host, "rs", {"id": "x1", "extra": 1, **base}),
        "collide_first": _attempt(host, "rs", {"id": COLLIDING_IDS[0], **base}),
        "collide_second": _attempt(host, "rs", {"id": COLLIDING_IDS[1], **base}),
        "unmatched": _attempt(host, "rs", {"id": "u1", "kind": "Nope", "scope": "s"}),
    }
    out["fired"] = sorted(fired)
    out["stored"] = sorted(f["id"] for f in host.get_facts("rs"))
    out["exception"] = host.get_state("rs").get("exception")

    # Batches: one bad fact makes assert_facts raise, yet the others are stored and their
    # actions stay pending until the next engine call.
    fired.clear()
    host.set_rulesets({"rb": {"r": {"all": [{"m": {"kind": "K"}}], "run": "r"}}})
    batch = [{"id": "b1", **base}, {"id": "b2", **base}, {"id": "b1", **base}]
    out["batch_dup"] = _attempt(host, "rb", batch)
    out["batch_dup_fired"] = sorted(fired)
    out["batch_dup_stored"] = sorted(f["id"] for f in host.get_facts("rb"))
    batch = [{"id": "b3", **base}, {"id": "u2", "kind": "Nope", "scope": "s"}]
    out["batch_unmatched"] = _attempt(host, "rb", batch)
    out["batch_unmatched_fired"] = sorted(fired)
    out["next_call"] = _attempt(host, "rb", {"id": "b4", **base})
    out["next_call_fired"] = sorted(fired)
    return out


def run_swallow() -> dict[str, Any]:
    """An exception inside an action is swallowed into state['exception'] (#350)."""

    def on_fire(_name: str, _c: Any) -> None:
        raise ValueError("boom-from-action")

    host = _host(on_fire)
    host.set_rulesets({"rs": {"r": {"all": [{"m": {"kind": "K"}}], "run": "r"}}})
    result = _attempt(host, "rs", {"id": "x1", "kind": "K", "scope": "s"})
    return {"assert": result, "exception": host.get_state("rs").get("exception")}


def main(argv: list[str]) -> int:
    name = argv[1]
    if name == "dedup":
        result = run_dedup()
    elif name == "swallow":
        result = run_swallow()
    else:
        result = run_case(build(name, int(argv[2])))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
