"""Allocate the paged KV cache from a byte budget and bind each layer's slice to its attention."""

from __future__ import annotations

import torch

from engine.huge_pages import huge_zeros
from engine.model import ModelArgs, Transformer


def bytes_per_block(args: ModelArgs, block_size: int, dtype: torch.dtype) -> int:
    """Bytes one block costs across all layers (keys and values)."""
    elem = torch.empty((), dtype=dtype).element_size()
    return 2 * args.num_layers * block_size * args.num_kv_heads * args.head_dim * elem


def num_blocks_for(args: ModelArgs, block_size: int, dtype: torch.dtype, budget: int, max_model_len: int) -> int:
    """How many blocks fit in ``budget`` bytes; raises ``ValueError`` if one full sequence does not fit."""
    per_block = bytes_per_block(args, block_size, dtype)
    blocks = budget // per_block
    needed = -(-max_model_len // block_size)
    if blocks < needed:
        raise ValueError(
            f"kv_cache_memory={budget} bytes holds {blocks} blocks of {block_size} tokens "
            f"({per_block} bytes each), but max_model_len={max_model_len} needs {needed}: "
            f"raise kv_cache_memory to >= {needed * per_block} or lower max_model_len"
        )
    return blocks


def allocate_kv_cache(model: Transformer, num_blocks: int, block_size: int) -> torch.Tensor:
    """One tensor ``[layers, 2, num_blocks, KVH, block_size, D]`` holding every layer's keys and values.

    Layer i's values are the view ``[i, 1]``, ``[num_blocks, KVH, block_size, D]``; its keys the same memory
    of ``[i, 0]`` seen as ``[num_blocks, KVH, D, block_size]``: transposed inside a block, so decode
    attention computes a whole block's scores with vector operations across its keys.
    """
    args = model.args
    weight = model.embed_tokens.weight
    shape = (args.num_layers, 2, num_blocks, args.num_kv_heads, block_size, args.head_dim)
    if weight.device.type == "cpu":
        cache = huge_zeros(shape, weight.dtype)  # read from memory every step: on huge pages
    else:
        cache = torch.zeros(shape, dtype=weight.dtype, device=weight.device)
    for i, layer in enumerate(model.layers):
        layer.self_attn.k_cache = cache[i, 0].view(num_blocks, args.num_kv_heads, args.head_dim, block_size)
        layer.self_attn.v_cache = cache[i, 1]
    return cache


def scrub_blocks(cache: torch.Tensor, block_ids: list[int]) -> None:
    """Replace NaN/Inf in the listed blocks of ``cache`` by 0; finite values stay as they are.

    Masked-out slots still enter attention as ``0 * value``: a NaN left in a freed block would turn
    its next owner (or every row padded with block 0) into NaN. Called when a request fails.
    """
    if block_ids:
        index = torch.tensor(block_ids, device=cache.device)
        cache.index_copy_(2, index, cache.index_select(2, index).nan_to_num_(0.0, 0.0, 0.0))
