"""Masks: one loop hides, delays or averages away a signal another loop reads.

An influence edge says "A's action produces a signal B reacts to". A mask says the opposite
kind of thing: A stands between a signal and the loop that decides on it, so B decides on a
signal A has already changed. Retries turn failed attempts into successes before an
error-rate gate counts them; a cache answers while the backend is down, so a health check
sees nothing; averaging over replicas dilutes a failure on one of them.

Masks come from two places:

- **stated**: a loop's `masks` list (an answer, or written by an importer), e.g.
  `masks: [{signal: task_failure, how: hides, readers: [canary-gate]}]`. Without `readers`,
  every loop that reacts to the signal on the masking loop's resources, or on a resource
  they call, is a reader. A stated list, even an empty one, replaces what is implied.
- **implied**: a loop that retries failures hides them from every loop reading the failure
  rate on the resource it retries against or one below it (failures travel up the call
  path to the retrier). Only a loop that judges a rate or a state (its trigger is an error
  rate, a health check, a threshold or a deployment step) reads through the retries; a loop
  that reacts to each failure as it happens (another retry layer) sees every attempt.
  Whether the reader counts what callers finally saw or every attempt is rarely known, so
  an implied mask is `stated: unknown`: a pattern that requires `stated: "yes"` fires as
  possible, and stating the mask (or `masks: []`) settles it.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from expert.assessment.vocabulary import Vocabulary

# Which signal a retried failure class stops its readers from seeing. A class a pack adds is
# taken as a plain failure.
RETRIED_SIGNAL = {
    "transient": "task_failure",
    "timeout": "task_failure",
    "application_error": "task_failure",
    "rate_limited": "rejection",
    "overload_rejection": "rejection",
    "policy_termination": "task_terminated",
    "disruption": "task_terminated",
}
UNKNOWN = "unknown"


class MaskStatement(BaseModel):
    """One entry of a loop's `masks` list."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    signal: str = Field(max_length=64, description="the signal it keeps from its readers")
    how: str = Field(max_length=64, description="hides | delays | averages")
    readers: list[str] | None = Field(
        None,
        max_length=1000,
        description="ids of the loops that read the signal; omitted: every loop reacting "
        "to it on this loop's resources or below them",
    )


@dataclass(frozen=True)
class Mask:
    """`source` keeps `signal` from `target`, which reads it on `resource`."""

    source: str
    target: str
    signal: str
    how: str  # a mask kind: hides | delays | averages
    resource: str
    stated: str  # "yes": the assessment says so; "unknown": implied by structure


def _ids(values: Any) -> list[str]:
    return [v for v in values if v != UNKNOWN] if isinstance(values, list) else []


def _retried_signals(loop: Any) -> list[str]:
    """Signals a retrying loop hides, in a stable order; none if it does not retry failures."""
    if not isinstance(loop.actuations, list) or "retry" not in loop.actuations:
        return []
    retry = loop.retry
    classes = retry.retries_on if retry is not None else None
    if not isinstance(classes, list) or UNKNOWN in classes:
        # Unknown classes: at least plain failures are retried by any retrying loop.
        known = classes if isinstance(classes, list) else []
        classes = ["transient", *known]
    found = {RETRIED_SIGNAL.get(c, "task_failure") for c in classes if c != UNKNOWN}
    return sorted(found)


