"""Answers as people type them, turned into the values an assessment stores.

Pure text-to-value functions, with no user-interface code, so the interview (and anything
else that reads typed answers) shares one reading:

- "don't know", "nobody knows", "never", "none", "no idea" ... mean *unknown*; "n/a", "not
  applicable", "doesn't apply" say the question does not apply (`is_not_applicable`), which
  a caller records only where the field may not apply, and reads as unknown elsewhere.
  Typed for a number or a duration, "never", "no limit" or "unlimited" say there is no
  such limit (`is_no_limit`): the question does not apply, where it may not.
- Approximate durations become the interval the words mean: "tens of ms" is 10ms-100ms,
  "a few seconds" 2s-9s, "a few tens of ms" 20ms-90ms. "About X" ("~30ms", "around 2
  minutes") is X within a factor of 1.5 either way: "~30ms" is 20ms-45ms.
- Numbers may carry a currency ("$2.50", "USD 2.5"), a rate ("2.5/h", "per month"), a scale
  word ("20 billion", "1.5k"), an exponent ("20e9") and thousands separators ("20 000",
  "20,000,000", "20_000").
"""

from __future__ import annotations

import contextlib
import math
import re

from expert.assessment import durations

UNKNOWN = durations.UNKNOWN


class NaturalInputError(ValueError):
    """Text that cannot be read as the value asked for; the message says how to write it."""


# ---------------------------------------------------------------- unknown

# Words for "this question does not apply here". Where a question may not apply (the
# field registry's may_not_apply), they record that; elsewhere they read as unknown.
_NOT_APPLICABLE_PHRASES = frozenset(
    {
        "n/a",
        "na",
        "n.a.",
        "not applicable",
        "does not apply",
        "doesn't apply",
        "doesnt apply",
        "not relevant",
    }
)


_UNKNOWN_PHRASES = (
    frozenset(
        {
            "unknown",
            "?",
            "??",
            "don't know",
            "dont know",
            "do not know",
            "i don't know",
            "i dont know",
            "i do not know",
            "idk",
            "not known",
            "no idea",
            "not sure",
            "unsure",
            "nobody knows",
            "no one knows",
            "noone knows",
            "nobody",
            "no one",
            "none",
            "never",
            "-",
            "tbd",
        }
    )
    | _NOT_APPLICABLE_PHRASES
)  # where a question always applies, they mean unknown


def _normal(text: str) -> str:
    """Lower case, typographic quotes as ASCII, inner spaces collapsed, end stops dropped."""
    s = text.strip().lower().replace("’", "'").replace("‘", "'")
    s = re.sub(r"\s+", " ", s)
    return s.rstrip(".!") if len(s) > 1 else s


def is_not_applicable(text: str) -> bool:
    """Whether the text says the question does not apply."""
    return _normal(text) in _NOT_APPLICABLE_PHRASES


# Words for "there is no such limit", typed where a count or a duration is asked for: "after
# how many restarts does it give up?" "never". Where a question may not apply they say so.
_NO_LIMIT_PHRASES = frozenset(
    {"never", "no limit", "unlimited", "infinite", "forever", "it never gives up"}
)


def is_no_limit(text: str) -> bool:
    """Whether the text says there is no limit (never gives up, no timeout)."""
    return _normal(text) in _NO_LIMIT_PHRASES


def is_unknown(text: str) -> bool:
    """Whether the text says the answer is not known (or does not apply)."""
    return _normal(text) in _UNKNOWN_PHRASES


# ---------------------------------------------------------------- numbers

