"""`python -m interview [FILE] [--kb DIR]`: the interview without the `coherence` CLI.

This is the command to serve it in a browser:  textual serve "python -m interview FILE"
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from expert.engine import kbcache
from expert.errors import InputError
from interview.app import DEFAULT_FILE, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m interview",
        description="Guided interview that builds a control-coherence assessment. "
        "Every answer is saved to FILE at once; run again to continue.",
    )
    parser.add_argument(
        "file",
        nargs="?",
        type=Path,
        help=f"assessment file to create or continue (default: {DEFAULT_FILE})",
    )
    parser.add_argument(
        "--kb",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="add an organisation's knowledge-base pack (repeatable)",
    )
    args = parser.parse_args(argv)
    try:
        # Read back as the CLI reads it (expert/engine/kbcache.py): start-up is shorter.
        run(args.file, kbcache.load(args.kb)[0])
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
