"""The knowledge base's vocabulary: layers, objectives, signals, triggers, actuations and
the other closed word lists an assessment may use, plus engine settings held as data."""

from __future__ import annotations

import difflib
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

# What a feedback cycle does to the resources it runs over, from the directions the
# vocabulary gives the signals on its hops (analysis/graph.py, cycle_kind), strongest first.
CycleKind = Literal["amplifying", "oscillating", "damping", "unclassified"]
CYCLE_KINDS: tuple[CycleKind, ...] = get_args(CycleKind)


class Term(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str
    help: str = ""


class SignalTerm(Term):
    propagates: Literal["downstream", "upstream", "none"] = "none"
    direction: Literal["reinforces", "relieves"] | None = Field(
        None,
        description="which way the signal pushes the resource it travels on, for classifying "
        "feedback cycles: reinforces (more work, waiting or failure arrives; capacity goes) "
        "or relieves (load falls, capacity appears); left out where it can go either way",
    )


class TriggerTerm(Term):
    reacts_to: list[str] = Field(default_factory=list)
    judges: bool = Field(
        False,
        description="the loop decides on an aggregate of what it observes (an error rate, a "
        "health state, a metric over a threshold, a rollout's outcome), which a retry layer "
        "below it has already cleaned, so retries can hide failures from it; a reaction to "
        "each failure sees every attempt instead",
    )


class ActuationTerm(Term):
    produces: list[str] = Field(default_factory=list)
    not_after: list[str] = Field(
        default_factory=list,
        description="signals that never lead a loop to this action (a scale-in does not "
        "answer rising load), so a feedback cycle cannot run through them",
    )


class ResourceKindTerm(Term):
    workload: Literal["inference", "training", "any"] = "any"
    # Work on it runs on accelerators (GPUs, TPUs): accelerator-time costs can apply.
    accelerated: bool = False
    # It answers requests whose number rises and falls (a service, a model server): load
    # symptoms such as capacity collapse can apply. A training job runs a fixed set of work.
    # Left out, it follows the workload: a pack's inference kind takes requests.
    takes_requests: bool | None = None
    # A call to it waits on another process's answer (a service, a model server), so a
    # caller's utilisation falls when it slows; a KV cache or GPU pool is part of the caller.
    answers_calls: bool = False

    @model_validator(mode="after")
    def _requests_follow_the_workload(self) -> ResourceKindTerm:
        if self.takes_requests is None:
            self.takes_requests = self.workload == "inference"
        return self


class RoleWay(BaseModel):
    """One way a loop plays a role: it uses one of `actuations`, and, where given, reacts to
    one of `triggers`, runs as one of `instances`, sits in one of `layers`, acts on a resource
    of one of `kinds` (or of a kind outside `not_kinds`), and acts on a synchronised resource.
    """

    model_config = ConfigDict(extra="forbid")
    actuations: list[str] = Field(min_length=1)
    triggers: list[str] | None = Field(None, min_length=1)
    instances: list[str] | None = Field(None, min_length=1)
    layers: list[str] | None = Field(None, min_length=1)
    kinds: list[str] | None = Field(
        None, min_length=1, description="only on a resource of one of these kinds"
    )
    not_kinds: list[str] | None = Field(
        None,
        min_length=1,
        description="only on a resource of another kind (the same word means another effect "
        "there, e.g. a model server's preemption recomputes a sequence)",
    )
    synchronized: bool = Field(
        False, description="only on a resource whose members must all take part in each step"
    )


class RoleTerm(Term):
    """What a loop does to work or capacity, whatever word names its actuation. A loop plays
    the role when any one of `when` holds for it."""

    when: list[RoleWay] = Field(min_length=1)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timescale_proximity_ratio: float = Field(10, gt=1)
    cascade_separation_ratio: float = Field(5, gt=1)
    max_cycle_length: int = Field(6, ge=2, le=12)


class Vocabulary(BaseModel):
    """Every word list is a mapping from term id to its description."""

    model_config = ConfigDict(extra="forbid")
    version: str
    layers: dict[str, Term]
    objectives: dict[str, Term]
    signals: dict[str, SignalTerm]
    triggers: dict[str, TriggerTerm]
    actuations: dict[str, ActuationTerm]
    instances: dict[str, str]
    failure_classes: dict[str, str]
    decision_records: dict[str, str]
    backoff_kinds: dict[str, str]
    resource_kinds: dict[str, ResourceKindTerm]
    roles: dict[str, RoleTerm] = Field(default_factory=dict)
    # How one loop keeps a signal from another loop that reads it (see masking.py).
    mask_kinds: dict[str, Term] = Field(default_factory=dict)
    settings: Settings = Field(default_factory=Settings)

    def terms(self, name: str) -> list[str]:
        """Known ids of one word list, e.g. terms('actuations')."""
        return list(getattr(self, name).keys())

    def produces(self, actuation: str) -> list[str]:
        term = self.actuations.get(actuation)
        return term.produces if term else []

    def reacts_to(self, trigger: str) -> list[str]:
        term = self.triggers.get(trigger)
        return term.reacts_to if term else []

    def dangling(self) -> list[str]:
        """Signals named by triggers/actuations that the signal list does not define, and
        actuations, triggers, instance counts, layers or resource kinds named by roles that are
        not defined."""
        out = []
        named = [("trigger", tid, t.reacts_to) for tid, t in self.triggers.items()]
        named += [("actuation", aid, a.produces) for aid, a in self.actuations.items()]
        named += [("actuation", aid, a.not_after) for aid, a in self.actuations.items()]
        for kind, tid, signals in named:
            out += [
                f"{kind} {tid!r} names unknown signal {s!r}"
                for s in signals
                if s not in self.signals
            ]
        for rid, role in self.roles.items():
            for i, way in enumerate(role.when):
                for table_name, names in (
                    ("actuations", way.actuations),
                    ("triggers", way.triggers or []),
                    ("instances", way.instances or []),
                    ("layers", way.layers or []),
                    ("resource_kinds", [*(way.kinds or []), *(way.not_kinds or [])]),
                ):
                    known = getattr(self, table_name)
                    what = table_name[:-1].replace("_", " ")
                    out += [
                        f"role {rid!r} (when[{i}]) names unknown {what} {n!r}"
                        for n in names
                        if n not in known
                    ]
        return out


def suggest(word: str, known: list[str]) -> str:
    """'closest: x; known: a, b, c' for an unknown term."""
    close = difflib.get_close_matches(str(word), known, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}known: {', '.join(known)}, or unknown"
