"""Durations as users write them: exact (`200ms`, `30s`, `5m`), a band (`seconds`), a range
(`10s-2m`) or `unknown`. Every duration becomes an interval of milliseconds [lo, hi], so an
exact value is [v, v] and unknown is [0, UNKNOWN_HI]; rules then reason over intervals and a
comparison that holds only for part of the interval is "possible", not "confirmed".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

UNKNOWN = "unknown"
UNKNOWN_HI = 10**13  # ~300 years in ms: larger than any real timescale
MAX_MS = 400 * 24 * 3600 * 1000

UNITS = {
    "ms": 1,
    "msec": 1,
    "millisecond": 1,
    "milliseconds": 1,
    "s": 1000,
    "sec": 1000,
    "secs": 1000,
    "second": 1000,
    "seconds": 1000,
    "m": 60_000,
    "min": 60_000,
    "mins": 60_000,
    "minute": 60_000,
    "minutes": 60_000,
    "h": 3_600_000,
    "hr": 3_600_000,
    "hrs": 3_600_000,
    "hour": 3_600_000,
    "hours": 3_600_000,
    "d": 86_400_000,
    "day": 86_400_000,
    "days": 86_400_000,
}
BANDS = {
    "milliseconds": (1, 999),
    "seconds": (1_000, 59_999),
    "minutes": (60_000, 3_599_999),
    "hours": (3_600_000, 86_399_999),
    "days": (86_400_000, 30 * 86_400_000),
}
_EXACT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$")
# "about 8m": the amount a respondent could give only roughly, kept as they wrote it.
_ABOUT = re.compile(r"^\s*(?:about|~)\s*(\d.*)$")
APPROX_FACTOR = 1.5  # "about X" is X/1.5 to X*1.5
_RANGE = re.compile(r"^\s*(.+?)\s*(?:\.\.|-|to)\s*(.+?)\s*$")

HELP = (
    "write a duration such as 200ms, 30s, 5m, 2h or 1d; a rough one such as about 8m; a band "
    "(milliseconds, seconds, minutes, hours, days); a range such as 10s-2m; or unknown"
)


@dataclass(frozen=True)
class Interval:
    lo: int
    hi: int

    @property
    def known(self) -> bool:
        return self.hi < UNKNOWN_HI

    @property
    def exact(self) -> bool:
        return self.lo == self.hi


UNKNOWN_INTERVAL = Interval(0, UNKNOWN_HI)


class DurationError(ValueError):
    pass


def _exact_ms(text: str) -> int:
    m = _EXACT.match(text)
    if not m:
        raise DurationError(f"{text!r} is not a duration; {HELP}")
    number, unit = m.groups()
    factor = UNITS.get(unit.lower())
    if factor is None:
        raise DurationError(f"unknown unit {unit!r} in {text!r}; use ms, s, m, h or d")
    value = float(number) * factor
    if value <= 0:
        raise DurationError(f"{text!r} must be longer than zero")
    if value > MAX_MS:
        raise DurationError(f"{text!r} is longer than 400 days; is the unit right?")
    return max(1, round(value))


def parse(text: object) -> Interval:
    """Parse a duration; raise DurationError with a usable message."""
    if isinstance(text, str):
        return _parse_text(text)
    return _parse(text)


@lru_cache(maxsize=4096)
def _parse_text(text: str) -> Interval:  # the same few strings recur across thousands of loops
    return _parse(text)


def _parse(text: object) -> Interval:
    if isinstance(text, bool) or text is None:
        raise DurationError(f"{text!r} is not a duration; {HELP}")
    if isinstance(text, dict):  # fields where one value belongs: no Python repr shown
        raise DurationError(f"a set of fields is not a duration; {HELP}")
    if isinstance(text, list):
        raise DurationError(f"a list is not a duration; {HELP}")
    if not isinstance(text, (str, int, float)):  # e.g. a YAML date: show it as written
        raise DurationError(f"{text} is not a duration; {HELP}")
    if isinstance(text, (int, float)):
        raise DurationError(f"{text!r} has no unit; write e.g. {text}s or {text}ms")
    if not isinstance(text, str):
        raise DurationError(f"{text!r} is not a duration; {HELP}")
    s = text.strip().lower()
    if s == UNKNOWN:
        return UNKNOWN_INTERVAL
    if s in BANDS:
        return Interval(*BANDS[s])
    if _EXACT.match(s):
        ms = _exact_ms(s)
        return Interval(ms, ms)
    m = _ABOUT.match(s)
    if m:
        ms = _exact_ms(m.group(1))
        return Interval(max(1, round(ms / APPROX_FACTOR)), round(ms * APPROX_FACTOR))
    m = _RANGE.match(s)
    if m:
        lo, hi = _exact_ms(m.group(1)), _exact_ms(m.group(2))
        if lo > hi:
            raise DurationError(f"range {text!r} runs backwards; write the shorter value first")
        return Interval(lo, hi)
    raise DurationError(f"{text!r} is not a duration; {HELP}")


class Duration(str):
    """A duration as its author wrote it ("60s", "10s-2m", "unknown"), carrying the interval
    it means, parsed once when the assessment is read. It is the text everywhere text is
    shown (so a report says "60s" where the user wrote "60s"), and `interval_of` reads the
    interval without parsing again."""

    interval: Interval

    def __new__(cls, text: str) -> Duration:
        interval = parse(text)  # DurationError before anything is built
        self = super().__new__(cls, text)
        self.interval = interval
        return self


def interval_of(value: str | None) -> Interval:
    """The interval a duration field holds: the parsed one when the assessment was read
    (a Duration), else parsed now (values built in code); None reads as unknown."""
    if isinstance(value, Duration):
        return value.interval
    return parse(value) if value is not None else UNKNOWN_INTERVAL


def is_valid(text: object) -> bool:
    try:
        parse(text)
    except DurationError:
        return False
    return True


def format_ms(ms: int) -> str:
    """Short human form of a millisecond value (for narratives and reports)."""
    for unit, factor in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= factor:
            value = ms / factor
            return f"{value:g}{unit}" if value == int(value) else f"{value:.1f}{unit}"
    return f"{ms}ms"


def describe(interval: Interval) -> str:
    if not interval.known:
        return "unknown"
    if interval.exact:
        return format_ms(interval.lo)
    return f"{format_ms(interval.lo)}-{format_ms(interval.hi)}"
