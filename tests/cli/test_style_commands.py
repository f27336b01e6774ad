"""``inkwell train-style`` / ``eval-styles``: thin cli/ entry points over training/."""

from __future__ import annotations

from pathlib import Path

import pytest

import cli.eval_styles
import cli.train_style
from cli.main import build_parser
from training.train import TrainConfig


def test_train_style_parses_every_config_field_and_calls_training(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(cli.train_style, "train_style", lambda *args: calls.append(args))
    args = build_parser("train-style").parse_args(["train-style", "poetry", "--steps", "7", "--bf16",
                                                   "--threads", "2", "--styles-dir", "/tmp/s"])
    assert cli.train_style.run(args) == 0
    style_id, config, styles_dir, _model = calls[0]
    assert (style_id, styles_dir) == ("poetry", Path("/tmp/s"))
    assert config == TrainConfig(steps=7, bf16=True, threads=2)


def test_eval_styles_refuses_a_style_without_adapter(tmp_path: Path) -> None:
    from tests.app.conftest import write_style

    write_style(tmp_path, "plain", "", {"max_tokens": 4})
    args = build_parser("eval-styles").parse_args(["eval-styles", "--styles-dir", str(tmp_path), "--styles", "plain"])
    with pytest.raises(SystemExit, match="styles without a trained adapter: plain"):
        cli.eval_styles.run(args)
