"""The `recomputed_progress` computation: training progress lost to interruptions, from the
user's own figures for each job.

First-order checkpoint model (Young/Daly): an interruption sends a job back to its last
checkpoint, so on average it loses half a checkpoint interval of work, plus the time it takes
to start again, on every accelerator it holds. Over a month that is

    interruptions a month x (checkpoint interval / 2 + start-up time) x the job's accelerators

and, as a share of the job's time, (checkpoint interval / 2 + start-up time) / time between
interruptions. A job needs its checkpoint interval and its time between interruptions for
this; where either is unknown the ghost cost keeps the knowledge base's share estimate.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from expert.assessment.durations import Interval, describe, format_ms, interval_of

if TYPE_CHECKING:
    from expert.analysis.results import Finding
    from expert.assessment.model import Assessment

MONTH_MS = 730 * 3_600_000  # the month of deliverables/economics.py: 8,760 h a year / 12
Points = tuple[float, float, float]  # low, central, high


@dataclass(frozen=True)
class Job:
    """A resource whose answers give what the computation needs."""

    id: str
    name: str
    checkpoint: Interval
    between: Interval  # time between interruptions
    startup: Interval | None  # None: not known, so not counted

    def describe(self) -> str:
        """The user's own values, in plain words."""
        text = (
            f"{self.name} checkpoints every {describe(self.checkpoint)} and is interrupted "
            f"about every {describe(self.between)}"
        )
        if self.startup is not None:
            text += f", and takes {describe(self.startup)} to start again"
        return text


@dataclass(frozen=True)
class Jobs:
    """What the computation reads from an assessment: the jobs with figures, and which
    resources each loop acts on (to find the jobs a finding names)."""

    figures: dict[str, Job] = field(default_factory=dict)
    acts_on: dict[str, list[str]] = field(default_factory=dict)
    resources: frozenset[str] = frozenset()


NO_JOBS = Jobs()


def _known(value: str | None) -> Interval | None:
    interval = interval_of(value)
    return interval if value is not None and interval.known else None


def jobs(assessment: Assessment) -> Jobs:
    """The jobs of `assessment` whose checkpoint interval and time between interruptions are
    both known, with the start-up time where it is known too."""
    figures = {}
    for r in assessment.resources or []:
        checkpoint, between = _known(r.checkpoint_interval), _known(r.interrupted_every)
        if checkpoint is None or between is None:
            continue
        figures[r.id] = Job(
            id=r.id,
            name=r.name or r.id,
            checkpoint=checkpoint,
            between=between,
            startup=_known(r.startup_time),
        )
    acts_on = {lp.id: list(lp.acts_on) for lp in assessment.loops if isinstance(lp.acts_on, list)}
    return Jobs(figures=figures, acts_on=acts_on, resources=frozenset(assessment.resource_ids()))


_SUFFIX = re.compile(r"~\d+$")  # the suffix that keeps a colliding id unique


def named(finding: Finding, jobs: Jobs) -> list[str]:
    """The jobs with figures that `finding` is about: the resources it was found on where it
    says (a pair of loops on one resource), else every resource its loops act on."""
    explicit = [m.resource for m in finding.members if m.resource]
    if "@" in finding.id:
        explicit += _SUFFIX.sub("", finding.id.split("@", 1)[1]).split("+")
    explicit = [r for r in explicit if r in jobs.resources]
    candidates = explicit or [r for lp in finding.loops for r in jobs.acts_on.get(lp, [])]
    return [r for r in dict.fromkeys(candidates) if r in jobs.figures]


def _central(interval: Interval) -> float:
    """The central value of a range: the geometric mean of its ends, so that the central
    number of interruptions a month is the same whether the answer is read as a time between
    them or as a rate (a range such as 2.7h-12h spans several-fold)."""
    return math.sqrt(interval.lo * interval.hi)


def lost_share(job: Job) -> Points:
    """The share of the job's time spent redoing lost work: low, central, high. The low end
    takes the shortest checkpoint interval and start-up time and the longest time between
    interruptions, the high end the reverse. At most all of it: a job interrupted more often
    than it can checkpoint and restart makes no progress at all."""
    start = job.startup or Interval(0, 0)

    def share(checkpoint: float, startup: float, between: float) -> float:
        return min(1.0, (checkpoint / 2 + startup) / between)

    return (
        share(job.checkpoint.lo, start.lo, job.between.hi),
        share(_central(job.checkpoint), _central(start), _central(job.between)),
        share(job.checkpoint.hi, start.hi, job.between.lo),
    )


def interruptions(job: Job) -> Points:
    """Interruptions a month: low, central, high."""
    b = job.between
    return (MONTH_MS / b.hi, MONTH_MS / _central(b), MONTH_MS / b.lo)


def lost_per_interruption(job: Job) -> Points:
    """Work lost per interruption, in hours: half the checkpoint interval plus start-up."""
    start = job.startup or Interval(0, 0)
    c = job.checkpoint
    return (
        (c.lo / 2 + start.lo) / 3_600_000,
        (_central(c) / 2 + _central(start)) / 3_600_000,
        (c.hi / 2 + start.hi) / 3_600_000,
    )


def hours_text(h: float) -> str:
    """Hours as a reader sees them (1.7h, 40m)."""
    return format_ms(max(1, round(h * 3_600_000)))
