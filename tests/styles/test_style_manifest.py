"""Manifest parsing and validation: every broken field gets a message naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from styles.manifest import ManifestError, load_manifest, set_fields, set_strength

GOOD = """id = "demo"
display_name = "Demo"
description = "A demo style."
system_prompt = "You are a demo."
examples = ["one", "two", "three"]
version = "1.0.0"
base_model = "smollm2-135m"
base_model_sha256 = ""
adapter = ""
rank = 8
data_provenance = "made up"
license = "MIT"

[defaults]
temperature = 0.7
max_tokens = 64
"""


def write(tmp_path: Path, text: str, folder: str = "demo") -> Path:
    path = tmp_path / folder / "style.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_good_manifest_parses(tmp_path: Path) -> None:
    style = load_manifest(write(tmp_path, GOOD))
    assert style.id == "demo" and style.examples == ("one", "two", "three")
    assert style.adapter_path is None and style.rank == 8
    params = style.sampling_params(top_p=0.5)
    assert (params.temperature, params.max_tokens, params.top_p) == (0.7, 64, 0.5)


def test_adapter_folder_resolves_relative_to_manifest(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('adapter = ""', 'adapter = "adapter"'))
    (path.parent / "adapter").mkdir()
    (path.parent / "adapter" / "adapter_config.json").write_text("{}")
    assert load_manifest(path).adapter_path == (path.parent / "adapter").resolve()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('license = "MIT"\n', "", "missing field 'license'"),
        ("rank = 8", 'rank = "8"', "field 'rank' must be int, got str"),
        ("rank = 8", "rank = true", "field 'rank' must be int, got bool"),
        ('examples = ["one", "two", "three"]', 'examples = ["one"]', "exactly 3"),
        ("max_tokens = 64", "max_tokens = 64\nwarmth = 3", "unknown sampling key(s) in [defaults]: warmth"),
        ("temperature = 0.7", "temperature = -1.0", "temperature must be 0 (greedy) or in [0.01, 2]"),
        ('adapter = ""', 'adapter = "adapter"', "adapter folder"),
        ('id = "demo"', 'id = "Demo Style"', "must be lowercase"),
        ('version = "1.0.0"', 'version = "1.0.0"\ncolour = "red"', "unknown field(s) colour"),
        ("rank = 8", "rank = 0", "rank must be in [1, 64]"),
        ('id = "demo"', 'id = "demo', "cannot read TOML"),
        ("max_tokens = 64", "max_tokens = 64\nlora_scale = 2.5", "lora_scale must be a number in [0, 2], got 2.5"),
        ("max_tokens = 64", 'max_tokens = 64\nlora_scale = "high"', "lora_scale must be a number in [0, 2]"),
        ("max_tokens = 64", "max_tokens = 64\nlora_scale = true", "lora_scale must be a number in [0, 2]"),
    ],
)
def test_bad_manifest_names_the_problem(tmp_path: Path, old: str, new: str, message: str) -> None:
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_set_fields_rewrites_only_the_named_lines(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    set_fields(path, {"base_model_sha256": "ab" * 32, "rank": 16, "description": 'says "hi"'})
    style = load_manifest(path)
    assert (style.base_model_sha256, style.rank, style.description) == ("ab" * 32, 16, 'says "hi"')
    assert style.defaults == {"temperature": 0.7, "max_tokens": 64}
    with pytest.raises(ValueError, match="examples"):
        set_fields(path, {"examples": "x"})


def test_default_strength_is_one_unless_the_defaults_name_it(tmp_path: Path) -> None:
    assert load_manifest(write(tmp_path, GOOD)).strength == 1.0
    style = load_manifest(write(tmp_path, GOOD.replace("max_tokens = 64", "max_tokens = 64\nlora_scale = 1.3")))
    assert style.strength == 1.3 and style.defaults["lora_scale"] == 1.3
    assert style.sampling_params().max_tokens == 64  # the strength is not a sampling parameter


def test_set_strength_adds_then_replaces_the_line_in_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    set_strength(path, 1.15)
    assert load_manifest(path).defaults == {"lora_scale": 1.15, "temperature": 0.7, "max_tokens": 64}
    set_strength(path, 1)
    assert load_manifest(path).strength == 1.0 and path.read_text().count("lora_scale") == 1
    path.write_text(GOOD.split("[defaults]")[0])
    with pytest.raises(ManifestError, match="no \\[defaults\\] table"):
        set_strength(path, 1.2)
