"""The registry over the shipped styles and over folders holding broken manifests."""

from __future__ import annotations

from pathlib import Path

import pytest

from styles.registry import STYLES_DIR, load_styles

REQUIRED = {"poetry", "legal", "genz", "code"}
MAX_ADAPTER_BYTES = 60 * 1024 * 1024


def test_shipped_styles_all_load() -> None:
    registry = load_styles()
    assert registry.errors == {}
    assert len(registry.styles) >= 11 and REQUIRED <= registry.styles.keys()
    for style in registry.styles.values():
        assert len(style.examples) == 3 and style.system_prompt and style.data_provenance and style.license


def test_shipped_styles_have_trained_adapters_on_the_embedded_base() -> None:
    for style in load_styles().styles.values():
        assert style.adapter_path is not None, f"{style.id} has no adapter"
        assert (style.adapter_path / "adapter_model.safetensors").is_file()
        assert len(style.base_model_sha256) == 64 and style.base_model == "smollm2-135m"
        assert 1 <= style.rank <= 16


def test_adapters_fit_the_size_budget() -> None:
    sizes = [p.stat().st_size for p in STYLES_DIR.glob("*/adapter/*.safetensors")]
    assert sizes and all(0 < size <= MAX_ADAPTER_BYTES for size in sizes)  # each adapter <= 60 MB


def test_broken_manifest_does_not_stop_the_others(tmp_path: Path) -> None:
    good = (STYLES_DIR / "poetry" / "style.toml").read_text().replace('adapter = "adapter"', 'adapter = ""')
    for name in ("alpha", "beta"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "style.toml").write_text(good.replace('id = "poetry"', f'id = "{name}"'))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "style.toml").write_text(good.replace("rank = 8", 'rank = "high"'))
    (tmp_path / "misnamed").mkdir()
    (tmp_path / "misnamed" / "style.toml").write_text(good)
    registry = load_styles(tmp_path)
    assert sorted(registry.styles) == ["alpha", "beta"]
    assert "field 'rank' must be int" in registry.errors[str(tmp_path / "broken" / "style.toml")]
    assert "differs from its folder name" in registry.errors[str(tmp_path / "misnamed" / "style.toml")]


def test_get_unknown_style_names_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="known styles: none"):
        load_styles(tmp_path).get("poetry")
    with pytest.raises(KeyError, match="genz"):
        load_styles().get("klingon")


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_styles(tmp_path / "nowhere")
