import pytest

from expert.assessment import durations
from expert.assessment.durations import UNKNOWN_HI, DurationError, Interval


@pytest.mark.parametrize(
    ("text", "lo", "hi"),
    [
        ("200ms", 200, 200),
        ("30s", 30_000, 30_000),
        ("1.5s", 1500, 1500),
        ("5m", 300_000, 300_000),
        ("2h", 7_200_000, 7_200_000),
        ("1d", 86_400_000, 86_400_000),
        ("10s-2m", 10_000, 120_000),
        ("10s..2m", 10_000, 120_000),
        ("seconds", 1000, 59_999),
        ("Minutes", 60_000, 3_599_999),
        ("unknown", 0, UNKNOWN_HI),
        ("about 8m", 320_000, 720_000),
        ("~30s", 20_000, 45_000),
        ("About 90 seconds", 60_000, 135_000),
    ],
)
def test_parse(text: str, lo: int, hi: int) -> None:
    assert durations.parse(text) == Interval(lo, hi)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("soon", "not a duration"),
        ("30", "not a duration"),
        (30, "has no unit"),
        ("0s", "longer than zero"),
        ("-5s", "not a duration"),
        ("5 fortnights", "unknown unit"),
        ("2m-10s", "runs backwards"),
        ("500d", "400 days"),
        (True, "not a duration"),
    ],
)
def test_rejects_with_a_usable_message(text: object, fragment: str) -> None:
    with pytest.raises(DurationError, match=fragment):
        durations.parse(text)


def test_describe_round_trips_to_the_same_interval() -> None:
    for text in ("200ms", "30s", "10s-2m", "1.5h"):
        iv = durations.parse(text)
        assert durations.parse(durations.describe(iv)) == iv
    assert durations.describe(durations.UNKNOWN_INTERVAL) == "unknown"


def test_a_duration_is_parsed_once_when_read_and_keeps_its_text() -> None:
    """The model turns a duration answer into a Duration: the text as written, with its
    interval, so nothing downstream parses it again or shows it in other words."""
    from expert.assessment.model import Loop

    loop = Loop.model_validate({"id": "gw", "deadline": "60s", "timescale": "10s-2m"})
    assert isinstance(loop.deadline, durations.Duration)
    assert loop.deadline == "60s" and loop.deadline.interval == durations.Interval(60000, 60000)
    assert durations.interval_of(loop.timescale) == durations.Interval(10000, 120000)
    assert durations.interval_of(None) == durations.UNKNOWN_INTERVAL
    dumped = loop.model_dump(exclude_none=True)
    assert type(dumped["deadline"]) is str and dumped["deadline"] == "60s"


@pytest.mark.parametrize(
    ("value", "says"),
    [({"a": 1}, "a set of fields is not a duration"), (["1s"], "a list is not a duration")],
)
def test_a_value_of_the_wrong_shape_is_named_in_words_not_as_python(
    value: object, says: str
) -> None:
    with pytest.raises(durations.DurationError) as caught:
        durations.parse(value)
    assert str(caught.value).startswith(says)
    assert "{" not in str(caught.value) and "[" not in str(caught.value)
