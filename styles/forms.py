"""Fixed verse forms a request can ask for, and their line counts (a sonnet has 14 lines).

A small model does not count lines, so when a writer asks to *write* one of these forms ("Write a
sonnet about the sea", "compose a haiku on rain") the request gets ``SamplingParams.lines``: the
engine holds the end back until the reply has that many non-empty lines and ends it there. Asking
*about* a form ("what is a sonnet?") or for several ("three haiku") sets nothing.
"""

from __future__ import annotations

import re

FORM_LINES = {"sonnet": 14, "haiku": 3, "limerick": 5, "villanelle": 19, "quatrain": 4, "couplet": 2}

_VERBS = r"write|compose|pen|draft|craft|create|make|give\s+me|turn\s+(?:this|it)\s+into"
_ASK = re.compile(
    rf"\b(?:{_VERBS})\b(?:\s+me)?\s+(?:a|an|one|my)\s+(?:[\w'-]+\s+){{0,3}}?({'|'.join(FORM_LINES)})(?![\w-])",
    re.IGNORECASE)


def form_lines(request: str) -> int:
    """Lines of the verse form ``request`` asks to be written, or 0 when it asks for none."""
    match = _ASK.search(request)
    return FORM_LINES[match.group(1).lower()] if match else 0
