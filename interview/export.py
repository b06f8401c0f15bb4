"""Writing the reports from inside the interview, next to the assessment by default.

Every format expert.render.reports offers is available; all chosen reports are rendered before any
file is written, and each is written through expert.output like the command line's: atomically,
never over the assessment, a device or a file coherence did not write.
The interview's re-runs leave out the deliverables (inventory, economics, audit gaps,
summary); they are worked out here, with the session's knowledge base and its packs.
"""

from __future__ import annotations

from pathlib import Path

from expert import output
from expert.analysis.results import Results
from expert.assessment.model import Assessment
from expert.deliverables.complete import complete
from expert.errors import InputError, Problem
from expert.knowledge.knowledgebase import KnowledgeBase
from expert.render.formats import EXTENSIONS, FORMATS
from expert.render.reports import render


def formats() -> list[str]:
    return list(FORMATS)


def report_path(assessment_path: Path, directory: Path, fmt: str) -> Path:
    return directory / f"{assessment_path.stem}-report.{EXTENSIONS[fmt]}"


def write_reports(
    results: Results,
    assessment: Assessment,
    kb: KnowledgeBase,
    assessment_path: Path,
    directory: Path,
    chosen: list[str],
) -> list[Path]:
    """Render then write the chosen formats; InputError says what went wrong and where."""
    if not chosen:
        raise InputError(Problem(str(directory), "no format chosen", fix="tick at least one"))
    if not directory.is_dir():
        raise InputError(
            Problem(str(directory), "is not a directory", fix="give an existing directory")
        )
    try:
        results = complete(results, assessment, kb)
    except Exception as exc:  # a bug here must not take the interview down
        raise InputError(
            Problem(
                "reports",
                "the inventory, economics or audit could not be worked out "
                f"({type(exc).__name__}: {exc})",
                fix="report this with the assessment file; your answers are saved",
            )
        ) from None
    texts: dict[Path, str] = {}
    for fmt in chosen:
        try:
            texts[report_path(assessment_path, directory, fmt)] = render(fmt, results, assessment)
        except Exception as exc:  # a renderer bug must not take the interview down
            raise InputError(
                Problem(
                    fmt,
                    f"the {fmt} report could not be produced ({type(exc).__name__}: {exc})",
                    fix="export the other formats, and report this with the assessment file",
                )
            ) from None
    # Every target is checked before any is written: a refusal leaves nothing half done.
    for path in texts:
        output.check_target(path, inputs=[assessment_path])
    written = []
    for path, text in texts.items():
        output.write(text, path, inputs=[assessment_path], announce=False)
        written.append(path)
    return written
