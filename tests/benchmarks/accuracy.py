"""Accuracy on real incidents: recall, precision and finding volume over tests/incidents/.

    uv run python tests/benchmarks/accuracy.py            # table per case, then totals
    uv run python tests/benchmarks/accuracy.py --json     # the same figures as JSON
    uv run python tests/benchmarks/accuracy.py --case vllm-abort-on-disconnect
    uv run python tests/benchmarks/accuracy.py --irrelevant   # also list what was not relevant

Each incident folder holds `incident.yaml` (sources, facts, expected and relevant ids) and
`platform.yaml` (written from the sources before reading the pattern conditions). The
scoring rules are in tests/incidents/README.md:
  recall      expected ids found by some finding / expected ids (micro-averaged over cases);
              "confirmed" counts only confirmed findings
  precision   incoherence, symptom and ghost-cost findings whose id is in `relevant` / all
              such findings (auditability findings are counted, not scored)
  shown       the same two figures over what the report presents as findings: confirmed ones
              and possible ones missing a single answer; the rest are held back in the
              report's "to check" list, and their number is printed per case
The floors the regression test holds are in tests/incidents/floors.yaml; this script prints
them beside the measured figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `expert` importable
    sys.path.insert(0, str(ROOT))

from expert.errors import EngineError, InputError, Problem  # noqa: E402
from expert.yamlio import load_yaml  # noqa: E402

CORPUS = ROOT / "tests" / "incidents"
FLOORS = CORPUS / "floors.yaml"
SCORED_KINDS = ("incoherence", "symptom", "ghost-cost")
KINDS = (*SCORED_KINDS, "auditability")
METRICS = ("recall", "recall_confirmed", "precision", "recall_shown", "precision_shown")
REQUIRED = ("title", "workload", "layers", "sources", "facts", "assessment_note", "expected")
WORKLOADS = ("inference", "training")
LAYERS = ("scheduler", "orchestration", "runtime", "model", "safety")


@dataclass
class Incident:
    slug: str
    title: str
    workload: str
    layers: list[str]
    expected: list[str]
    relevant: list[str]
    uncovered: list[str]
    assessment: Path


@dataclass
class CaseScore:
    slug: str
    expected: list[str]
    found: list[str]
    found_confirmed: list[str]
    scored: int
    scored_relevant: int
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    irrelevant: list[str] = field(default_factory=list)
    # The same, over what the report shows (not held back in its "to check" list)
    found_shown: list[str] = field(default_factory=list)
    scored_shown: int = 0
    scored_shown_relevant: int = 0
    held_back: int = 0


def _ids(value: Any, source: str, key: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(Problem(source, f"{key} must be a list of ids", where=key))
    return value


def load_incident(folder: Path, known: dict[str, str]) -> Incident:
    """Read one incident folder and check it against the knowledge base's ids and kinds."""
    source = str(folder / "incident.yaml")
    if not (folder / "incident.yaml").is_file() or not (folder / "platform.yaml").is_file():
        raise InputError(
            Problem(
                str(folder),
                "an incident folder needs incident.yaml and platform.yaml",
                fix="add the missing file, or move the folder out of the corpus",
            )
        )
    data, _ = load_yaml(folder / "incident.yaml", what="incident file")
    if not isinstance(data, dict):
        raise InputError(Problem(source, "expected a mapping of fields at the top level"))
    problems = [
        Problem(source, f"missing field {key!r}", fix="see tests/incidents/README.md")
        for key in REQUIRED
        if key not in data
    ]
    if problems:
        raise InputError(problems)
    note = str(data["assessment_note"]).lower()
    if "before reading" not in note:
        problems.append(
            Problem(
                source,
                "assessment_note must say the assessment was written before reading the "
                "pattern conditions",
                where="assessment_note",
            )
        )
    if data["workload"] not in WORKLOADS:
        problems.append(
            Problem(source, f"workload must be one of {', '.join(WORKLOADS)}", where="workload")
        )
    facts = data["facts"]
    if not isinstance(facts, list) or not facts:
        problems.append(Problem(source, "facts must be a list of sentences", where="facts"))
    else:
        # A fact with ": " in it reads as a one-entry mapping unless it is quoted.
        problems += [
            Problem(
                source,
                f"fact {n} is not a sentence (a colon followed by a space makes YAML read it "
                "as a mapping)",
                where="facts",
                fix="put the fact in double quotes",
            )
            for n, fact in enumerate(facts, 1)
            if not isinstance(fact, str)
        ]
    layers = _ids(data["layers"], source, "layers")
    problems += [
        Problem(source, f"unknown layer {layer!r}", where="layers", fix=", ".join(LAYERS))
        for layer in layers
        if layer not in LAYERS
    ]
    if not data["sources"] or not all(
        isinstance(s, dict) and str(s.get("url", "")).startswith("http") for s in data["sources"]
    ):
        problems.append(Problem(source, "every source needs a url", where="sources"))
    expected = _ids(data["expected"], source, "expected")
    relevant = _ids(data.get("relevant"), source, "relevant")
    for key, ids in (("expected", expected), ("relevant", relevant)):
        for pid in ids:
            if pid not in known:
                problems.append(
                    Problem(
                        source,
                        f"{pid!r} is not a pattern id",
                        where=key,
                        fix="use an id from `coherence kb list`",
                    )
                )
            elif known[pid] == "auditability":
                problems.append(
                    Problem(
                        source,
                        f"{pid!r} is an auditability pattern; only incoherence, symptom and "
                        "ghost-cost ids are scored",
                        where=key,
                    )
                )
    missing = [pid for pid in expected if pid not in relevant]
    if missing:
        problems.append(
            Problem(
                source,
                f"expected ids missing from relevant: {', '.join(missing)}",
                where="relevant",
                fix="relevant is a superset of expected",
            )
        )
    if problems:
        raise InputError(problems)
    return Incident(
        slug=folder.name,
        title=str(data["title"]),
        workload=data["workload"],
        layers=layers,
        expected=expected,
        relevant=relevant,
        uncovered=[str(u) for u in data.get("uncovered") or []],
        assessment=folder / "platform.yaml",
    )


