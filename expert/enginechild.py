"""The rule engine's process. durable-rules can crash (segfault) or leak; it runs only here,
never in the process that holds the user's answers.

Protocol: one JSON request per line on stdin, one JSON reply per line on stdout.
  {"op": "load", "key": K, "rulesets": {...}, "meta": {...}}    -> {"ok": true}
  {"op": "run", "key": K, "facts": [...], "loops_of": {...}}    -> {"ok": true, "firings": [...]}
A firing is {"stage": n, "rule": name, "pattern": id, "bound": {var: fact id}, "finding": id}.
In stages 2 and 3 the cause (v0) is `rule:<pattern>`: it stands for every finding of that
pattern from the earlier stages.
Errors inside rule actions are caught and returned, never swallowed.
Imports are kept minimal so the process starts fast.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from expert.ids import finding_id


class _Engine:
    def __init__(self, rulesets: dict[str, Any], meta: dict[str, Any]) -> None:
        import durable.engine as de

        self.meta = meta
        self.errors: list[str] = []

        class Host(de.Host):
            def _run(self) -> None:
                # The stock Host starts two timer threads that may run actions on another
                # thread while we assert; synchronous assertion needs neither.
                pass

            def get_action(self, name: str):  # type: ignore[no-untyped-def]
                def never(c):  # type: ignore[no-untyped-def]
                    raise AssertionError("actions are run by _Engine._assert")

                return never

        self.host = Host()
        self.stages = [s for s in ("stage1", "stage2", "stage3") if rulesets.get(s)]
        self.host.set_rulesets({s: rulesets[s] for s in self.stages})
        self.runs = 0

    def _assert(self, stage: str, facts: list[dict[str, Any]]) -> list[tuple[str, dict[str, str]]]:
        """Assert facts one at a time and record every rule they complete, as
        (rule name, {engine variable: fact id}).

        This is Host.assert_fact and Ruleset.do_actions with the per-firing Python machinery
        (Closure, Promise, state re-encoding) left out: the same C calls in the same order,
        and the state handed back unchanged, since recording a firing never modifies it.
        The firings are half the engine's time at 1,000 loops without this."""
        from durable import engine as de

        dre = de.durable_rules_engine
        handle = self.host.get_ruleset(stage)._handle
        dumps, loads = json.dumps, json.loads
        meta = self.meta
        fired: list[tuple[str, dict[str, str]]] = []
        for fact in facts:
            code, state_handle = dre.assert_fact(handle, dumps(fact, ensure_ascii=False))[:2]
            if code == 1:
                continue  # no rule of this stage reads this fact
            if code == 2:
                self.errors.append(f"duplicate fact id {fact['id']!r} in {stage}")
                continue
            started = dre.start_action_for_state(handle, 0 if code == 3 else state_handle)
            if not started:
                continue
            state, action = started[0], started[1]
            while action:
                name, bound = next(iter(loads(action).items()))
                try:
                    fired.append((name, {v: bound[v]["id"] for v in meta[name]["vars"]}))
                except Exception as exc:  # record, never lose it
                    self.errors.append(f"rule {name}: {exc!r}")
                dre.update_state(handle, state)
                action = dre.complete_and_start_action(handle, state_handle)
        return fired

    def run(
        self, facts: list[dict[str, Any]], loops_of: dict[str, list[str]]
    ) -> list[dict[str, Any]]:
        self.runs += 1
        sid = f"s{self.runs}"
        firings: list[dict[str, Any]] = []
        # Stage 1 over the base facts. Never delete_state afterwards: in durable-rules 2.0.28
        # it segfaults after an unhandled assert or a partial join (tests/conformance). Each
        # run has its own sid and the parent recycles this process, which bounds the memory.
        stage_input = [{**f, "sid": sid, "scope": sid} for f in facts]
        # The platform fact stays available to the later stages (symptoms and costs test it).
        carried = [f for f in stage_input if f.get("kind") == "platform"]
        rules_found: dict[str, None] = {}  # patterns with a finding so far, in order
        for n, stage in enumerate(("stage1", "stage2", "stage3"), start=1):
            fired = self._assert(stage, stage_input) if stage in self.stages else []
            for name, bound in fired:
                pattern = self.meta[name]["pattern"]
                if n == 1:
                    loops = sorted({lp for fid in bound.values() for lp in loops_of.get(fid, [])})
                    fid = finding_id(pattern, loops)
                else:
                    fid = pattern  # a symptom or cost is one finding for the whole system
                firings.append(
                    {"stage": n, "rule": name, "pattern": pattern, "bound": bound, "finding": fid}
                )
                rules_found[pattern] = None
            # Stage 2 reads stage-1 findings; stage 3 reads stage-1 and stage-2 findings. Their
            # rules test only a finding's pattern, so one fact per pattern stands for all its
            # findings (id `rule:<pattern>`); the caller expands it. At 1,000 loops this is
            # about 100 facts instead of 10,000.
            stage_input = carried + [
                {
                    "id": f"rule:{pattern}",
                    "kind": "finding",
                    "rule": pattern,
                    "sid": sid,
                    "scope": sid,
                }
                for pattern in rules_found
            ]
        return firings


def _rss_bytes() -> int:
    """Resident memory now (Linux /proc), so the parent can recycle this process in time."""
    try:
        with open("/proc/self/statm") as statm:
            import os

            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def serve(stdin: Any = sys.stdin, stdout: Any = sys.stdout) -> None:
    engine: _Engine | None = None
    key = None
    for line in stdin:
        try:
            request = json.loads(line)
            op = request.get("op")
            if op == "load":
                engine, key = _Engine(request["rulesets"], request["meta"]), request["key"]
                reply: dict[str, Any] = {"ok": True}
            elif op == "run":
                if engine is None or request.get("key") != key:
                    reply = {"ok": False, "reload": True}
                else:
                    engine.errors = []
                    firings = engine.run(request["facts"], request["loops_of"])
                    reply = {
                        "ok": True,
                        "firings": firings,
                        "errors": engine.errors,
                        "rss": _rss_bytes(),
                    }
            elif op == "ping":
                reply = {"ok": True}
            else:
                reply = {"ok": False, "error": f"unknown op {op!r}"}
        except MemoryError:
            engine = None  # the parent restarts this process; say so plainly
            reply = {"ok": False, "error": "the rule engine ran out of memory", "memory": True}
        except Exception as exc:  # report, keep serving
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        stdout.write(json.dumps(reply) + "\n")
        stdout.flush()


if __name__ == "__main__":
    serve()
