"""Answers as people type them: each row is what someone wrote and what it must mean."""

from __future__ import annotations

import pytest

from expert.assessment import durations
from expert.assessment.naturalinput import (
    NaturalInputError,
    is_unknown,
    parse_count,
    parse_duration,
    parse_number,
)


@pytest.mark.parametrize(
    ("typed", "kept", "interval"),
    [
        ("~30ms", "~30ms", "20ms-45ms"),  # about X: X/1.5 to X*1.5
        ("about 8m", "about 8m", "5.3m-12m"),
        ("about 2 minutes", "about 2 minutes", "1.3m-3m"),
        ("around 1s", "about 1s", "667ms-1.5s"),
        ("roughly 10 seconds", "about 10 seconds", "6.7s-15s"),
        ("approximately 30ms", "about 30ms", "20ms-45ms"),  # not "approx" + "imately 30ms"
        ("about half a minute", "about 30s", "20s-45s"),
        ("about two minutes", "about 2m", "1.3m-3m"),
    ],
)
def test_a_rough_duration_is_kept_as_typed_and_means_a_band_around_it(
    typed: str, kept: str, interval: str
) -> None:
    """A respondent who says "about 8m" reads "about 8m" in every report, not the interval
    the tool works with."""
    value = parse_duration(typed)
    assert value == kept
    assert durations.describe(durations.parse(value)) == interval


@pytest.mark.parametrize(
    ("typed", "interval"),
    [
        ("a few seconds", "2s-9s"),
        ("several minutes", "3m-9m"),
        ("a couple of minutes", "2m-3m"),
        ("tens of ms", "10ms-100ms"),
        ("a few tens of ms", "20ms-90ms"),
        ("hundreds of milliseconds", "100ms-1s"),
        ("two minutes", "2m"),
        ("a second", "1s"),
        ("half a minute", "30s"),
        ("10-30s", "10s-30s"),
        ("between 10 and 30 seconds", "10s-30s"),
        ("under a second", "1ms-1s"),
        ("up to 5m", "1ms-5m"),
        # what the assessment already reads stays as written
        ("30s", "30s"),
        (" 15s ", "15s"),
        ("10s-2m", "10s-2m"),
        ("minutes", "minutes"),
    ],
)
def test_approximate_durations_become_the_interval_they_mean(typed: str, interval: str) -> None:
    value = parse_duration(typed)
    assert value == interval
    assert durations.is_valid(value)


@pytest.mark.parametrize(
    "typed",
    [
        "never",
        "n/a",
        "N/A",
        "none",
        "nobody knows",
        "Nobody knows.",
        "don't know",
        "don’t know",
        "Don't know",
        "no idea",
        "unknown",
        "?",
        "not sure",
    ],
)
def test_words_for_not_knowing_mean_unknown(typed: str) -> None:
    assert is_unknown(typed)
    assert parse_duration(typed) == "unknown"


@pytest.mark.parametrize("typed", ["Edge team", "platform-sre", "no", "yes", "ml infra"])
def test_ordinary_answers_are_not_unknown(typed: str) -> None:
    assert not is_unknown(typed)


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("$2.50", 2.5),
        ("USD 2.5", 2.5),
        ("2.5 USD", 2.5),
        ("€0.60", 0.6),
        ("2.5/h", 2.5),
        ("4.90 per hour", 4.9),
        ("0.60 per million tokens", 0.6),
        ("20 billion", 20e9),
        ("20bn", 20e9),
        ("20e9", 20e9),
        ("2E10", 20e9),
        ("20 000 000 000", 20e9),
        ("20,000,000,000", 20e9),
        ("20_000_000_000", 20e9),
        ("1.5k", 1500),
        ("2.5 million", 2.5e6),
        ("20 billion tokens", 20e9),
        ("64 GPUs", 64),
        ("12 engineers", 12),
        ("three", 3),
        ("1,200", 1200),
        ("4.90", 4.9),
        ("0", 0),
        # one figure is stored; the cost estimates put their own range around it
        ("around 16 GPUs", 16),
        ("approximately USD 2.50/h", 2.5),
        ("~40", 40),
    ],
)
def test_numbers_with_units_separators_and_words(typed: str, value: float) -> None:
    assert parse_number(typed) == pytest.approx(value)


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("a lot", "not a number"),
        ("1,2", "not a number"),  # neither a decimal point nor groups of three
        ("20 000 00", "not a number"),
        ("-3", "negative"),
        ("12 parsecs", "not a number"),
    ],
)
def test_what_is_not_a_number_says_how_to_write_one(typed: str, says: str) -> None:
    with pytest.raises(NaturalInputError, match=says):
        parse_number(typed)