def load_corpus(root: Path, known: dict[str, str], only: list[str] | None = None) -> list[Incident]:
    """Every incident folder under root, in name order (or only the named ones)."""
    if not root.is_dir():
        raise InputError(Problem(str(root), "no such corpus directory"))
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if only:
        unknown = sorted(set(only) - {p.name for p in folders})
        if unknown:
            raise InputError(
                Problem(str(root), f"no incident named {', '.join(unknown)}", where="--case")
            )
        folders = [p for p in folders if p.name in only]
    return [load_incident(p, known) for p in folders]


def score_case(incident: Incident, findings: list[Any]) -> CaseScore:
    """Score one case from its findings (objects with rule, kind, status and evidence)."""
    counts = {kind: {"confirmed": 0, "possible": 0} for kind in KINDS}
    found, confirmed, shown_found, irrelevant = set(), set(), set(), []
    scored = scored_relevant = scored_shown = shown_relevant = held = 0
    for f in findings:
        counts.setdefault(f.kind, {"confirmed": 0, "possible": 0})
        counts[f.kind][f.status] = counts[f.kind].get(f.status, 0) + 1
        shown = f.evidence.shown
        held += not shown
        if f.kind not in SCORED_KINDS:
            continue
        found.add(f.rule)
        if f.status == "confirmed":
            confirmed.add(f.rule)
        relevant = f.rule in incident.relevant
        scored += 1
        scored_relevant += relevant
        if shown:
            shown_found.add(f.rule)
            scored_shown += 1
            shown_relevant += relevant
        if not relevant:
            irrelevant.append(f"{f.rule} ({f.status}{'' if shown else ', held back'})")
    return CaseScore(
        slug=incident.slug,
        expected=incident.expected,
        found=sorted(found & set(incident.expected)),
        found_confirmed=sorted(confirmed & set(incident.expected)),
        scored=scored,
        scored_relevant=scored_relevant,
        counts=counts,
        irrelevant=sorted(irrelevant),
        found_shown=sorted(shown_found & set(incident.expected)),
        scored_shown=scored_shown,
        scored_shown_relevant=shown_relevant,
        held_back=held,
    )


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def totals(cases: list[CaseScore]) -> dict[str, Any]:
    """Micro-averaged figures over all cases, and findings per case by kind and status."""
    expected = sum(len(c.expected) for c in cases)
    n = len(cases) or 1
    per_case = {
        kind: {
            status: sum(c.counts.get(kind, {}).get(status, 0) for c in cases) / n
            for status in ("confirmed", "possible")
        }
        for kind in KINDS
    }
    return {
        "cases": len(cases),
        "expected_ids": expected,
        "recall": _ratio(sum(len(c.found) for c in cases), expected),
        "recall_confirmed": _ratio(sum(len(c.found_confirmed) for c in cases), expected),
        "precision": _ratio(sum(c.scored_relevant for c in cases), sum(c.scored for c in cases)),
        "scored_findings": sum(c.scored for c in cases),
        "relevant_findings": sum(c.scored_relevant for c in cases),
        "recall_shown": _ratio(sum(len(c.found_shown) for c in cases), expected),
        "precision_shown": _ratio(
            sum(c.scored_shown_relevant for c in cases), sum(c.scored_shown for c in cases)
        ),
        "shown_scored_findings": sum(c.scored_shown for c in cases),
        "shown_relevant_findings": sum(c.scored_shown_relevant for c in cases),
        "held_back": sum(c.held_back for c in cases),
        "findings_per_case": per_case,
    }


