"""Nothing lost, nothing replaced: one interview writes a file, outside edits are merged or
shown, comments survive, and a position file that is not a regular file is left alone."""

from __future__ import annotations

import difflib
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from expert.analysis.assess import load_assessment
from expert.errors import InputError
from expert.knowledge import knowledgebase as knowledge
from expert.knowledge.knowledgebase import KnowledgeBase
from expert.knowledge.patterns import Question
from interview import lock, resume
from interview.session import OutsideChange, Session

from .keyboard import make_app

FIXTURE = Path(__file__).parent / "fixtures" / "four-loops.yaml"
WAIT_S = 60  # a bound for a hang, far beyond any machine's normal time

# Comments, blank lines and mixed quoting, as a person writes a file (test_yamledit.py
# reads it too).
HAND_WRITTEN = (Path(__file__).parent.parent / "data" / "hand-written.yaml").read_text(
    encoding="utf-8"
)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return knowledge.load([])


def question(kb: KnowledgeBase, about: str, field: str) -> Question:
    found = next(q for q in kb.questions.values() if q.about == about and q.field == field)
    return found


def copy_of(tmp_path: Path, text: str | None = None) -> Path:
    path = tmp_path / "platform.yaml"
    if text is None:
        shutil.copy(FIXTURE, path)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def edit_outside(path: Path, old: str, new: str) -> None:
    """An editor's save: the whole file written anew."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in the file"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# ---------------------------------------------------------------- one writer


def test_a_second_interview_is_read_only_and_says_who_has_the_file(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    path = copy_of(tmp_path)
    first = Session.open(path, kb)
    second = Session.open(path, kb)
    assert not first.read_only and second.read_only
    assert second.holder is not None and second.holder.pid == os.getpid()
    count = question(kb, "economics", "accelerator_count")
    before = path.read_text()
    with pytest.raises(InputError, match=rf"open in another interview \(process {os.getpid()}"):
        second.answer(count, "", 8)
    assert path.read_text() == before

    # The first saves; then it ends, and the second takes over without losing that answer.
    first.answer(count, "", 64)
    first.close()
    second.answer(question(kb, "loop", "owner"), "replica-hpa", "Serving team")
    saved = load_assessment(path, kb)
    assert saved.economics is not None and saved.economics.accelerator_count == 64
    assert saved.loop("replica-hpa").owner == "Serving team"
    assert not second.read_only
    assert Session.open(path, kb).read_only  # the second holds it now


def test_a_killed_interview_does_not_block_the_next(tmp_path: Path, kb: KnowledgeBase) -> None:
    path = copy_of(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from interview import lock; "
            "held = lock.acquire(Path(sys.argv[1])); print(type(held).__name__, flush=True); "
            "time.sleep(600)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "Lock"
        blocked = Session.open(path, kb)
        assert blocked.holder is not None and blocked.holder.pid == holder.pid
        blocked.close()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert lock.lock_path(path).exists()  # left behind by the kill, and harmless
    session = Session.open(path, kb)
    assert not session.read_only
    session.answer(question(kb, "economics", "accelerator_count"), "", 16)
    session.close()
    assert not lock.lock_path(path).exists()  # a clean close leaves nothing behind


def test_a_planted_lock_file_is_refused_not_followed(tmp_path: Path, kb: KnowledgeBase) -> None:
    path = copy_of(tmp_path)
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    lock.lock_path(path).symlink_to(victim)
    with pytest.raises(InputError, match="is not a regular file"):
        Session.open(path, kb)
    assert victim.read_text() == "keep me"


def test_a_path_that_is_no_regular_file_is_refused_and_left_as_it_is(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    """Saving renames a new file over the path, which would replace a pipe or a device node
    with a regular file: such a path is refused before anything is written."""
    fifo = tmp_path / "answers.yaml"
    os.mkfifo(fifo)
    dangling = tmp_path / "gone.yaml"
    dangling.symlink_to(tmp_path / "nowhere.yaml")
    for path, says in ((fifo, "is not a regular file"), (dangling, "which does not exist")):
        with pytest.raises(InputError, match=says):
            Session.open(path, kb)
        assert not lock.lock_path(path).exists()
    assert fifo.is_fifo() and dangling.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.yaml", "gone.yaml"]


def test_answers_through_a_symbolic_link_are_saved_in_its_target(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    target = copy_of(tmp_path)
    link = tmp_path / "link.yaml"
    link.symlink_to(target.name)
    session = Session.open(link, kb)
    session.answer(question(kb, "economics", "accelerator_count"), "", 16)
    session.close()
    assert link.is_symlink()  # the link is kept, and its target holds the answer
    assert "accelerator_count: 16" in target.read_text()


def test_a_file_refused_for_its_content_keeps_no_lock(tmp_path: Path, kb: KnowledgeBase) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("schema_version: 1\nsystem: {name: bad\n")
    with pytest.raises(InputError):
        Session.open(path, kb)
    assert not lock.lock_path(path).exists()
    assert path.read_text() == "schema_version: 1\nsystem: {name: bad\n"


# ---------------------------------------------------------------- outside edits


def test_an_outside_edit_is_merged_with_the_answer(tmp_path: Path, kb: KnowledgeBase) -> None:
    path = copy_of(tmp_path)
    session = Session.open(path, kb)
    notices: list[str] = []
    session.on_notice = notices.append
    edit_outside(path, "owner: Edge networking", "owner: Edge team  # changed in an editor")
    session.answer(question(kb, "loop", "timescale"), "replica-hpa", "30s")
    saved = load_assessment(path, kb)
    assert saved.loop("gateway-timeout").owner == "Edge team"
    assert saved.loop("replica-hpa").timescale == "30s"
    assert "# changed in an editor" in path.read_text()
    assert notices and "changed outside the interview" in notices[0]
    assert session.assessment is not None
    assert session.assessment.loop("gateway-timeout").owner == "Edge team"


def test_a_conflicting_outside_edit_is_shown_never_overwritten(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    path = copy_of(tmp_path)
    session = Session.open(path, kb)
    timescale = question(kb, "loop", "timescale")
    edit_outside(path, "timescale: 15s", "timescale: 45s")
    with pytest.raises(OutsideChange) as caught:
        session.answer(timescale, "replica-hpa", "30s")
    message = str(caught.value)
    assert "changed outside the interview" in message
    assert "loop replica-hpa's timescale is now '45s' there (your answer: '30s')" in message
    assert "confirm again" in message
    assert load_assessment(path, kb).loop("replica-hpa").timescale == "45s"
    assert session.value(timescale, "replica-hpa") == "45s"  # the file's version is shown
    session.answer(timescale, "replica-hpa", "30s")  # the user chose theirs
    assert load_assessment(path, kb).loop("replica-hpa").timescale == "30s"


def test_a_loop_removed_outside_is_a_conflict(tmp_path: Path, kb: KnowledgeBase) -> None:
    path = copy_of(tmp_path)
    session = Session.open(path, kb)
    text = path.read_text()
    start = text.index("- id: replica-hpa")
    end = text.index("- id:", start + 1)
    path.write_text(text[:start] + text[end:])
    with pytest.raises(OutsideChange, match="loop replica-hpa's timescale was removed there"):
        session.answer(question(kb, "loop", "timescale"), "replica-hpa", "30s")
    assert "replica-hpa" not in path.read_text()


def test_an_outside_edit_that_breaks_the_file_is_not_overwritten(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    path = copy_of(tmp_path)
    session = Session.open(path, kb)
    owner = question(kb, "loop", "owner")
    edit_outside(path, "timescale: 15s", "timescale: [15s")
    broken = path.read_bytes()
    with pytest.raises(OutsideChange, match=r"not valid now \(line \d+"):
        session.answer(owner, "replica-hpa", "Serving team")
    assert path.read_bytes() == broken
    edit_outside(path, "timescale: [15s", "timescale: soon")  # parses, does not validate
    with pytest.raises(OutsideChange, match="not valid now"):
        session.answer(owner, "replica-hpa", "Serving team")
    edit_outside(path, "timescale: soon", "timescale: 20s")  # fixed in the editor
    session.answer(owner, "replica-hpa", "Serving team")
    saved = load_assessment(path, kb).loop("replica-hpa")
    assert saved.timescale == "20s" and saved.owner == "Serving team"


def test_a_file_removed_outside_is_written_again_in_full(tmp_path: Path, kb: KnowledgeBase) -> None:
    path = copy_of(tmp_path)
    session = Session.open(path, kb)
    notices: list[str] = []
    session.on_notice = notices.append
    path.unlink()
    session.answer(question(kb, "economics", "accelerator_count"), "", 8)
    saved = load_assessment(path, kb)
    assert len(saved.loops) == 4 and saved.economics.accelerator_count == 8
    assert notices and "removed or emptied" in notices[0]


# ---------------------------------------------------------------- comments survive


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="")
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_saves_keep_comments_order_and_quoting(tmp_path: Path, kb: KnowledgeBase) -> None:
    path = copy_of(tmp_path, HAND_WRITTEN)
    session = Session.open(path, kb)
    session.answer(question(kb, "loop", "timescale"), "gateway-timeout", "30s")
    after = path.read_text()
    assert changed_lines(HAND_WRITTEN, after) == [
        "-    timescale: 60s  # measured at the gateway",
        "+    timescale: 30s  # measured at the gateway",
    ]
    session.answer(question(kb, "loop", "owner"), "sdk-retries", "yes")  # must stay a string
    session.answer(question(kb, "economics", "accelerator_count"), "", 64)
    session.add_loop("replica-hpa", "Replica autoscaler")
    session.rename_loop("sdk-retries", "client-retries", "Client retries")
    text = path.read_text()
    comments = [ln.strip() for ln in HAND_WRITTEN.splitlines() if "#" in ln]
    kept = [ln.strip() for ln in text.splitlines() if "#" in ln]
    assert [c[c.index("#") :] for c in comments] == [k[k.index("#") :] for k in kept]
    assert 'name: "Chat platform"' in text and "description: 'Serves chat completions'" in text
    assert "owner: 'yes'" in text
    assert "    acts_on:\n      - inference-gateway   # the edge\n" in text
    saved = load_assessment(path, kb)
    assert [lp.id for lp in saved.loops] == ["gateway-timeout", "client-retries", "replica-hpa"]
    assert saved.loop("client-retries").owner == "yes"
    assert saved.economics is not None and saved.economics.accelerator_count == 64
    assert text.index("economics:") > text.index("- id: replica-hpa")
    assert text.rstrip().endswith("accelerator_count: 64")


def test_a_new_file_is_written_in_the_standard_layout(tmp_path: Path, kb: KnowledgeBase) -> None:
    path = tmp_path / "new.yaml"
    session = Session.open(path, kb)
    session.answer(question(kb, "system", "name"), "", "Chat API")
    session.answer(question(kb, "system", "description"), "", "unknown")
    assert path.read_text() == (
        "schema_version: 1\nsystem:\n  name: Chat API\n  description: unknown\nloops: []\n"
    )


# ---------------------------------------------------------------- the position file


def test_a_fifo_as_position_file_is_ignored_not_opened(tmp_path: Path) -> None:
    path = tmp_path / "platform.yaml"
    side = resume.sidecar_path(path)
    os.mkfifo(side)
    loaded: list[resume.Position] = []
    reader = threading.Thread(target=lambda: loaded.append(resume.load(path)), daemon=True)
    reader.start()
    reader.join(WAIT_S)
    assert not reader.is_alive(), "reading the position file waited on the FIFO"
    assert loaded == [resume.Position()] and "not a regular file" in loaded[0].warning
    resume.save(path, resume.Position(step="review:::"))
    assert side.is_fifo()  # never replaced either


def test_a_folder_as_position_file_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "platform.yaml"
    resume.sidecar_path(path).mkdir()
    assert "not a regular file" in resume.load(path).warning
    resume.save(path, resume.Position(step="review:::"))  # no error, nothing replaced
    assert resume.sidecar_path(path).is_dir()


async def test_the_app_says_it_is_read_only_and_saves_nothing(tmp_path: Path) -> None:
    path = copy_of(tmp_path)
    resume.save(path, resume.Position(step="question:loop:replica-hpa:loop-owner"))
    first = make_app(path)
    second = make_app(path)
    assert "read-only" in second.sub_title and f"process {os.getpid()}" in second.sub_title
    before = path.read_text()
    async with second.run_test(size=(100, 30)) as pilot:
        await pilot.press("end", "ctrl+u", *"Serving team", "enter")
        await pilot.pause()
        assert second.interview.current.key == "question:loop:replica-hpa:loop-owner"
    assert path.read_text() == before
    assert resume.load(path).step == "question:loop:replica-hpa:loop-owner"
    first.session.close()
