"""What the interview is for and how to drive it, one key away (F1)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown, Static

HELP = """\
# How this interview works

It builds an assessment of your platform's **autonomous control loops**: schedulers,
autoscalers, retry logic, timeouts, rate limits, batching, checkpointing. Each acts on its
own, with its own objective and speed. The tool finds where they work against each other,
what that costs, and which control decisions nobody could reconstruct afterwards.

For every loop you describe five things: its **objective**, the **metric** it watches, how
fast it **reacts**, what **triggers** it and what it **does**. Then what it acts on, what it
watches and how its decisions are recorded. Details follow only when they matter.

## Answers

* Every answer is **saved at once** to the assessment file. Quit any time; run the same
  command again and you continue where you stopped.
* **Don't know** (ctrl+d) is a real answer: findings that need it are marked *possible*, and
  the auditability report counts it.
* Follow-up questions appear when the engine needs an answer to settle a possible finding.
* **Templates propose, you confirm.** A loop started from a template ("Kubernetes HPA",
  "client SDK retries") shows the template's answers on one card: Enter accepts them all,
  or go through them one by one. Until confirmed they are only proposals (◦ in the
  outline, ✓ once confirmed) and no finding rests on them.
* Only what can change a finding is asked. Details that rarely matter wait behind
  "More about this loop" on the loop's closing card.
* **To change an answer**, press ctrl+o (Edit answers), pick the question with ↑ ↓ and
  press Enter, then answer it again: the new answer replaces the saved one when you confirm
  it. Esc also goes back one question at a time.
* Typed answers may be approximate: *about 30ms*, *a few seconds*, *tens of ms*, *$2.50*,
  *20 billion*. *Nobody knows* and *no idea* mean don't know. *n/a* says the question
  does not apply (where a card offers that; elsewhere it means don't know), and *never*
  for a limit says there is none.

## Keys

| Key | Does |
| --- | --- |
| Enter | confirm the answer and go on |
| ctrl+d | don't know |
| Page Down | skip this question for now |
| Esc | back to the previous question |
| ↑ ↓ | move in a list; Enter picks the highlighted (▸) option |
| ctrl+f | finish this loop: leave its remaining questions for later |
| Space | tick or untick (lists where several apply) |
| ctrl+o | the outline: jump anywhere; **a** adds, **c** copies, **r** renames, **Delete** deletes |
| ctrl+r | results: findings by severity and kind, each explained |
| ctrl+p | every command (export reports, add or delete loops, go to a section) |
| ctrl+q | quit (everything is already saved) |

## In a browser

`uv run textual serve "uv run coherence interview FILE"` serves the same interview at
http://localhost:8000.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f1,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog"):
            # The text is longer than a 24-row terminal: it scrolls, and takes the focus so
            # the keys scroll it at once.
            with VerticalScroll(id="help-text"):
                yield Markdown(HELP)
            yield Static("↑ ↓ PgUp PgDn Home End: scroll · Esc: close", id="help-keys")

    def on_mount(self) -> None:
        self.query_one("#help-text").focus()