def derive(
    loops: list[Any],
    on: Mapping[str, list[Any]],
    downstream: Mapping[str, frozenset[str]],
    reacts: Mapping[str, Mapping[str, str]],
    vocab: Vocabulary,
) -> list[Mask]:
    """Every mask between the loops, stated ones first, each (source, target, signal) once.

    `on` lists the loops acting on each resource, `downstream` the resources below each one
    (graph.derive computes both), `reacts` each loop's three-valued reactions."""
    out: dict[tuple[str, str, str], Mask] = {}
    ids = {lp.id for lp in loops}

    def below(loop: Any) -> list[str]:
        """The loop's resources, then those they call, in a stable order."""
        own = _ids(loop.acts_on)
        seen = dict.fromkeys(own)
        for rid in own:
            seen.update(dict.fromkeys(sorted(downstream.get(rid, frozenset()))))
        return list(seen)

    def readers_of(loop: Any, signal: str) -> list[tuple[str, str]]:
        """(reader, resource) for each loop reacting to `signal` where `loop` reaches."""
        found: dict[str, str] = {}
        for rid in below(loop):
            for other in on.get(rid, []):
                if other.id != loop.id and reacts.get(other.id, {}).get(signal) == "yes":
                    found.setdefault(other.id, rid)
        return list(found.items())

    for loop in loops:
        statements = getattr(loop, "masks", None)
        if statements is None:
            continue
        for st in statements:
            if st.signal not in vocab.signals or st.how not in vocab.mask_kinds:
                continue  # validation reports it; a mask on an unknown term is not derived
            if st.readers is None:
                pairs = readers_of(loop, st.signal)
            else:
                reach = below(loop)
                pairs = []
                for reader in st.readers:
                    if reader not in ids or reader == loop.id:
                        continue
                    theirs = _ids(next(lp for lp in loops if lp.id == reader).acts_on)
                    shared = [r for r in theirs if r in reach]
                    pairs.append((reader, (shared or theirs or [""])[0]))
            for reader, rid in pairs:
                key = (loop.id, reader, st.signal)
                out.setdefault(key, Mask(loop.id, reader, st.signal, st.how, rid, "yes"))

    by_id = {lp.id: lp for lp in loops}

    def judges(reader: str) -> bool:
        # A loop that decides on an aggregate of what it observes (the vocabulary marks such
        # triggers `judges`) sees what retries below it have cleaned; a per-failure reaction
        # sees each attempt instead.
        triggers = by_id[reader].triggers
        if not isinstance(triggers, list) or UNKNOWN in triggers:
            return True
        return any(t in vocab.triggers and vocab.triggers[t].judges for t in triggers)

    for loop in loops:
        if getattr(loop, "masks", None) is not None:
            continue  # what it masks is stated
        for signal in _retried_signals(loop):
            if signal not in vocab.signals:
                continue
            for reader, rid in readers_of(loop, signal):
                if not judges(reader):
                    continue
                key = (loop.id, reader, signal)
                out.setdefault(key, Mask(loop.id, reader, signal, "hides", rid, UNKNOWN))
    return list(out.values())


def _fix(word: str, known: list[str]) -> str:
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.5)
    return (f"did you mean {close[0]!r}? " if close else "") + f"known: {', '.join(known)}"


def check_masks(data: Any, vocab: Vocabulary) -> list[tuple[tuple[Any, ...], str, str]]:
    """Problems in the loops' `masks` lists as (place, message, fix): terms the vocabulary
    does not know and readers that are not declared loops. Reads the parsed file, as the
    assessment's other semantic checks do."""
    problems: list[tuple[tuple[Any, ...], str, str]] = []
    loops = data.get("loops") if isinstance(data, dict) else None
    if not isinstance(loops, list):
        return problems
    declared = [lp.get("id") for lp in loops if isinstance(lp, dict)]
    for i, lp in enumerate(loops):
        masks = lp.get("masks") if isinstance(lp, dict) else None
        if not isinstance(masks, list):
            continue
        for j, m in enumerate(masks):
            if not isinstance(m, dict):
                continue
            place = ("loops", i, "masks", j)
            for key, table, what in (
                ("signal", "signals", "signal"),
                ("how", "mask_kinds", "mask kind"),
            ):
                value = m.get(key)
                known = vocab.terms(table)
                if isinstance(value, str) and value.strip() not in known:
                    message = f"unknown {what} {value!r}"
                    problems.append(((*place, key), message, _fix(value, known)))
            readers = m.get("readers")
            for k, reader in enumerate(readers if isinstance(readers, list) else []):
                if isinstance(reader, str) and reader.strip() not in declared:
                    problems.append(
                        (
                            (*place, "readers", k),
                            f"readers names loop {reader!r}, which is not declared",
                            "name a loop of this assessment by its id; "
                            + _fix(reader, [str(d) for d in declared if d]),
                        )
                    )
                elif isinstance(reader, str) and reader.strip() == lp.get("id"):
                    problems.append(
                        (
                            (*place, "readers", k),
                            "a loop cannot mask a signal from itself",
                            "name the other loop that reads the signal",
                        )
                    )
    return problems