_WORD_NUMBERS = {
    "zero": 0,
    "one": 1,
    "a": 1,
    "an": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "ninety": 90,
    "hundred": 100,
}
_SCALES = {
    "k": 1e3,
    "thousand": 1e3,
    "m": 1e6,
    "mn": 1e6,
    "mio": 1e6,
    "million": 1e6,
    "millions": 1e6,
    "b": 1e9,
    "bn": 1e9,
    "billion": 1e9,
    "billions": 1e9,
    "t": 1e12,
    "tn": 1e12,
    "trillion": 1e12,
}
_CURRENCY = r"(?:usd|eur|gbp|chf|jpy|cad|aud|us\$|\$|€|£|¥)"
_RATE = (
    r"(?:/|per |an |a )\s*(?:h|hr|hrs|hour|gpu-hour|gpu hour|device-hour|month|mo|"
    r"million(?: tokens)?|m tokens|1m tokens|mtok)"
)
# Nouns a count may be followed by ("8 GPUs", "20 billion tokens"): said, not needed.
_NOUNS = (
    r"(?:tokens?|gpus?|tpus?|accelerators?|devices?|engineers?|people|persons?|"
    r"retries|retry|times|attempts?|dollars?|euros?|pounds?|usd|eur|gbp)"
)
_GROUPED = re.compile(r"^\d{1,3}(?:([ ,_'\u202f\u00a0])\d{3})(?:\1\d{3})*(?:\.\d+)?$")
_PLAIN = re.compile(r"^(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$")

NUMBER_HELP = "write it like 12, 4.90, 20 000, 20,000, 20 billion or 20e9"
COUNT_HELP = "write it like 12, 20 000, 20,000, 20 billion, 20e9 or 32 x 8"


def _digits(token: str) -> float | None:
    """A number written with digits: plain, with an exponent, or in groups of three."""
    if _PLAIN.match(token):
        return float(token)
    if _GROUPED.match(token):
        return float(re.sub(r"[ ,_'\u202f\u00a0]", "", token))
    return None


def parse_number(text: str) -> float:
    """The number in text such as "$2.50", "USD 2.5", "2.5/h", "20 billion", "20e9",
    "20 000 000 000" or "20,000,000,000". Raises NaturalInputError when there is none.
    "About 16" or "around 16 GPUs" is 16: these answers hold one figure, and the cost
    estimates put their own range around it."""
    s = _APPROX.sub("", _normal(text))
    s = re.sub(rf"\s*{_RATE}$", "", s)
    s = re.sub(rf"^{_CURRENCY}\s*", "", s)
    s = re.sub(rf"\s*{_NOUNS}$", "", s)
    s = re.sub(rf"\s*{_CURRENCY}$", "", s)
    if s.startswith("-"):
        raise NaturalInputError(f"{text.strip()!r} is negative; give a number of zero or more")
    m = re.match(r"^(.*?)\s*([a-z]+)$", s)
    scale = 1.0
    if m and m.group(2) in _SCALES and m.group(1):
        s, scale = m.group(1), _SCALES[m.group(2)]
    value = _digits(s)
    if value is None:
        value = _WORD_NUMBERS.get(s)
    if value is None or not math.isfinite(value * scale):
        raise NaturalInputError(f"{text.strip()!r} is not a number; {NUMBER_HELP}")
    return value * scale


# A count with a word of its own after it ("16 H100s", "8 nodes"): the words are not known
# units, so only a whole number followed by one or two words is read this way.
_COUNTED = re.compile(r"^\s*(\d+)\s+[a-z][\w-]*(?:\s+[a-z][\w-]*)?\s*$", re.IGNORECASE)
# A rate ("2 per second", "3 a day", "5 hourly") or a duration ("3 min"), which a count
# question cannot take.
_HOW_OFTEN_WORDS = re.compile(
    r"\b(?:per|a|an|each|every)\s+(?:second|sec|minute|min|hour|hr|day|week|month|year)s?\b"
    r"|\b(?:hourly|daily|nightly|weekly|monthly|yearly)\b"
    r"|^\s*\d+\s*(?:ms|secs?|seconds?|mins?|minutes?|hrs?|hours?|days?|weeks?)\s*$",
    re.IGNORECASE,
)
# "32 x 8 H100", "32 nodes × 8 GPUs": a count given as the product people think in.
_PRODUCT = re.compile(r"^\s*(\d+)\s*[a-z]*\s*(?:x|×|\*)\s*(\d+)\b\s*[\w\s-]*$", re.IGNORECASE)


