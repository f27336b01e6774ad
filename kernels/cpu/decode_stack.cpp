// DecodeStack: one decode step through every decoder layer (see decode_stack.h). Each layer is
//   h = rms_norm(x);  qkv = h W_qkv (+ LoRA);  rotate q/k, store k/v;  a = attention(q, cache)
//   x += a W_o (+ LoRA);  h = rms_norm(x);  x += (silu(gate) * up)(h W_gate_up (+ LoRA)) W_down (+ LoRA)
// with the kernels of the other files, called in the order the Python layer calls them (so the
// result is bit-identical); only the Python between them is gone (~60 us a layer).
#include "decode_stack.h"

#include <ATen/core/dispatch/Dispatcher.h>

#include <string>

#include "common.h"
#include "ops.h"

namespace inkwell {

namespace {
constexpr size_t kProjections = 4;  // qkv, o, gate_up, down

// oneDNN's matmul on a weight it packed (torch.ops.mkldnn._linear_pointwise, no fused activation).
at::Tensor onednn_linear(const at::Tensor& x, const at::Tensor& packed, const std::optional<at::Tensor>& bias) {
  static const c10::OperatorHandle op =
      c10::Dispatcher::singleton().findSchemaOrThrow("mkldnn::_linear_pointwise", "");
  torch::jit::Stack stack{x, packed, bias, std::string("none"), c10::List<std::optional<at::Scalar>>(),
                          std::optional<std::string>("")};
  op.callBoxed(&stack);
  return stack[0].toTensor();
}
}  // namespace

DecodeStack::DecodeStack(std::vector<at::Tensor> norms, std::vector<at::Tensor> packed,
                         std::vector<std::optional<at::Tensor>> plain, std::vector<std::optional<at::Tensor>> biases,
                         std::vector<at::Tensor> caches, at::Tensor cos_sin, int64_t num_heads, int64_t num_kv_heads,
                         double eps, double scale, int64_t window, int64_t min_packed_rows)
    : norms_(std::move(norms)), packed_(std::move(packed)), caches_(std::move(caches)), plain_(std::move(plain)),
      biases_(std::move(biases)), cos_sin_(std::move(cos_sin)), heads_(num_heads), kv_heads_(num_kv_heads),
      dim_(cos_sin_.size(1)), window_(window), min_packed_rows_(min_packed_rows), eps_(eps), scale_(scale) {
  const size_t layers = norms_.size() / 2, projections = kProjections * layers;
  INKWELL_CHECK(norms_.size() == 2 * layers && packed_.size() == projections && plain_.size() == projections &&
                    biases_.size() == projections && caches_.size() == 2 * layers,
                "DecodeStack: per layer 2 norms, 4 projections (packed, plain, bias) and 2 caches");
  for (size_t i = 0; i < projections; ++i)
    INKWELL_CHECK(plain_[i] || !biases_[i], "DecodeStack: the pair and block layouts take no bias");
}

void DecodeStack::set_lora(std::vector<at::Tensor> lora_a, std::vector<at::Tensor> lora_b,
                           std::vector<std::vector<int64_t>> slice_offsets) {
  INKWELL_CHECK(lora_a.size() == packed_.size() && lora_b.size() == packed_.size() &&
                    slice_offsets.size() == kProjections, "DecodeStack: one LoRA stack pair per projection");
  lora_a_ = std::move(lora_a);
  lora_b_ = std::move(lora_b);
  offsets_ = std::move(slice_offsets);
}

// in [T, K] -> [T, N] as engine/packed_linear.py's PackedLinear computes it.
at::Tensor DecodeStack::linear(const at::Tensor& in, size_t index) const {
  if (!plain_[index])  // Inkwell's own layouts: pair (bf16), block (fp32)
    return in.scalar_type() == at::kBFloat16 ? pair_linear(in, packed_[index]) : block_linear(in, packed_[index]);
  if (in.size(0) < min_packed_rows_) return at::linear(in, *plain_[index], biases_[index]);
  return onednn_linear(in, packed_[index], biases_[index]);
}

// in [T, K] -> [T, N]: the base projection, then the step's adapters (when there are any and the stack has LoRA).
at::Tensor DecodeStack::project(const at::Tensor& in, size_t index, const std::vector<at::Tensor>& lora) const {
  at::Tensor y = linear(in, index);
  if (!lora.empty() && !lora_a_.empty())
    add_lora(y, in, lora_a_[index], lora_b_[index], lora[0], lora[1], lora[2], lora[3], lora[4],
             offsets_[index % kProjections]);
  return y;
}

void DecodeStack::run(at::Tensor x, at::Tensor positions, at::Tensor slot_mapping, at::Tensor block_tables,
                      at::Tensor context_lens, std::vector<at::Tensor> lora) const {
  check_cpu_contiguous(x, "x");
  INKWELL_CHECK(lora.empty() || lora.size() == 5, "DecodeStack: lora is empty or the 5 slot-group tensors");
  const int64_t rows = x.size(0);
  at::Tensor h = at::empty_like(x);  // [T, hidden]
  for (size_t layer = 0; layer < norms_.size() / 2; ++layer) {
    const size_t w = kProjections * layer;
    const at::Tensor &k_cache = caches_[2 * layer], &v_cache = caches_[2 * layer + 1];
    rms_norm(h, x, norms_[2 * layer], eps_);
    at::Tensor qkv = project(h, w, lora);  // [T, (H + 2 KVH) D]
    rope_and_store_kv(qkv, positions, cos_sin_, k_cache, v_cache, slot_mapping, heads_, kv_heads_);
    const at::Tensor q = qkv.view({rows, -1, dim_}).narrow(1, 0, heads_);  // [T, H, D], rotated
    at::Tensor attn = at::empty({rows, heads_, dim_}, x.options());
    paged_row_attention(attn, q, k_cache, v_cache, block_tables, context_lens, scale_, window_);
    add_rms_norm(h, project(attn.view({rows, heads_ * dim_}), w + 1, lora), x, norms_[2 * layer + 1], eps_);
    at::Tensor gate_up = project(h, w + 2, lora);  // [T, 2 I]
    at::Tensor act = at::empty({rows, gate_up.size(1) / 2}, x.options());
    silu_and_mul(act, gate_up);
    x.add_(project(act, w + 3, lora));
  }
}

}  // namespace inkwell
