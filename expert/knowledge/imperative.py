"""A pattern's clearing condition ("{retrier.name} stopped retrying ...", "the deadline of
{killer.name} was set above ...") as an instruction a reader can carry out ("Make Client SDK
retries stop retrying ...", "Set the deadline of Gateway timeout above ...").

The knowledge base states what would be true once a finding is cleared, in the past tense,
because explanations read "would clear if ...". Reports that recommend changes need the same
text as a command. The conversion works on the pattern's template, where user-typed names are
still `{placeholders}`, so a loop called "was set" cannot confuse it; the rendered text is then
split at the same place. Two shapes cover the knowledge base:

- passive, "<thing> was|were <done> <rest>": "<Do> <thing> <rest>";
- active, "<thing> <did> <rest>": "Make <thing> <do> <rest>", or "Add <a thing> that <does>
  <rest>" when the thing is introduced with "a" or "an".

Anything else (a bare noun phrase, a present-tense statement) gets a plain lead-in.
"""

from __future__ import annotations

import re

# Irregular past forms the knowledge base uses, and what they come from.
_IRREGULAR = {
    "held": "hold",
    "took": "take",
    "got": "get",
    "ran": "run",
    "kept": "keep",
    "had": "have",
    "read": "read",
    "wrote": "write",
    "written": "write",
    "made": "make",
    "set": "set",
    "given": "give",
    "gave": "give",
    "told": "tell",
    "found": "find",
    "fed": "feed",
    "shed": "shed",
    "put": "put",
    "cut": "cut",
    "sent": "send",
    "built": "build",
    "left": "leave",
    "chose": "choose",
    "chosen": "choose",
    "drove": "drive",
    "driven": "drive",
    "paid": "pay",
    "split": "split",
    "broken": "break",
    "brought": "bring",
    "tied": "tie",
}
# Regular verbs whose base ends in a silent e that the -ed form dropped.
_E_BASES = {
    "ignor",
    "scal",
    "shar",
    "us",
    "receiv",
    "handl",
    "chang",
    "nam",
    "serv",
    "sav",
    "clos",
    "bas",
    "caus",
    "decid",
    "remov",
    "measur",
    "exclud",
    "reduc",
    "pac",
    "stat",
    "requir",
    "configur",
    "enabl",
    "disabl",
    "provid",
    "reserv",
    "tim",
    "complet",
    "queu",
    "paus",
    "ensur",
    "siz",
    "schedul",
    "continu",
    "retir",
    "releas",
    "improv",
    "increas",
    "decreas",
    "reconcil",
    "compar",
    "prob",
    "cach",
}
# British spellings that double a final l (controlled, cancelled); others keep it (polled).
_DOUBLED_L = {"controll", "cancell", "labell", "modell", "signall", "levell", "channell"}
# Endings after which the -ed form dropped an e (correlated, randomised, reduced, ...).
_E_ENDINGS = (
    "is",
    "iz",
    "uc",
    "ud",
    "ov",
    "ag",
    "dg",
    "rv",
    "lv",
    "tl",
    "bl",
    "pl",
    "dl",
    "gl",
    "kl",
)
# Words that start a noun phrase which is a recommendation on its own ("fewer priority levels").
_NOUN_LEADS = ("fewer", "more", "less", "one", "only")
_PARTICLES = ("back", "off", "out", "up", "down", "over", "in")
_PLACEHOLDER = re.compile(r"\{[^{}]+\}")
_TOKEN = re.compile(r"\{[^{}]+\}|[^\s]+")


def base_form(word: str) -> str | None:
    """The base form of a past tense or past participle, or None if `word` is not one."""
    w = word.lower()
    prefix = ""
    if "-" in w:  # rate-limited: only the last part is a verb form
        head, _, w = w.rpartition("-")
        prefix = head + "-"
    if w in _IRREGULAR:
        return prefix + _IRREGULAR[w]
    if len(w) < 4 or not w.endswith("ed") or w.endswith("eed"):
        return None
    stem = w[:-2]
    if stem.endswith("i"):
        return prefix + stem[:-1] + "y"
    if stem in _DOUBLED_L:
        return prefix + stem[:-1]
    if len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in "lsz":
        return prefix + stem[:-1]  # capped, stopped, dropped (but added: add)
    if stem in _E_BASES or stem.endswith(_E_ENDINGS):
        return prefix + stem + "e"
    if stem.endswith("at") and stem[-3:-2] not in "aeiou":  # correlated, not treated
        return prefix + stem + "e"
    return prefix + stem


def third_person(base: str) -> str:
    """hold -> holds, cap -> caps, batch -> batches, retry -> retries."""
    if base == "have":
        return "has"
    if base.endswith(("s", "sh", "ch", "x", "z", "o")):
        return base + "es"
    if base.endswith("y") and base[-2:-1] not in "aeiou":
        return base[:-1] + "ies"
    return base + "s"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _split(template: str, rendered: str, start: int, end: int) -> tuple[str, str, str] | None:
    """`rendered` split where `template` is split at [start:end): the part before, the part
    itself and the rest, each rendered. None if the template does not describe the text."""
    pieces = []
    for part in (template[:start], template[start:end], template[end:]):
        regex, at = "", 0
        for m in _PLACEHOLDER.finditer(part):
            regex += re.escape(part[at : m.start()]) + "(?:.*?)"
            at = m.end()
        pieces.append(regex + re.escape(part[at:]))
    whole = re.fullmatch(f"({pieces[0]})({pieces[1]})({pieces[2]})", rendered, re.DOTALL)
    return (whole.group(1), whole.group(2), whole.group(3)) if whole else None


def _tokens(template: str) -> list[re.Match[str]]:
    return list(_TOKEN.finditer(template))


