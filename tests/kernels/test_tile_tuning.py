"""kernels.tile_tuning: the tile choice on a stand-in kernel whose tiles take known times on a fake clock."""

from __future__ import annotations

import types

import pytest
import torch

from kernels import tile_tuning
from kernels.tile_tuning import TUNE_MARGIN, TUNE_ROWS, TiledKernel, first_bytes, tune


class StandIn:
    """A kernel whose linear advances a fake clock by ``delays[tile]`` a call and records (tile, shape, dtype)."""

    def __init__(self, delays: dict[str, float], monkeypatch: pytest.MonkeyPatch) -> None:
        self.delays, self.tile, self.now, self.seen = delays, "a", 0.0, []
        monkeypatch.setattr(tile_tuning, "time", types.SimpleNamespace(perf_counter=lambda: self.now))
        self.kernel = TiledKernel(("a", "b"), self.select, self.linear, torch.bfloat16, lambda packed: packed.shape[1])

    def select(self, tile: str) -> None:
        self.tile = tile

    def linear(self, x: torch.Tensor, packed: torch.Tensor) -> torch.Tensor:
        self.seen.append((self.tile, tuple(x.shape), x.dtype))
        self.now += self.delays[self.tile]
        return x


@pytest.mark.parametrize(("delays", "expected"), [({"a": 4.0, "b": 1.0}, "b"), ({"a": 1.0, "b": 4.0}, "a")])
def test_the_faster_tile_is_chosen_and_left_selected(delays: dict[str, float], expected: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    stand_in = StandIn(delays, monkeypatch)
    state = torch.get_rng_state()
    chosen, best = tune(stand_in.kernel, [torch.empty(8, 24), torch.empty(8, 40)])
    assert chosen == expected and stand_in.tile == expected  # chosen, and left selected
    assert best == {tile: 2 * delay for tile, delay in delays.items()}  # two weights a pass
    assert {(shape, dtype) for _, shape, dtype in stand_in.seen} == {((TUNE_ROWS, 24), torch.bfloat16),
                                                                      ((TUNE_ROWS, 40), torch.bfloat16)}
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is left as it was


@pytest.mark.parametrize(("gain", "expected"), [(TUNE_MARGIN / 2, "a"), (TUNE_MARGIN * 2, "b")])
def test_the_other_tile_must_win_by_the_margin(gain: float, expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    stand_in = StandIn({"a": 1.0, "b": 1.0 - gain}, monkeypatch)
    assert tune(stand_in.kernel, [torch.empty(8, 24)])[0] == expected


def test_tune_times_a_bounded_prefix_of_the_weights() -> None:
    weights = [torch.empty(64, 16, dtype=torch.bfloat16) for _ in range(5)]  # 2 KiB each
    assert len(first_bytes(weights, 4096)) == 2
    assert len(first_bytes(weights, 4097)) == 3
    assert len(first_bytes(weights, 1 << 20)) == 5
