"""The rule engine's process. durable-rules can crash (segfault) or leak; it runs only here,
never in the process that holds the user's answers.

Protocol: one JSON request per line on stdin, one JSON reply per line on stdout.
  {"op": "load", "key": K, "rulesets": {...}, "meta": {...}}     -> {"ok": true}
  {"op": "assert", "key": K, "ruleset": R, "sid": S, "count": N}, then N lines F
      -> {"ok": true, "fired": [[rule, {var: fact id}], ...], "errors": [...], "rss": bytes}
Each F is one fact as JSON object text, without `sid` or `scope`, on a line of its own (not
a string inside the request, which would escape every quote in it and make this process
unescape them): this process adds the session to the text, so no fact is decoded and
encoded again here.
The parent (expert/engine/process.py) decides which ruleset sees which facts, in which stage and in
which process; this process only matches. Errors inside rule actions are returned, never
swallowed. Imports are kept minimal so the process starts fast.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from typing import Any, NoReturn

# A firing's action is {"<rule>": {"v0": {fact}, "v1": {fact}, ...}} with each bound fact as
# the text it was asserted as (flat, its id first). Decoding whole facts (a loop's is 3 kB)
# for their ids was half of this process's time at 1,000 loops; reading the rule name and
# each variable's id off the text is exact for such facts, and anything else is decoded.
_ACTION_RULE = re.compile(r'\{\s*"([^"\\]*)"\s*:\s*\{')


def _bound_ids(
    action: str, meta: dict[str, Any], asserted: dict[str, str] | None = None
) -> tuple[str, dict[str, str]]:
    """(rule name, {engine variable: fact id}) of one firing's action text. `asserted` is the
    text each fact was asserted as, by id."""
    if asserted:
        found = _ids_in_order(action, meta, asserted)
        if found is not None:
            return found
    head = _ACTION_RULE.match(action)
    if head is not None and head.group(1) in meta:
        name = head.group(1)
        wanted = meta[name]["vars"]
        ids = _ids_passed(action, head.end(), asserted) if asserted else None
        if ids is None or any(v not in ids for v in wanted):
            ids = _ids_found(action, head.end() - 1, wanted)
        if ids is not None:
            return name, {v: ids[v] for v in wanted}
    name, bound = next(iter(json.loads(action).items()))
    return name, {v: bound[v]["id"] for v in meta[name]["vars"]}


def _ids_in_order(
    action: str, meta: dict[str, Any], asserted: dict[str, str]
) -> tuple[str, dict[str, str]] | None:
    """_ids_passed for the form the engine writes: `{"<rule>":{"v0":<fact>,"v1":<fact>}}`,
    the variables in the rule's order, no spaces, each fact as asserted. Checked at every
    step, down to the closing braces; None for anything else. This half of reading a firing
    was about a tenth of the engine processes' time at 1,000 loops (15,000 firings)."""
    if not action.startswith('{"'):
        return None
    close = action.find('"', 2)
    name = action[2:close]
    rule = meta.get(name)
    if rule is None or "\\" in name or not action.startswith('":{', close):
        return None
    startswith, find = action.startswith, action.find
    at = close + 3
    bound: dict[str, str] = {}
    for v in rule["vars"]:
        if bound:
            if not startswith(",", at):
                return None
            at += 1
        head = _VAR_HEADS.get(v) or f'"{v}":'
        if not startswith(head, at):
            return None
        at += len(head)  # at the fact, whose text starts `{"id": "<id>"`
        start = at + 8
        ident = action[start : find('"', start)]
        fact = asserted.get(ident)
        if fact is None or not startswith(fact, at):
            return None
        bound[v] = ident
        at += len(fact)
    if at != len(action) - 2 or not action.endswith("}}"):
        return None
    return name, bound


_VAR_HEADS = {f"v{n}": f'"v{n}":' for n in range(8)}


def _ids_passed(action: str, at: int, asserted: dict[str, str]) -> dict[str, str] | None:
    """Each variable's id, read at the start of its fact, whose text is then passed over
    whole: the engine writes `"v0":<fact>,"v1":<fact>...}}` with each fact exactly as it was
    asserted, so only the variables' names and the facts' ids are read, not the 7 kB between
    them. None wherever the text is not so (checked at every step)."""
    ids = {}
    end = len(action) - 2
    while True:
        name_end = action.find('":{"id": "', at, at + 16)
        if name_end < 0 or action[at] != '"':
            return None
        start = name_end + 10
        ident = action[start : action.find('"', start)]
        fact = asserted.get(ident)
        if fact is None or not action.startswith(fact, name_end + 2):
            return None
        ids[action[at + 1 : name_end]] = ident
        at = name_end + 2 + len(fact)
        if at == end and action.endswith("}}"):
            return ids
        if action[at : at + 1] != ",":
            return None
        at += 1