def test_the_number_message_names_every_accepted_form() -> None:
    with pytest.raises(NaturalInputError) as caught:
        parse_number("lots")
    for form in ("20 000", "20,000", "20 billion", "20e9"):
        assert form in str(caught.value)  # each one is accepted, as the message says
        assert parse_number(form) > 0


@pytest.mark.parametrize(
    ("typed", "value"), [("20 billion", 20_000_000_000), ("3 retries", 3), ("1.5k", 1500)]
)
def test_counts_are_whole(typed: str, value: int) -> None:
    assert parse_count(typed) == value
    assert isinstance(parse_count(typed), int)


@pytest.mark.parametrize(
    ("typed", "value"), [("32 x 8 H100", 256), ("32 nodes × 8 GPUs", 256), ("4*8", 32)]
)
def test_a_count_may_be_given_as_a_product(typed: str, value: int) -> None:
    assert parse_count(typed) == value
    # the message offers it as a form
    with pytest.raises(NaturalInputError, match="32 x 8"):
        parse_count("lots")


@pytest.mark.parametrize(
    ("typed", "value"), [("16 H100s", 16), ("16 H100 GPUs", 16), ("8 nodes", 8)]
)
def test_a_count_may_name_what_it_counts(typed: str, value: int) -> None:
    assert parse_count(typed) == value


@pytest.mark.parametrize(
    "typed",
    ["2 per second", "3 a day", "4 each hour", "5 every minute", "2 hourly", "5 daily", "3 min"],
)
def test_a_rate_is_not_read_as_a_count(typed: str) -> None:
    # "2 per second" answers how often; saving 2 as how many would be an answer never given.
    with pytest.raises(NaturalInputError, match="says how often or how long; this asks how many"):
        parse_count(typed)


@pytest.mark.parametrize(
    ("typed", "value"), [("5 a100 nodes", 5), ("2 a10g", 2), ("3 each", 3), ("10 per node", 10)]
)
def test_counts_with_words_like_rates_stay_counts(typed: str, value: int) -> None:
    assert parse_count(typed) == value


def test_a_scale_word_is_no_factor_of_a_product() -> None:
    with pytest.raises(NaturalInputError, match="whole number"):
        parse_count("20 x 1 billion")


def test_a_fraction_is_not_a_count() -> None:
    with pytest.raises(NaturalInputError, match="whole number"):
        parse_count("2.5")


@pytest.mark.parametrize(
    ("typed", "says"),
    [("soon", "not a duration"), ("5 parsecs", "unknown unit"), ("30s-10s", "backwards")],
)
def test_what_is_not_a_duration_says_how_to_write_one(typed: str, says: str) -> None:
    with pytest.raises(NaturalInputError, match=says):
        parse_duration(typed)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        # "How often is one run of it interrupted?" answered as people say it; each was
        # refused as "not a duration" (a newcomer gave up and typed 4h-8h)
        ("a few times a day", "2.7h-12h"),
        ("3 a day", "8h"),
        ("3/day", "8h"),
        ("3 times per day", "8h"),
        ("twice a week", "3.5d"),
        ("once an hour", "1h"),
        ("every 8h", "8h"),
        ("every day", "1d"),
    ],
)
def test_how_often_something_happens_is_the_time_between_two_of_them(
    typed: str, stored: str
) -> None:
    assert parse_duration(typed) == stored


def test_a_how_often_that_is_not_one_quotes_all_that_was_typed() -> None:
    with pytest.raises(NaturalInputError, match="'every banana' is not a duration"):
        parse_duration("every banana")