def load_floors(path: Path = FLOORS) -> dict[str, float]:
    """The committed regression floors: one per metric in METRICS."""
    data, _ = load_yaml(path, what="floors file")
    if not isinstance(data, dict) or set(data) != set(METRICS):
        raise InputError(
            Problem(str(path), f"expected exactly the keys {', '.join(METRICS)}", fix="see README")
        )
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise InputError(Problem(str(path), "a floor is a number from 0 to 1", where=key))
    return {k: float(v) for k, v in data.items()}


def measure(root: Path = CORPUS, only: list[str] | None = None) -> dict[str, Any]:
    """Assess every incident with one engine and return per-case scores and totals."""
    from expert.analysis.assess import Assessor, load_assessment
    from expert.knowledge import knowledgebase as knowledge

    kb = knowledge.load()
    known = {p.id: p.kind for p in kb.active()}
    incidents = load_corpus(root, known, only)
    cases: list[CaseScore] = []
    with Assessor(kb) as ax:
        for incident in incidents:
            results = ax.assess(load_assessment(incident.assessment, kb))
            if results.engine_errors:
                raise EngineError(f"{incident.slug}: " + "; ".join(results.engine_errors))
            cases.append(score_case(incident, results.every_finding()))
    return {
        "incidents": incidents,
        "cases": cases,
        "totals": totals(cases),
    }


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def as_json(measured: dict[str, Any], floors: dict[str, float] | None) -> dict[str, Any]:
    incidents = {i.slug: i for i in measured["incidents"]}
    return {
        "totals": measured["totals"],
        "floors": floors,
        "cases": [
            {
                "id": c.slug,
                "workload": incidents[c.slug].workload,
                "layers": incidents[c.slug].layers,
                "expected": c.expected,
                "found": c.found,
                "found_confirmed": c.found_confirmed,
                "missed": [pid for pid in c.expected if pid not in c.found],
                "recall": _ratio(len(c.found), len(c.expected)),
                "recall_confirmed": _ratio(len(c.found_confirmed), len(c.expected)),
                "precision": _ratio(c.scored_relevant, c.scored),
                "found_shown": c.found_shown,
                "precision_shown": _ratio(c.scored_shown_relevant, c.scored_shown),
                "held_back": c.held_back,
                "findings": c.counts,
                "not_relevant": c.irrelevant,
                "uncovered": incidents[c.slug].uncovered,
            }
            for c in measured["cases"]
        ],
    }


