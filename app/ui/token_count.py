"""Counting a text's tokens for the line under the writer's text, with the served model's own tokenizer.

The embedded engine's tokenizer is read from the app's state once the server has started; with
``--engine-url`` (a remote vLLM/SGLang engine) there is no local tokenizer and only words are counted.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI

log = logging.getLogger(__name__)


class TokenCounter:
    """``counter(text)``: the number of tokens of ``text``, or None when no tokenizer is at hand."""

    def __init__(self, app: FastAPI | None = None) -> None:
        self._app = app  # None: words only (a remote engine)

    def __call__(self, text: str) -> int | None:
        tokenizer = self._tokenizer()
        if tokenizer is None or not text:
            return 0 if tokenizer is not None else None
        try:
            return len(tokenizer.encode(text))
        except (ValueError, RuntimeError) as exc:  # never worth failing the writer's event over
            log.warning("token count failed: %s", exc)
            return None

    def _tokenizer(self) -> Any:
        state = getattr(self._app.state, "inkwell", None) if self._app is not None else None
        return getattr(getattr(state, "engine", None), "tokenizer", None)
