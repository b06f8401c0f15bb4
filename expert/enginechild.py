"""The rule engine's process. durable-rules can crash (segfault) or leak; it runs only here,
never in the process that holds the user's answers.

Protocol: one JSON request per line on stdin, one JSON reply per line on stdout.
  {"op": "load", "key": K, "rulesets": {...}, "meta": {...}}    -> {"ok": true}
  {"op": "run", "key": K, "facts": [...], "loops_of": {...}}    -> {"ok": true, "firings": [...]}
A firing is {"stage": n, "rule": name, "pattern": id, "bound": {var: fact id}, "finding": id}.
Errors inside rule actions are caught and returned, never swallowed.
Imports are kept minimal so the process starts fast.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from expert.ids import finding_id, make_unique


class _Engine:
    def __init__(self, rulesets: dict[str, Any], meta: dict[str, Any]) -> None:
        import durable.engine as de

        self.meta = meta
        self.fired: list[tuple[str, dict[str, str]]] = []
        self.errors: list[str] = []
        engine = self

        class Host(de.Host):  # resolve rule actions to our recorder
            def _run(self) -> None:
                # The stock Host starts two timer threads that may run actions on another
                # thread while we assert; synchronous assert_fact needs neither.
                pass

            def get_action(self, name: str):  # type: ignore[no-untyped-def]
                variables = meta[name]["vars"]

                def action(c):  # type: ignore[no-untyped-def]
                    try:
                        engine.fired.append((name, {v: getattr(c, v)["id"] for v in variables}))
                    except Exception as exc:  # the engine would swallow it; record instead
                        engine.errors.append(f"rule {name}: {exc!r}")

                return action

        self.host = Host()
        self.stages = [s for s in ("stage1", "stage2", "stage3") if rulesets.get(s)]
        self.host.set_rulesets({s: rulesets[s] for s in self.stages})
        self.runs = 0

    def _assert(self, stage: str, sid: str, facts: list[dict[str, Any]]) -> None:
        import durable.engine as de

        for fact in facts:
            try:
                self.host.assert_fact(stage, {**fact, "sid": sid})
            except de.MessageNotHandledException:
                pass  # no rule of this stage reads this fact
            except de.MessageObservedException:
                self.errors.append(f"duplicate fact id {fact['id']!r} in {stage}")

    def run(
        self, facts: list[dict[str, Any]], loops_of: dict[str, list[str]]
    ) -> list[dict[str, Any]]:
        self.runs += 1
        sid = f"s{self.runs}"
        firings: list[dict[str, Any]] = []
        findings: dict[str, dict[str, Any]] = {}  # engine id -> finding fact (all stages so far)
        stage_input = facts
        # The platform fact stays available to the later stages (symptoms and costs test it).
        carried = [f for f in facts if f.get("kind") == "platform"]
        for n, stage in enumerate(("stage1", "stage2", "stage3"), start=1):
            self.fired = []
            if stage in self.stages:
                scoped = [{**f, "scope": sid} for f in stage_input]
                self._assert(stage, sid, scoped)
                try:
                    state = self.host.get_state(stage, sid)
                except Exception:  # error 309 when nothing was stored
                    state = {}
                if state.get("exception"):
                    self.errors.append(f"{stage}: {state['exception']}")
                # Never delete_state: in durable-rules 2.0.28 it segfaults after an unhandled
                # assert or a partial join (tests/conformance). Each run has its own sid and the
                # parent recycles this process, which bounds the memory instead.
            new: dict[str, dict[str, Any]] = {}
            original = {f["id"]: fid for fid, f in findings.items()}
            for name, bound in self.fired:
                bound = {v: original.get(i, i) for v, i in bound.items()}
                pattern = self.meta[name]["pattern"]
                if n == 1:
                    loops = sorted({lp for fid in bound.values() for lp in loops_of.get(fid, [])})
                    fid = finding_id(pattern, loops)
                else:
                    fid = pattern  # a symptom or cost is one finding for the whole system
                firings.append(
                    {"stage": n, "rule": name, "pattern": pattern, "bound": bound, "finding": fid}
                )
                new.setdefault(fid, {"id": fid, "kind": "finding", "rule": pattern})
            renamed = make_unique(list(findings) + list(new))
            for fid, fact in new.items():
                if fid not in findings:
                    findings[fid] = {**fact, "id": renamed[fid]}
            # Stage 2 reads stage-1 findings; stage 3 reads stage-1 and stage-2 findings.
            stage_input = carried + list(findings.values())
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
                    reply = {"ok": True, "firings": firings, "errors": engine.errors,
                             "rss": _rss_bytes()}
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