def parse_count(text: str) -> int:
    """A whole number, read as parse_number reads it ("20 billion" is 20000000000); a
    product of two whole numbers ("32 x 8 H100") is their product."""
    # "20 x 1 billion" or "20 billion" is no product or thing counted: a scale word leaves
    # it to parse_number
    scaled = bool(set(re.findall(r"[a-z]+", text.lower())) & set(_SCALES))
    product = _PRODUCT.match(text)
    if product and not scaled:
        return int(product.group(1)) * int(product.group(2))
    counted = _COUNTED.match(text)
    if counted and not scaled:
        if _HOW_OFTEN_WORDS.search(text):
            # "2 per second" says how often, and the question asks how many: reading it as 2
            # would save an answer the respondent did not give.
            raise NaturalInputError(
                f"{text.strip()!r} says how often or how long; this asks how many, as a "
                f"whole number ({COUNT_HELP})"
            )
        return int(counted.group(1))
    whole = f"{text.strip()!r} is not a whole number; {COUNT_HELP}"
    try:
        value = parse_number(text)
    except NaturalInputError as exc:
        raise NaturalInputError(whole if "not a number" in str(exc) else str(exc)) from None
    if not float(value).is_integer():
        raise NaturalInputError(whole)
    return int(value)


# ---------------------------------------------------------------- durations

_UNIT_MS = durations.UNITS  # the units the assessment itself reads
# How many "a few" and its kin mean, as (low, high) multipliers of the unit.
_QUANTIFIERS = {
    "a few": (2, 9),
    "few": (2, 9),
    "several": (3, 9),
    "a couple of": (2, 3),
    "a couple": (2, 3),
    "couple of": (2, 3),
}
_MAGNITUDES = {"tens": 10, "hundreds": 100, "thousands": 1000}
_APPROX = re.compile(r"^(?:~|≈|about|around|approximately|approx\.?|roughly|circa|ca\.?)\s*")
_NUMBER_WORD = "|".join(sorted(_WORD_NUMBERS, key=len, reverse=True))
_AMOUNT = re.compile(rf"^(\d+(?:\.\d+)?|{_NUMBER_WORD}|half an?|half)\s*([a-z]+)$")


_TIMES = {"once": 1, "twice": 2, "thrice": 3}
_HOW_OFTEN = re.compile(
    rf"^(once|twice|thrice|\d+(?:\.\d+)?|{_NUMBER_WORD}|a few|few|several|a couple of|a couple)"
    r"\s*(?:times?\s*)?(?:per|a|an|each|every|/|in a|in an)\s*([a-z]+)$"
)


_LONG_UNITS = {"week": 7 * 86_400_000, "weeks": 7 * 86_400_000}


def _in_units(ms: float) -> str:
    """A time between events in the largest unit it fills, to two significant digits
    ("8h", "2.7h", "3.4d"): a share of a day is an estimate, not a count of milliseconds."""
    for unit, factor in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= factor:
            value = float(f"{ms / factor:.2g}")
            return f"{value:g}{unit}"
    return f"{max(1, round(ms))}ms"


def _times(word: str) -> tuple[float, float]:
    """How many times ("twice", "3", "a few") as a (low, high) count."""
    if word in _TIMES:
        return _TIMES[word], _TIMES[word]
    if word in _QUANTIFIERS:
        return _QUANTIFIERS[word]
    value = float(_WORD_NUMBERS[word]) if word in _WORD_NUMBERS else float(word)
    return value, value


def _fmt(ms: int) -> str:
    """A millisecond value in the largest unit that writes it in at most one decimal
    (80s, 1.5s, 6.7s), rounded to two significant digits: it is an estimate."""
    if ms >= 100:
        ms = round(ms, 2 - len(str(ms)))
    for unit, factor in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= factor and (ms * 10) % factor == 0:
            value = ms / factor
            return f"{value:g}{unit}"
    return f"{ms}ms"


def _interval(lo: float, hi: float) -> str:
    low, high = max(1, round(lo)), max(1, round(hi))
    return _fmt(low) if low == high else f"{_fmt(low)}-{_fmt(high)}"


def _unit(word: str) -> int | None:
    return _UNIT_MS.get(word.strip().removeprefix("of ").strip())


def _amount_ms(text: str) -> float | None:
    """'30ms', '2 minutes', 'two minutes', 'a second', 'half a minute' in milliseconds."""
    m = _AMOUNT.match(text.strip())
    if not m:
        return None
    number, unit = m.groups()
    factor = _unit(unit)
    if factor is None:
        return None
    if number.startswith("half"):
        value = 0.5
    elif number in _WORD_NUMBERS:
        value = float(_WORD_NUMBERS[number])
    else:
        value = float(number)
    return value * factor