def as_text(
    measured: dict[str, Any], floors: dict[str, float] | None, irrelevant: bool = False
) -> str:
    """A Markdown table per case, then the totals (and the floors, when given); with
    `irrelevant`, every scored finding outside a case's `relevant` list, per case."""
    head = (
        "| case | expected | found | confirmed | precision "
        "| shown precision | held back | inc c/p | sym c/p | cost c/p | aud c/p |"
    )
    lines = [head, "|" + "---|" * 11]
    for c in measured["cases"]:
        k = c.counts
        pair = "{confirmed}/{possible}".format
        lines.append(
            f"| {c.slug} | {len(c.expected)} | {len(c.found)} | {len(c.found_confirmed)} "
            f"| {_fmt(_ratio(c.scored_relevant, c.scored))} ({c.scored_relevant}/{c.scored}) "
            f"| {_fmt(_ratio(c.scored_shown_relevant, c.scored_shown))} "
            f"({c.scored_shown_relevant}/{c.scored_shown}) | {c.held_back} "
            f"| {pair(**k['incoherence'])} | {pair(**k['symptom'])} "
            f"| {pair(**k['ghost-cost'])} | {pair(**k['auditability'])} |"
        )
    t = measured["totals"]
    lines += [
        "",
        f"cases: {t['cases']}, expected ids: {t['expected_ids']}",
        f"recall (all findings):       {_fmt(t['recall'])}",
        f"recall (confirmed findings): {_fmt(t['recall_confirmed'])}",
        f"precision:                   {_fmt(t['precision'])} "
        f"({t['relevant_findings']} of {t['scored_findings']} incoherence, symptom and "
        "ghost-cost findings relevant)",
        "over the findings the report shows (held back ones left out):",
        f"  recall:                    {_fmt(t['recall_shown'])}",
        f"  precision:                 {_fmt(t['precision_shown'])} "
        f"({t['shown_relevant_findings']} of {t['shown_scored_findings']} relevant; "
        f"{t['held_back']} findings held back in all)",
        "findings per case (confirmed / possible):",
    ]
    for kind, by_status in t["findings_per_case"].items():
        lines.append(f"  {kind:<13} {by_status['confirmed']:.1f} / {by_status['possible']:.1f}")
    if floors:
        lines.append(
            "floors (tests/incidents/floors.yaml): "
            + ", ".join(f"{m} {floors[m]:.2f}" for m in METRICS)
        )
    missed = [(c.slug, pid) for c in measured["cases"] for pid in c.expected if pid not in c.found]
    if missed:
        lines.append("missed expected ids:")
        lines += [f"  {slug}: {pid}" for slug, pid in missed]
    if irrelevant:
        # Each of these is either a false positive of its pattern or a finding the incident's
        # author did not list; tightening a pattern starts from this list.
        lines.append("findings not in the case's relevant list:")
        for c in measured["cases"]:
            if c.irrelevant:
                lines.append(f"  {c.slug}: {', '.join(c.irrelevant)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="incident corpus directory")
    parser.add_argument(
        "--case", action="append", metavar="ID", help="score only this incident (repeatable)"
    )
    parser.add_argument(
        "--irrelevant",
        action="store_true",
        help="also list, per case, the findings its relevant list does not name",
    )
    args = parser.parse_args(argv)
    try:
        measured = measure(args.corpus, args.case)
        floors = load_floors() if FLOORS.is_file() else None
    except InputError as exc:
        print(exc, file=sys.stderr)
        return 2
    except EngineError as exc:
        print(f"the rule engine failed: {exc}", file=sys.stderr)
        return 3
    if args.json:
        print(json.dumps(as_json(measured, floors), indent=2))
    else:
        print(as_text(measured, floors, irrelevant=args.irrelevant))
    return 0


if __name__ == "__main__":
    sys.exit(main())
