"""Which importer reads which object: a registry keyed by API group and kind, and the shared
context importers use to find each other's resources (Services, workloads, queues)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from expert.errors import Problem
from expert.importers.model import Builder, Entry, Source, at, name_of, namespace_of
from expert.importers.reader import Document

Importer = Callable[[Document, "Context"], None]

# Importers run in this order of stages, so that a reference (scaleTargetRef, a route's
# host, a queue name) always finds the resource it names.
WORKLOADS, SERVICES, MESH_POLICY, ROUTES, SCALERS, QUEUES = 10, 20, 30, 40, 50, 60


@dataclass(frozen=True)
class Registration:
    stage: int
    read: Importer


REGISTRY: dict[tuple[str, str], Registration] = {}


def register(stage: int, group: str, *kinds: str) -> Callable[[Importer], Importer]:
    """Register an importer for kinds of one API group ("" is the core group)."""

    def wrap(fn: Importer) -> Importer:
        for kind in kinds:
            REGISTRY[(group, kind)] = Registration(stage, fn)
        return fn

    return wrap


def group_of(api_version: Any) -> str:
    text = str(api_version or "")
    return text.rsplit("/", 1)[0] if "/" in text else ""


def lookup(doc: Document) -> Registration | None:
    return REGISTRY.get((group_of(doc.data.get("apiVersion")), str(doc.data.get("kind", ""))))


@dataclass
class Workload:
    """A pod-running object (Deployment, Job, PyTorchJob...) imported as a resource."""

    entry: Entry
    doc: Document
    kind: str
    name: str
    namespace: str
    pod_labels: dict[str, str]
    pod_annotations: dict[str, str]
    containers: list[Any]
    grace_s: int
    grace_source: Source
    replicas: int | None = None
    queue: str | None = None
    template_loc: tuple[Any, ...] = ("spec", "template")


@dataclass
class Context:
    builder: Builder = field(default_factory=Builder)
    problems: list[Problem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    workloads: list[Workload] = field(default_factory=list)
    services: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    external: dict[str, str] = field(default_factory=dict)  # host -> resource id
    retry_caps: dict[str, Source] = field(default_factory=dict)  # resource id -> maxRetries
    min_replicas: dict[str, tuple[int, Source]] = field(default_factory=dict)
    local_queues: dict[tuple[str, str], str] = field(default_factory=dict)  # -> ClusterQueue
    engine_args: dict[str, tuple[dict[str, Any], Document]] = field(default_factory=dict)
    # Argo Rollouts analysis templates by (namespace, name); "" for ClusterAnalysisTemplate
    analysis_templates: dict[tuple[str, str], Document] = field(default_factory=dict)

    def workload(self, namespace: str, kind: str, name: str) -> Workload | None:
        for wl in self.workloads:
            if wl.namespace == namespace and wl.name == name and (not kind or wl.kind == kind):
                return wl
        return None

    def target(self, doc: Document, ref: Any, loc: tuple[Any, ...]) -> str | None:
        """Resource id of a scaleTargetRef/targetRef, or None with a problem recorded."""
        kind = str(getattr(ref, "kind", "") or "")
        name = str(getattr(ref, "name", "") or "")
        wl = self.workload(namespace_of(doc), kind, name)
        if wl is not None:
            return wl.entry.id
        self.problems.append(
            Problem(
                doc.file,
                f"{doc.data.get('kind')} {name_of(doc)!r} targets {kind} {name!r}, which is "
                "not among the imported files",
                line=doc.line(*loc),
                fix="import the target's manifest too; this object's loop acts on nothing known",
            )
        )
        return None

    def host(self, host: str, namespace: str, doc: Document, loc: tuple[Any, ...]) -> list[str]:
        """Resources behind a route host: a Service's workloads, or a resource for the host."""
        parts = host.split(".")
        if len(parts) == 1:
            key = (namespace, parts[0])
        elif len(parts) == 2 or parts[2] == "svc":  # name.namespace[.svc[.cluster.local]]
            key = (parts[1], parts[0])
        else:
            key = ("", host)  # a name outside the cluster
        rids = self.services.get(key)
        if rids:
            return rids
        if host not in self.external:
            entry = self.builder.resource(
                host, "service", host, at(doc, loc, f"destination host {host}")
            )
            self.external[host] = entry.id
        return [self.external[host]]
