"""Import control loops from real configuration: Kubernetes manifests, mesh and proxy
configuration, queue and scheduler settings, serving engines.

`import_paths(paths)` reads files and directories and returns an assessment (plain data,
valid for the current format) with the source of every imported value. What configuration
cannot tell (owners, decision records, whether cancellation propagates) is left out, for
the interview to ask.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Importers register themselves by API group and kind when their modules load.
from expert.errors import Problem
from expert.importers import delivery as delivery
from expert.importers import kube, mesh, sched, serving
from expert.importers.model import Source, mapping
from expert.importers.reader import MAX_FILES, MAX_TOTAL_BYTES, Document, read_all
from expert.importers.registry import REGISTRY, Context, lookup

__all__ = ["MAX_FILES", "MAX_TOTAL_BYTES", "REGISTRY", "ImportResult", "Source", "import_paths"]


@dataclass
class ImportResult:
    """An imported assessment and what the import could not use."""

    assessment: dict[str, Any]
    provenance: dict[str, Source] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # "file:line Kind name (apiVersion)"
    problems: list[Any] = field(default_factory=list)  # expert.errors.Problem
    files: list[str] = field(default_factory=list)

    def placed(self, problem: Problem) -> Problem:
        """A problem found in the imported assessment, placed at the configuration file and
        line its value came from (`provenance`) where that is known; else as it is. It reads
        the place as expert.assessment.model.loc_text writes it ("loops[0] (id h-hpa).timescale"),
        finding the item by its id, since a merge (--merge) renumbers the items."""
        found = _PLACE.match(problem.where)
        if found is None:
            return problem
        section, ident, name = found.groups()
        items = self.assessment.get(section, [])
        index = next((i for i, item in enumerate(items) if item.get("id") == ident), None)
        source = self.provenance.get(f"{section}[{index}].{name}") if index is not None else None
        if source is None:
            return problem
        return Problem(
            source.file,
            problem.message,
            where=f"{source.upstream_field}, imported as {name} of {ident}",
            line=source.line,
            fix=problem.fix or "correct the value in the configuration and import again",
        )


_PLACE = re.compile(r"^(loops|resources)\[\d+\] \(id (.*?)\)\.?(.*)$")


def _describe(doc: Document) -> str:
    meta = mapping(doc.data, "metadata")
    line = doc.line("kind") or doc.line()
    kind = doc.data.get("kind") or "(no kind)"
    api = doc.data.get("apiVersion")
    return f"{doc.file}:{line} {kind} {meta.get('name', '')}".rstrip() + (
        f" ({api})" if api else ""
    )


def import_paths(paths: list[Path | str], name: str | None = None) -> ImportResult:
    """Import every file under `paths`. InputError (nothing imported) when a file cannot be
    read: malformed YAML or JSON, an unrendered Helm template, too many or too large files."""
    inputs = read_all([Path(p) for p in paths])
    ctx = Context()
    staged: list[tuple[int, int, Document]] = []
    plain: list[Document] = []
    for n, doc in enumerate(inputs.documents):
        reg = lookup(doc)
        if reg is not None:
            staged.append((reg.stage, n, doc))
        elif "kind" in doc.data or "apiVersion" in doc.data:
            ctx.skipped.append(_describe(doc))
        else:
            plain.append(doc)
    for doc in plain:  # kind-less files: engine arguments, Envoy bootstrap, Serve config
        if serving.is_engine_args(doc.data):
            ctx.engine_args[doc.file.rsplit("/", 1)[-1]] = (doc.data, doc)
        elif "static_resources" not in doc.data and "applications" not in doc.data:
            ctx.skipped.append(_describe(doc) + " (not a format this import reads)")
    staged.sort(key=lambda item: (item[0], item[1]))
    done_links = False
    for stage, _, doc in staged:
        if stage > kube.SERVICES and not done_links:
            kube.link_calls(ctx)
            done_links = True
        reg = lookup(doc)
        if reg is not None:
            reg.read(doc, ctx)
    if not done_links:
        kube.link_calls(ctx)
    for doc in plain:
        if "static_resources" in doc.data:
            mesh.read_envoy(doc, ctx)
        elif "applications" in doc.data:
            serving.read_serve_config(doc, ctx)
    serving.read_vllm(ctx)
    for _, (_, doc) in sorted(ctx.engine_args.items()):
        serving.read_engine_file(doc, ctx)
    for file, text in inputs.slurm:
        sched.read_slurm(file, text, ctx)
    kube.read_cluster_autoscaler(ctx)
    for file, data, lines in inputs.other:
        ctx.skipped.append(f"{file}:{lines.line(()) or 1} a {type(data).__name__}, not an object")
    title = name or "Imported from " + ", ".join(str(p) for p in paths)[:200]
    data, provenance = ctx.builder.assessment(
        title,
        f"Imported from {len(inputs.files)} configuration files. Owners, decision records "
        "and cancellation are not in configuration; the interview asks for them.",
    )
    return ImportResult(data, provenance, ctx.skipped, ctx.problems, inputs.files)
