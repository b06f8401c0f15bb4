"""Shared test configuration.

Hypothesis profiles (select with HYPOTHESIS_PROFILE=<name>; `ci` is the default):
- ci:   modest example counts so the whole suite stays fast on a 2-core machine;
- fuzz: many more examples, for the fuzzing figures (run by hand, not in CI).

Slow tests: the tests in SLOW (each took 15 s or more on a loaded 2-core machine) carry the
`slow` marker. `uv run pytest` leaves them out (addopts in pyproject.toml), so the README's
test command stays quick; `uv run pytest -m slow` runs them, and CI runs both (.ci/run).
Within a run they go first: the suite runs on several processes (pytest-xdist), and a long
test started last would leave the other processes idle at the end.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.bytecode import keep_bytecode

keep_bytecode()  # first, before any test module imports the project

# The knowledge base the command line keeps between commands (expert/engine/kbcache.py) goes
# beside the bytecode, not into the user's temporary folder; every test process and every
# command a test runs shares it. Tests of the cache itself give each test a folder of its own.
os.environ.setdefault(
    "COHERENCE_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".pytest_cache" / "kbcache")
)

# Generated assessments run through a child-process engine, so examples take milliseconds,
# not microseconds: no deadline, and the too_slow check would only add noise.
_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("ci", max_examples=100, **_COMMON)
settings.register_profile("fuzz", max_examples=2000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Node ids, or a test file for all of its tests; slowest first.
SLOW = (
    "tests/interview/test_kill_random.py",
    "tests/interview/test_question_count.py::test_four_template_loops_take_few_questions",
    "tests/interview/test_walkthrough.py::test_complete_interview_by_keyboard",
    "tests/test_fuzz_engine.py",
    "tests/interview/test_import_hygiene.py",
    "tests/test_fuzz_render.py",
    "tests/test_fuzz_loader.py",
    "tests/test_benchmarks_run.py",
    "tests/test_map_chromium.py",
    "tests/interview/test_disputes.py::test_giving_ones_own_answer_settles_it_too",
    "tests/interview/test_disputes.py::test_the_interview_settles_a_disagreement_with_the_answer_picked",
    "tests/interview/test_browser.py::test_an_answer_typed_in_the_browser_is_saved",
    "tests/interview/test_imported.py::test_going_through_an_imported_file_asks_only_what_is_missing",
    "tests/interview/test_money_on_screen.py::test_results_show_the_exposure_range_and_each_cost",
    "tests/test_kb_packs.py::test_every_case_passes_with_the_pack",
    "tests/interview/test_kill_resume.py",
    "tests/interview/test_interactions.py::test_a_template_prefills_the_loop",
    "tests/test_kb_scale.py::test_500_patterns_find_what_brute_force_finds",
    "tests/interview/test_interactions.py::test_reopening_resumes_where_the_user_was",
    "tests/test_exit_codes.py::test_standard_input_is_read_boundedly",
    "tests/test_engine_containment.py::test_repeated_runs_never_fail_for_memory",
    "tests/test_packaging.py",
    "tests/interview/test_help_and_editing.py::test_help_scrolls_with_the_keyboard_to_its_last_key",
    "tests/test_cli_lifecycle.py::test_baseline_fails_only_on_new_findings",
    "tests/test_bad_inputs.py::test_end_to_end_pack",
    "tests/interview/test_interactions.py::test_loops_are_duplicated_and_deleted_from_the_outline",
    "tests/test_terminal_text.py::test_assess_prints_pack_and_assessment_text_escaped",
    "tests/interview/test_selection.py::test_nobody_knows_typed_as_the_owner_is_unknown",
    "tests/test_determinism.py::test_reports_do_not_depend_on_the_hash_seed",
    "tests/interview/test_selection.py::test_the_review_opens_on_see_the_findings",
    "tests/interview/test_decisions_screen.py::test_a_decision_set_on_the_results_screen_is_saved",
    "tests/interview/test_interactions.py::test_back_skip_and_return_keep_what_was_typed",
    "tests/interview/test_imported.py::test_an_imported_answer_is_shown_answered_with_its_line",
    "tests/interview/test_interactions.py::test_a_failing_export_is_a_message_not_a_crash",
    "tests/interview/test_interactions.py::test_the_command_palette_runs_the_interview_commands",
)


def _rank(nodeid: str) -> int | None:
    """The position of the SLOW entry naming this test (its file, or it with any parameters)."""
    for n, entry in enumerate(SLOW):
        if nodeid == entry or nodeid.startswith((entry + "::", entry + "[")):
            return n
    return None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes 15 s or more on a loaded 2-core machine")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ranks = {id(item): _rank(item.nodeid) for item in items}
    for item in items:
        if ranks[id(item)] is not None:
            item.add_marker(pytest.mark.slow)
    if not config.args or config.args == ["tests"]:  # the whole suite: every entry must match
        found = {_rank(item.nodeid) for item in items}
        for n, entry in enumerate(SLOW):
            if n not in found:
                warnings.warn(
                    pytest.PytestConfigWarning(f"tests/conftest.py: SLOW names no test: {entry}"),
                    stacklevel=1,
                )
    # Slowest first, the rest in their usual order (a stable sort keeps each file together).
    items.sort(key=lambda item: len(SLOW) if ranks[id(item)] is None else ranks[id(item)])
