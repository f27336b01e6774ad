// Python bindings of Inkwell's CPU kernels (built by kernels/cpu_ext.py).
#include <torch/extension.h>

namespace inkwell {
void rms_norm(at::Tensor out, at::Tensor x, at::Tensor weight, double eps);
void add_rms_norm(at::Tensor out, at::Tensor delta, at::Tensor residual, at::Tensor weight, double eps);
void rope_and_store_kv(at::Tensor qkv, at::Tensor positions, at::Tensor cos_sin, at::Tensor k_cache,
                       at::Tensor v_cache, at::Tensor slot_mapping, int64_t num_heads, int64_t num_kv_heads);
void silu_and_mul(at::Tensor out, at::Tensor gate_up);
void paged_decode_attention(at::Tensor out, at::Tensor q, at::Tensor k_cache, at::Tensor v_cache,
                            at::Tensor block_tables, at::Tensor context_lens, double scale, int64_t window);
void add_lora(at::Tensor y, at::Tensor x, at::Tensor lora_a, at::Tensor lora_b, at::Tensor tokens,
              at::Tensor scales, at::Tensor group_starts, at::Tensor group_slots, at::Tensor slot_ranks,
              std::vector<int64_t> slice_offsets);
void argmax_rows(at::Tensor out, at::Tensor logits);
bool has_pair_gemm();
at::Tensor pair_linear(at::Tensor x, at::Tensor wp);
}  // namespace inkwell

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("rms_norm", &inkwell::rms_norm, "out = rms_norm(x) * weight");
  m.def("add_rms_norm", &inkwell::add_rms_norm, "residual += delta; out = rms_norm(residual) * weight");
  m.def("rope_and_store_kv", &inkwell::rope_and_store_kv, "rotate q/k of qkv in place, write k/v to the cache");
  m.def("silu_and_mul", &inkwell::silu_and_mul, "out = silu(gate) * up");
  m.def("paged_decode_attention", &inkwell::paged_decode_attention, "decode attention over the paged KV cache");
  m.def("add_lora", &inkwell::add_lora, "y += every entry's LoRA delta (fused shrink + expand)");
  m.def("has_pair_gemm", &inkwell::has_pair_gemm, "whether pair_linear is built (AVX512-BF16 hosts)");
  m.def("pair_linear", &inkwell::pair_linear, "y = x @ W^T for bf16 decode batches, W packed as [N/16, K/2, 32]");
  m.def("argmax_rows", &inkwell::argmax_rows, "out = the first index of each row's maximum (torch.argmax)");
}
