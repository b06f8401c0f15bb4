"""Errors the user can act on: every problem names the file, the place and the fix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input, located as precisely as we know."""

    source: str
    message: str
    where: str = ""
    line: int | None = None
    fix: str = ""

    def __str__(self) -> str:
        place = self.source
        if self.line is not None:
            place += f":{self.line}"
        if self.where:
            place += f" ({self.where})"
        text = f"{place}: {self.message}"
        if self.fix:
            text += f"\n    fix: {self.fix}"
        return text


class InputError(Exception):
    """Raised for bad user input (assessment files, knowledge-base packs, options).

    The CLI turns it into exit code 2 and the message below; nothing is written.
    """

    def __init__(self, problems: list[Problem] | Problem) -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        count = len(self.problems)
        head = "1 problem" if count == 1 else f"{count} problems"
        shown = self.problems[:50]
        lines = [f"{head} found:"] + [f"  - {p}" for p in shown]
        if count > len(shown):
            lines.append(f"  ... and {count - len(shown)} more")
        return "\n".join(lines)


class EngineError(Exception):
    """The rule engine failed (crashed, timed out, ran out of memory, or a rule action raised).

    The user's input is untouched; the message says what happened.
    """


class OutputError(InputError):
    """An output could not be written, or may not be (it would replace an input or a file
    this tool did not write). Exit code 2, like bad input: the fix is in the command line."""