def _ids_found(action: str, start: int, wanted: list[str]) -> dict[str, str] | None:
    """Each variable's id, found by plain search for the engine's usual form of a bound fact
    (`"v0":{"id": "...`: no spaces after the variable, as the engine writes it, and the
    parent's separators in the fact): a regular expression over the whole text (7 kB for
    two loops) was a third of this process's time besides matching at 1,000 loops. In a
    flat fact the form occurs only where the variable is bound (a quote inside a string is
    escaped). None if a variable is not found so, or its id holds an escape."""
    ids = {}
    for v in wanted:
        at = action.find(f'"{v}":{{"id": "', start)
        if at < 0:
            return None
        at += len(v) + 11
        end = action.find('"', at)
        ident = action[at:end]
        if end < 0 or "\\" in ident:
            return None
        ids[v] = ident
    return ids


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

            def get_action(self, name: str) -> Callable[[Any], NoReturn]:
                def never(c: Any) -> NoReturn:
                    raise AssertionError("actions are run by _Engine.match")

                return never

        self.host = Host()
        self.rulesets = {name for name, rules in rulesets.items() if rules}
        self.host.set_rulesets({name: rulesets[name] for name in self.rulesets})

    def match(self, ruleset: str, sid: str, facts: list[str]) -> list[tuple[str, dict[str, str]]]:
        """Assert facts (JSON object texts) one at a time into one session (sid) of a ruleset
        and record every rule they complete, as (rule name, {engine variable: fact id}).

        Never delete_state afterwards: in durable-rules 2.0.28 it segfaults after an
        unhandled assert or a partial join (tests/conformance). The parent gives each run
        its own sid and recycles this process, which bounds the memory instead.

        This is Host.assert_fact and Ruleset.do_actions with the per-firing Python machinery
        (Closure, Promise, state re-encoding) left out: the same C calls in the same order,
        and the state handed back unchanged, since recording a firing never modifies it.
        The firings are half the engine's time at 1,000 loops without this."""
        from durable import engine as de

        dre = de.durable_rules_engine
        if ruleset not in self.rulesets:
            return []  # an empty ruleset: nothing can fire
        handle = self.host.get_ruleset(ruleset)._handle
        loads = json.loads
        meta = self.meta
        # The session joins every fact (the sentinel joins compare scope).
        session = f'"sid": {json.dumps(sid)}, "scope": {json.dumps(sid)}}}'
        fired: list[tuple[str, dict[str, str]]] = []
        asserted: dict[str, str] = {}  # fact id -> the text asserted, the first for an id
        for text in facts:
            body = text.rstrip()[:-1].rstrip()  # the object without its closing brace
            fact = f"{body}, {session}" if body != "{" else body + session
            code, state_handle = dre.assert_fact(handle, fact)[:2]
            if code == 1:
                continue  # no rule of this ruleset reads this fact
            if code == 2:
                self.errors.append(f"duplicate fact id {loads(text).get('id')!r} in {ruleset}")
                continue
            if fact.startswith('{"id": "'):  # as the parent encodes facts
                ident = fact[8 : fact.find('"', 8)]
                if "\\" not in ident:  # an escape: left to the slower ways
                    asserted.setdefault(ident, fact)
            started = dre.start_action_for_state(handle, 0 if code == 3 else state_handle)
            if not started:
                continue
            state, action = started[0], started[1]
            while action:
                try:
                    fired.append(_bound_ids(action, meta, asserted))
                except Exception as exc:  # record, never lose it
                    head = _ACTION_RULE.match(action)
                    name = head.group(1) if head else action[:80]
                    self.errors.append(f"rule {name}: {exc!r}")
                dre.update_state(handle, state)
                action = dre.complete_and_start_action(handle, state_handle)
        return fired


def _rss_bytes() -> int:
    """Resident memory now (Linux /proc), so the parent can recycle this process in time."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def serve(stdin: Any = sys.stdin, stdout: Any = sys.stdout) -> None:
    engine: _Engine | None = None
    key = None
    lines = iter(stdin)
    for line in lines:
        try:
            request = json.loads(line)
            # An assert's facts follow it, whatever happens to the request.
            facts = [next(lines) for _ in range(request.get("count", 0))]
            op = request.get("op")
            if op == "load":
                engine, key = _Engine(request["rulesets"], request["meta"]), request["key"]
                reply: dict[str, Any] = {"ok": True}
            elif op == "assert":
                if engine is None or request.get("key") != key:
                    reply = {"ok": False, "reload": True}
                else:
                    engine.errors = []
                    fired = engine.match(request["ruleset"], request["sid"], facts)
                    reply = {
                        "ok": True,
                        "fired": fired,
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
    # End of input: the parent waits for this exit. Leave without tearing down the engine's
    # heap object by object (hundreds of MB after a large run); the kernel frees it at once.
    sys.stdout.flush()
    os._exit(0)