# A passive clause joined to the first: "..., or the conflicts were removed", "(or was told
# of planned restarts)". Its subject is short and holds no clause break.
_JOINED_PASSIVE = re.compile(r"\b(and|or) (?:([^,;()]{1,80}?) )?(?:was|were) ([a-z-]+)\b")


def _coordinated(rest: str) -> str:
    """The clauses joined to the first, as commands too: "... and revisited when ..." becomes
    "and revisit when ...", "and attempts were logged" becomes "and log attempts", "(or was
    told ...)" becomes "(or be told ...)", "(or had ...)" becomes "(or have ...)"."""

    def passive(m: re.Match[str]) -> str:
        base = base_form(m.group(3))
        if base is None:
            return m.group(0)  # "were exempt": an adjective
        if not m.group(2):
            return f"{m.group(1)} be {m.group(3)}"
        return f"{m.group(1)} {base} {m.group(2)}"

    rest = _JOINED_PASSIVE.sub(passive, rest)
    rest = re.sub(r"\b(and|or) had\b", r"\1 have", rest)
    for m in re.finditer(r"\b(and|or) ([a-z-]+)\b", rest):
        before = rest[: m.start()]
        if before.count("(") > before.count(")"):
            continue  # inside an aside: "(admitted plus rejected or queued upstream)"
        base = base_form(m.group(2))
        if base is None:
            continue  # "and the ...", "or 503": not a verb
        return rest[: m.start(2)] + base + rest[m.end(2) :]
    return rest


_DETERMINERS = ("a", "an", "the", "one", "each", "every", "its", "their")
_MODIFIER_NEXT = ("to", "for", "by", "from")


def _active_at(words: list[str]) -> int | None:
    """Where the main verb of an active clause is: the first past-tense word that is not a
    modifier ("a probe sized to", "tokens generated for", "a shared budget")."""
    for i, w in enumerate(words):
        if i == 0 or _PLACEHOLDER.fullmatch(w):
            continue
        if w in ("is", "are", "do", "does", "was", "were"):
            return None  # present tense, or a passive clause comes first
        if w == "did" and i + 1 < len(words) and words[i + 1] == "not":
            return i
        if base_form(w.rstrip(",;:")) is None:
            continue
        after_name = bool(_PLACEHOLDER.fullmatch(words[i - 1]))
        if words[i - 1].lower() in _DETERMINERS:
            continue
        if any(x in ("how", "that", "which", "what") for x in words[:i]):
            return None  # the word is in a subordinate clause
        following = words[i + 1] if i + 1 < len(words) else ""
        if not after_name and w.endswith("ed") and following in _MODIFIER_NEXT:
            continue
        return i
    return None


def instruction(template: str, rendered: str) -> str:
    """The clearing condition `rendered` (from `template`) as an imperative sentence, without
    a final full stop."""
    toks = _tokens(template)
    words = [t.group(0) for t in toks]
    passive = next(
        (i for i, w in enumerate(words) if w in ("was", "were") and 0 < i < len(words) - 1),
        None,
    )
    active = _active_at(words)
    if passive is not None and active is not None and active < passive:
        # The passive verb belongs to a later clause only if something separates them
        # ("X admitted ..., or the budget was raised"); else the earlier word was a
        # modifier ("members of synchronised jobs were exempt").
        between = template[toks[active].end() : toks[passive].start()]
        if not re.search(r"[,(]| until | when ", between):
            active = None
    if passive is not None and (active is None or passive < active):
        out = _passive(template, rendered, toks, words, passive)
        if out is not None:
            return out
    elif active is not None:
        out = _active(template, rendered, toks, words, active)
        if out is not None:
            return out
    if words and words[0].lower() in _NOUN_LEADS:
        return "Use " + rendered
    return "Make sure that " + rendered


def _passive(
    template: str, rendered: str, toks: list[re.Match[str]], words: list[str], i: int
) -> str | None:
    """'<thing> was <done> <rest>' as '<Do> <thing> <rest>'."""
    done = words[i + 1].rstrip(",;:")
    base = base_form(done)
    parts = _split(template, rendered, toks[i].start(), toks[i + 1].start() + len(done))
    if parts is None:
        return None
    subject, rest = parts[0].rstrip(), parts[2]
    if base is None:  # "were exempt from": an adjective
        return "Make " + subject + " " + done + _coordinated(rest)
    # A second participle joined to the first ("rate-limited or batched").
    m = re.match(r" or ([a-z-]+ed)\b", rest)
    if m and (second := base_form(m.group(1))) is not None:
        base, rest = f"{base} or {second}", rest[m.end() :]
    particle = ""
    m = re.match(r" (" + "|".join(_PARTICLES) + r")\b", rest)
    if m:
        particle, rest = " " + m.group(1), rest[m.end() :]
    return _capital(base) + " " + subject + particle + _coordinated(rest)


def _active(
    template: str, rendered: str, toks: list[re.Match[str]], words: list[str], i: int
) -> str | None:
    """'<thing> <did> <rest>' as 'Make <thing> <do> <rest>' (or 'Add a <thing> that ...')."""
    if words[i] == "did":
        parts = _split(template, rendered, toks[i].start(), toks[i + 1].end())
        if parts is None:
            return None
        return "Make sure " + parts[0].rstrip() + " does not" + _coordinated(parts[2])
    w = words[i].rstrip(",;:")
    base = base_form(w)
    parts = _split(template, rendered, toks[i].start(), toks[i].start() + len(w))
    if parts is None or base is None:
        return None
    subject, rest = parts[0].rstrip(), _coordinated(parts[2])
    if subject.lower().startswith(("a ", "an ")):
        return "Add " + subject + " that " + third_person(base) + rest
    return "Make " + subject + " " + base + rest
