// A decode step through every decoder layer in one call (decode_stack.cpp): the same kernels in the same
// order as engine/cpu_layers.py's FusedDecoderLayer (each projection on the bf16 pair GEMM, pair_gemm.cpp, the
// fp32 block GEMM, block_gemm.cpp, or oneDNN's packed matmul as engine/packed_linear.py runs it), without a
// Python call between them.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace inkwell {

class DecodeStack {
 public:
  // Per layer, in order: norms [input, post-attention] ([hidden] each); for each of [qkv, o, gate_up, down]
  // its packed weight, and either no plain weight (Inkwell's own layouts: bf16 pairs [N/16, K/2, 32], fp32
  // blocks [N/16, K, 16]) or its plain [out, in] weight (a oneDNN-packed one, taken from min_packed_rows rows
  // up; below, the plain weight), and its bias or none; caches [k [blocks, KVH, D, bs], v [blocks, KVH, bs,
  // D]]; cos_sin [positions, D] fp32.
  DecodeStack(std::vector<at::Tensor> norms, std::vector<at::Tensor> packed,
              std::vector<std::optional<at::Tensor>> plain, std::vector<std::optional<at::Tensor>> biases,
              std::vector<at::Tensor> caches, at::Tensor cos_sin, int64_t num_heads, int64_t num_kv_heads,
              double eps, double scale, int64_t window, int64_t min_packed_rows);

  // The LoRA stacks of every layer's four projections, in the order of the weights (a [S, n*R, in],
  // b [S, N, R] with [S, R, N] storage), and each projection's slice offsets (the same in every layer).
  void set_lora(std::vector<at::Tensor> lora_a, std::vector<at::Tensor> lora_b,
                std::vector<std::vector<int64_t>> slice_offsets);

  // x [T, hidden] (the residual stream, updated in place) for T decode rows at positions [T] writing
  // cache slots [T], reading block tables [T, N] up to context lengths [T]. lora: empty (no adapter
  // this step) or the step's slot groups (tokens, scales, starts, slots, slot ranks), as add_lora takes.
  void run(at::Tensor x, at::Tensor positions, at::Tensor slot_mapping, at::Tensor block_tables,
           at::Tensor context_lens, std::vector<at::Tensor> lora) const;

 private:
  at::Tensor linear(const at::Tensor& in, size_t index) const;
  at::Tensor project(const at::Tensor& in, size_t index, const std::vector<at::Tensor>& lora) const;

  std::vector<at::Tensor> norms_, packed_, caches_, lora_a_, lora_b_;
  std::vector<std::optional<at::Tensor>> plain_, biases_;
  std::vector<std::vector<int64_t>> offsets_;
  at::Tensor cos_sin_;
  int64_t heads_, kv_heads_, dim_, window_, min_packed_rows_;
  double eps_, scale_;
};

}  // namespace inkwell
