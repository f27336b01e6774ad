"""A validated adapter's tensors, held as one stack per target module (few large tensors, few ops).

Loading, scaling, validating and casting an adapter touch every layer's A and B; stacked per target
(``q_proj``: ``A [L, r, in]``, ``B [L, out, r]``) each of those is a handful of torch calls for the
whole adapter instead of a handful per layer, which is what kept a 30-layer adapter's load at ~40 ms.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch

# every |value| of an adapter that passed the update-norm check is below sqrt(float32 max) (its B^T B or
# A A^T would be inf otherwise), so casting to a dtype whose max is above that bound cannot overflow
_CAST_SAFE_MAX = torch.finfo(torch.float32).max ** 0.5


class AdapterError(ValueError):
    """An adapter that cannot be served; the message names the adapter, the problem and the fix."""


def fail(name: str, message: str) -> AdapterError:
    """The :class:`AdapterError` for adapter ``name``."""
    return AdapterError(f"adapter {name!r}: {message}")


@dataclass(frozen=True)
class TargetStack:
    """One target module's pairs across the layers that have it: ``a [L, r, in]``, ``b [L, out, r]``."""

    layers: tuple[int, ...]
    a: torch.Tensor
    b: torch.Tensor

    def to(self, dtype: torch.dtype) -> TargetStack:
        """The stack cast to ``dtype``."""
        return TargetStack(self.layers, self.a.to(dtype), self.b.to(dtype))

    def non_finite_layers(self) -> list[int]:
        """The layers whose A or B holds a NaN or an Inf, in order."""
        bad = ~(torch.isfinite(self.a).flatten(1).all(1) & torch.isfinite(self.b).flatten(1).all(1))  # [L]
        return [self.layers[i] for i in bad.nonzero().flatten().tolist()]


@dataclass(frozen=True)
class LoadedAdapter:
    """A validated adapter: ``stacks[target]`` of its pairs, B pre-scaled (``weights`` views them per layer)."""

    name: str
    path: str
    rank: int
    scaling: float
    stacks: dict[str, TargetStack]

    @cached_property
    def weights(self) -> dict[tuple[int, str], tuple[torch.Tensor, torch.Tensor]]:
        """``(A [r, in], B [out, r])`` per ``(layer, target)``: views into the stacks."""
        return {(layer, target): (stack.a[i], stack.b[i]) for target, stack in self.stacks.items()
                for i, layer in enumerate(stack.layers)}

    @property
    def nbytes(self) -> int:
        """Bytes held by the adapter's tensors."""
        return sum(stack.a.nbytes + stack.b.nbytes for stack in self.stacks.values())

    def to(self, dtype: torch.dtype) -> LoadedAdapter:
        """A copy with every tensor cast to ``dtype`` (the serving dtype of the pool); refused if it overflows."""
        stacks = {target: stack.to(dtype) for target, stack in self.stacks.items()}
        if torch.finfo(dtype).max < _CAST_SAFE_MAX:
            for target, stack in stacks.items():
                bad = stack.non_finite_layers()
                if bad:
                    raise fail(self.name, f"layers.{bad[0]}.{target}: the weights overflow {dtype}")
        return LoadedAdapter(self.name, self.path, self.rank, self.scaling, stacks)
