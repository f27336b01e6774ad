// The kernels' entry points (each defined in its own .cpp file): bound to Python in bindings.cpp and
// composed by decode_stack.cpp.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace inkwell {

void rms_norm(at::Tensor out, at::Tensor x, at::Tensor weight, double eps);
void add_rms_norm(at::Tensor out, at::Tensor delta, at::Tensor residual, at::Tensor weight, double eps);
void rope_and_store_kv(at::Tensor qkv, at::Tensor positions, at::Tensor cos_sin, at::Tensor k_cache,
                       at::Tensor v_cache, at::Tensor slot_mapping, int64_t num_heads, int64_t num_kv_heads);
void silu_and_mul(at::Tensor out, at::Tensor gate_up);
void paged_row_attention(at::Tensor out, at::Tensor q, at::Tensor k_cache, at::Tensor v_cache,
                         at::Tensor block_tables, at::Tensor context_lens, double scale, int64_t window);
void add_lora(at::Tensor y, at::Tensor x, at::Tensor lora_a, at::Tensor lora_b, at::Tensor tokens,
              at::Tensor scales, at::Tensor group_starts, at::Tensor group_slots, at::Tensor slot_ranks,
              std::vector<int64_t> slice_offsets);
void argmax_rows(at::Tensor out, at::Tensor logits);
bool has_pair_gemm();
at::Tensor pair_linear(at::Tensor x, at::Tensor wp);
void set_pair_tile(int64_t tile);
bool has_block_gemm();
at::Tensor block_linear(at::Tensor x, at::Tensor wp);
void set_block_tile(int64_t tile);

}  // namespace inkwell
