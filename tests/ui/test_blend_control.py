"""The "Blend with" control: its components and the ``styles`` list its values become."""

from __future__ import annotations

from dataclasses import replace

import gradio as gr
import pytest
from fakes import STYLES, catalog

from app.ui.blend_control import NO_STYLE, blend_styles, build_blend_control, describe_blend
from app.ui.gallery import Gallery


def test_the_values_become_the_styles_list() -> None:
    assert blend_styles("poetry", 0.7, "legal", 0.3, NO_STYLE, 0.5) == [
        {"name": "poetry", "weight": 0.7}, {"name": "legal", "weight": 0.3}]
    assert blend_styles("poetry", 1.0, "legal", 0.3, "pirate", 1.5) == [
        {"name": "poetry", "weight": 1.0}, {"name": "legal", "weight": 0.3}, {"name": "pirate", "weight": 1.5}]
    assert blend_styles("poetry", 0.7, NO_STYLE, 0.5, None, 0.5) is None  # nothing picked: a plain request
    assert blend_styles("poetry", 0.7, "legal", 0.0, NO_STYLE, 0.5) is None  # weight 0: left out


@pytest.mark.parametrize(("args", "words"), [
    (("poetry", 0.7, "poetry", 0.3), "differ"),
    (("poetry", 0.7, "legal", 0.3, "legal", 0.2), "differ"),
    ((None, 0.7, "legal", 0.3), "Pick a style first"),
    (("poetry", 0.0, "legal", 0.3), "strength above 0"),
    (("poetry", 0.7, "legal"), "pairs"),
])
def test_mistakes_are_value_errors_in_words(args: tuple, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        blend_styles(*args)


def test_describe_blend() -> None:
    assert describe_blend(blend_styles("poetry", 0.7, "legal", 0.3)) == "poetry 0.7 + legal 0.3"
    assert describe_blend(None) == ""


def test_components_offer_every_style_and_hide_without_an_inkwell_engine() -> None:
    with gr.Blocks():
        control = build_blend_control(Gallery(catalog()))
    assert len(control.values) == 4 and control.box.visible
    assert [value for _, value in control.styles[0].choices] == [NO_STYLE, "legal", "pirate", "poetry"]
    assert all(slider.minimum == 0 and slider.maximum == 2 for slider in control.weights)
    remote = catalog([replace(entry, lora_scale_supported=False) for entry in STYLES])
    with gr.Blocks():
        assert not build_blend_control(Gallery(remote)).box.visible
