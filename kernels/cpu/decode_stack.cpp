// DecodeStack: one decode step through every decoder layer (see decode_stack.h). Each layer is
//   h = rms_norm(x);  qkv = h W_qkv (+ LoRA);  rotate q/k, store k/v;  a = attention(q, cache)
//   x += a W_o (+ LoRA);  h = rms_norm(x);  x += (silu(gate) * up)(h W_gate_up (+ LoRA)) W_down (+ LoRA)
// with the kernels of the other files, called in the order the Python layer calls them (so the
// result is bit-identical); only the Python between them is gone (~60 us a layer).
#include "decode_stack.h"

#include "common.h"
#include "ops.h"

namespace inkwell {

namespace {
constexpr size_t kProjections = 4;  // qkv, o, gate_up, down
}  // namespace

DecodeStack::DecodeStack(std::vector<at::Tensor> norms, std::vector<at::Tensor> weights,
                         std::vector<at::Tensor> caches, at::Tensor cos_sin, int64_t num_heads,
                         int64_t num_kv_heads, double eps, double scale, int64_t window)
    : norms_(std::move(norms)), weights_(std::move(weights)), caches_(std::move(caches)),
      cos_sin_(std::move(cos_sin)), heads_(num_heads), kv_heads_(num_kv_heads), dim_(cos_sin_.size(1)),
      window_(window), eps_(eps), scale_(scale) {
  const size_t layers = norms_.size() / 2;
  INKWELL_CHECK(norms_.size() == 2 * layers && weights_.size() == kProjections * layers &&
                    caches_.size() == 2 * layers, "DecodeStack: 2 norms, 4 weights and 2 caches per layer");
  for (const at::Tensor& w : weights_) check_cpu_contiguous(w, "packed weight");
}

void DecodeStack::set_lora(std::vector<at::Tensor> lora_a, std::vector<at::Tensor> lora_b,
                           std::vector<std::vector<int64_t>> slice_offsets) {
  INKWELL_CHECK(lora_a.size() == weights_.size() && lora_b.size() == weights_.size() &&
                    slice_offsets.size() == kProjections, "DecodeStack: one LoRA stack pair per projection");
  lora_a_ = std::move(lora_a);
  lora_b_ = std::move(lora_b);
  offsets_ = std::move(slice_offsets);
}

// in [T, K] -> [T, N]: the pair GEMM, then the step's adapters (when there are any and the stack has LoRA).
at::Tensor DecodeStack::project(const at::Tensor& in, size_t index, const std::vector<at::Tensor>& lora) const {
  at::Tensor y = pair_linear(in, weights_[index]);
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
    paged_decode_attention(attn, q, k_cache, v_cache, block_tables, context_lens, scale_, window_);
    add_rms_norm(h, project(attn.view({rows, heads_ * dim_}), w + 1, lora), x, norms_[2 * layer + 1], eps_);
    at::Tensor gate_up = project(h, w + 2, lora);  // [T, 2 I]
    at::Tensor act = at::empty({rows, gate_up.size(1) / 2}, x.options());
    silu_and_mul(act, gate_up);
    x.add_(project(act, w + 3, lora));
  }
}

}  // namespace inkwell
