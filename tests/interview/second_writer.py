"""A second interview on the same file, driven line by line, for the race harness.

`python -m tests.interview.second_writer FILE` loads the knowledge base, then waits for an
`open` line on standard input (so it can be started early, while its interpreter's start-up
costs nothing to the moment it opens), opens FILE as the interview does and prints
`open read-only PID` (another interview holds it) or `open writable`. Each `answer` line
then answers the cost per million tokens with ANSWER and prints `saved` or
`not saved: MESSAGE`. End of input closes the session.
"""

from __future__ import annotations

import sys
from pathlib import Path

from expert.errors import InputError
from expert.knowledge import knowledgebase as knowledge
from interview.session import Session

ANSWER = 0.5
FIELD = "cost_per_million_tokens"


def main(path: Path) -> None:
    kb = knowledge.load([])
    q = next(q for q in kb.questions.values() if q.about == "economics" and q.field == FIELD)
    if sys.stdin.readline().strip() != "open":
        return
    session = Session.open(path, kb)
    holder = session.holder
    print(f"open read-only {holder.pid}" if holder else "open writable", flush=True)
    for line in sys.stdin:
        if line.strip() != "answer":
            continue
        try:
            session.answer(q, "", ANSWER)
        except InputError as exc:
            print("not saved: " + " ".join(str(exc).split()), flush=True)
        else:
            print("saved", flush=True)
    session.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
