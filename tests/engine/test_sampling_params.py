"""SamplingParams refuses values that would overflow the sampler (or torch) with a ValueError naming the field."""

from __future__ import annotations

import math

import pytest

from engine.sampling_params import SamplingParams

REFUSED = [
    ("temperature", 1e-38, "temperature must be 0 (greedy) or in [0.01, 2]"),
    ("temperature", 0.005, "temperature must be 0 (greedy) or in [0.01, 2]"),
    ("temperature", 2.5, "temperature must be 0 (greedy) or in [0.01, 2]"),
    ("temperature", math.inf, "temperature must be a finite number"),
    ("temperature", math.nan, "temperature must be a finite number"),
    ("temperature", "hot", "temperature must be a number"),
    ("temperature", True, "temperature must be a number"),
    ("repetition_penalty", 1e-38, "repetition_penalty must be in [0.01, 10]"),
    ("repetition_penalty", 0.0, "repetition_penalty must be in [0.01, 10]"),
    ("repetition_penalty", math.inf, "repetition_penalty must be a finite number"),
    ("presence_penalty", math.nan, "presence_penalty must be a finite number"),
    ("frequency_penalty", -math.inf, "frequency_penalty must be a finite number"),
    ("top_p", math.nan, "top_p must be a finite number"),
    ("min_p", math.inf, "min_p must be a finite number"),
    ("seed", 2**64, "seed must be a 64-bit signed integer"),
    ("seed", -(2**63) - 1, "seed must be a 64-bit signed integer"),
    ("seed", 1.5, "seed must be an integer"),
    ("max_tokens", 2.0, "max_tokens must be an integer"),
    ("n", True, "n must be an integer"),
    ("top_k", 0, "top_k must be -1 (disabled) or >= 1"),
]


@pytest.mark.parametrize(("field", "value", "message"), REFUSED)
def test_refused_values_name_the_field_and_the_rule(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        SamplingParams(**{field: value})
    assert str(refused.value).startswith(message), refused.value


@pytest.mark.parametrize(("field", "value"), [
    ("temperature", 0.0), ("temperature", 0.01), ("temperature", 2.0), ("temperature", 1),
    ("repetition_penalty", 0.01), ("repetition_penalty", 10.0), ("seed", 2**63 - 1), ("seed", -(2**63)),
    ("seed", None), ("logprobs", None), ("logprobs", 20), ("top_k", -1),
])
def test_edges_of_the_ranges_are_accepted(field: str, value: object) -> None:
    assert getattr(SamplingParams(**{field: value}), field) == value
