"""engine.huge_pages: zero-filled, huge-page-aligned CPU tensors and the weight arena."""

from __future__ import annotations

import gc

import pytest
import torch

from engine import huge_pages
from engine.huge_pages import ALIGN, HUGE_PAGE, arena, huge_zeros


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_a_big_array_is_zeros_on_a_huge_page_boundary_and_advised(dtype: torch.dtype,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    advised = []
    monkeypatch.setattr(huge_pages, "_advise", lambda region, start, length: advised.append((start, length)))
    shape = (3, HUGE_PAGE // 1000, 1000)  # 3-6 huge pages' worth of bytes, not a whole number of them
    t = huge_zeros(shape, dtype)
    assert t.shape == shape and t.dtype == dtype and t.is_contiguous()
    assert t.data_ptr() % HUGE_PAGE == 0 and torch.count_nonzero(t) == 0
    assert advised == [(advised[0][0], t.numel() * t.element_size())]


def test_the_memory_outlives_the_mapping_object() -> None:
    """The tensor holds the mmap: dropping every other reference and collecting leaves it usable."""
    t = huge_zeros((HUGE_PAGE // 4 + 5,), torch.float32)
    gc.collect()
    t.fill_(2.5)
    assert float(t.sum()) == 2.5 * t.numel()


def test_a_small_array_is_plain_zeros(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(huge_pages, "_advise", lambda *args: pytest.fail("no huge page for a small array"))
    t = huge_zeros((4, 8), torch.float32)
    assert t.shape == (4, 8) and torch.count_nonzero(t) == 0


def test_the_arena_holds_equal_copies_each_on_a_cache_line() -> None:
    torch.manual_seed(0)
    tensors = [torch.randn(*shape) for shape in [(3, 5), (HUGE_PAGE // 16, 4), (7,), (2, 3, 4)]]
    copies = arena(tensors)
    assert len(copies) == len(tensors)
    for original, copy in zip(tensors, copies):
        assert torch.equal(original, copy) and copy.data_ptr() % ALIGN == 0
    assert copies[1].untyped_storage().data_ptr() == copies[0].untyped_storage().data_ptr()  # one array
    assert arena([]) == []


def test_the_arena_takes_one_dtype() -> None:
    with pytest.raises(ValueError, match="one dtype"):
        arena([torch.zeros(4), torch.zeros(4, dtype=torch.bfloat16)])
