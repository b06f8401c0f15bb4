"""What every knowledge-base model shares: strict parsing (unknown keys are errors) and the
`Source` a claim cites, restricted to web addresses because reports show it as a link."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


class KBModel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


_WEB_URL = re.compile(r"https?://[^/?#\s]+[^\s]*", re.ASCII)
# Characters no web address needs and that mean something to a terminal, a browser or a
# shell: controls, DEL, the C1 range, bidi controls and the quote/angle characters.
_URL_UNSAFE = re.compile("[\x00-\x20\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\"'<>`\\\\]")


def _web_url(value: str) -> str:
    """Sources are shown as links (SARIF helpUri, HTML, JSON): only http(s) addresses, so a
    pack cannot slip a `javascript:` or `file:` link into a report."""
    if not _WEB_URL.fullmatch(value) or _URL_UNSAFE.search(value):
        raise ValueError(
            f"{value!r} is not a web address: give the full http:// or https:// address, "
            "without spaces, quotes or control characters"
        )
    return value


class Source(KBModel):
    title: str
    url: Annotated[str, AfterValidator(_web_url)] = Field(
        description="the full http:// or https:// address"
    )