def parse_duration(text: str) -> str:
    """A duration as the assessment stores it ("30s", "10s-2m", "seconds", "unknown"),
    read from what a person typed. Raises NaturalInputError explaining how to write it."""
    s = _normal(text)
    if is_unknown(s):
        return UNKNOWN
    if durations.is_valid(s):
        return s
    s = re.sub(r"\s+", " ", s.replace("-ish", "").replace("ish", "")).strip()
    approx = _APPROX.match(s)
    if approx:
        # Kept rough, as typed ("about 8m" reads "about 8m" in every report), the amount in
        # the assessment's short form when it was typed in words ("about two minutes").
        rest = s[approx.end() :]
        if durations.is_valid(f"about {rest}"):
            return f"about {rest}"
        ms = _amount_ms(rest)
        if ms is not None:
            return f"about {durations.format_ms(round(ms))}"
    # "a few tens of ms", "tens of ms", "a few seconds", "hundreds of milliseconds"
    m = re.match(
        r"^(?:(a few|few|several|a couple of|a couple|couple of)\s+)?"
        r"(?:(tens|hundreds|thousands)\s+of\s+)?([a-z]+)$",
        s,
    )
    if m and (m.group(1) or m.group(2)):
        unit = _unit(m.group(3))
        if unit is not None:
            # Without a quantifier, "tens of ms" spans one magnitude: 10 to 100.
            lo, hi = _QUANTIFIERS.get(m.group(1) or "", (1, 10))
            scale = _MAGNITUDES.get(m.group(2) or "", 1)
            return _interval(lo * scale * unit, hi * scale * unit)
    # A plain amount in words: "two minutes", "a second", "half a minute"
    ms = _amount_ms(s)
    if ms is not None:
        return _interval(ms, ms)
    # How often, for a question that asks it: "every 8h" is 8h; "3 a day", "twice a week",
    # "a few times a day" are the time between two events (a day's share).
    m = re.match(r"^every\s+(.+)$", s)
    if m:
        every = _unit(m.group(1)) or _LONG_UNITS.get(m.group(1))  # "every day" is once a day
        if every is not None:
            return _in_units(every)
        with contextlib.suppress(NaturalInputError):  # else the message quotes all of it
            return parse_duration(m.group(1))
    m = _HOW_OFTEN.match(s)
    if m:
        unit = _unit(m.group(2)) or _LONG_UNITS.get(m.group(2))
        if unit is not None:
            fewest, most = _times(m.group(1))
            low, high = _in_units(unit / most), _in_units(unit / fewest)
            return low if low == high else f"{low}-{high}"
    # "10-30s", "between 10 and 30 seconds", "10 to 30 s": the unit said once, at the end
    m = re.match(
        r"^(?:between\s+)?(\d+(?:\.\d+)?)\s*(?:-|–|to|and)\s*(\d+(?:\.\d+)?)\s*([a-z]+)$", s
    )
    range_unit = _unit(m.group(3)) if m else None
    if m and range_unit is not None:
        lo_ms, hi_ms = float(m.group(1)) * range_unit, float(m.group(2)) * range_unit
        if lo_ms <= hi_ms:
            return _interval(lo_ms, hi_ms)
    # "under a second", "less than 5s", "up to 2 minutes": from a millisecond to that
    m = re.match(r"^(?:under|below|less than|up to|at most|within|<=?)\s*(.+)$", s)
    if m:
        ms = _amount_ms(m.group(1))
        if ms is None and durations.is_valid(m.group(1)):
            ms = durations.parse(m.group(1)).hi
        if ms is not None:
            return _interval(1, ms)
    try:
        durations.parse(s)
    except durations.DurationError as exc:
        raise NaturalInputError(
            f"{text.strip()!r} is not a duration; write e.g. 200ms, 30s, 5m, "
            "a range such as 10s-2m, about 30ms, a few seconds, tens of ms, every 8h, 3 a day, "
            "or don't know"
            if "not a duration" in str(exc)
            else str(exc)
        ) from None
    return s
