// Fused multi-LoRA for one projection on the CPU: every entry's shrink and expand in one call, the
// adapter weights read in place from the slot stacks (no gathered copies).
//
// An entry is (token, slot, scale); entries come grouped by slot (group g = entries
// group_starts[g] .. group_starts[g+1]-1, all on group_slots[g]). A token may appear in several entries
// (a style blend); its deltas add up. Within a group tokens are distinct and increasing. Semantics (kernels/reference.py, bgmv_shrink then bgmv_expand):
//   for every entry e = (t, s, c), slice i with output columns [lo, hi):
//     y[t, lo:hi] += B[s, lo:hi, :rank] @ (c * A[s, i*R : i*R + rank] @ x[t])
// Small groups (decode) run hand-written loops; large groups (prefill) run two oneDNN matmuls.
#include "common.h"

#include <vector>

namespace inkwell {
namespace {

constexpr int64_t kGemmEntries = 24;  // groups from this size up use matmuls (prefill runs)
constexpr int64_t kColumnBlock = 64;  // output columns per expand task

struct LoraShape {
  int64_t hidden, out, rank_stride;     // H_in, N, R (the stacks' padded rank)
  std::vector<int64_t> offsets;         // slice offsets, n_slices + 1
  int64_t slices() const { return static_cast<int64_t>(offsets.size()) - 1; }
};

struct Entries {
  const int64_t *tokens, *starts, *slots, *ranks;
  const float* scales;
  int64_t groups;
};

template <typename T> float dot(const T* a, const T* b, int64_t n) {
  float acc = 0.f;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += to_float(a[i]) * to_float(b[i]);
  return acc;
}

// u[e, i*R + r] = scale[e] * A[s, i*R + r] . x[token[e]] for the small groups, r < rank[s]; one task per A row.
template <typename T>
void shrink_loops(float* u, const T* x, const T* a, const Entries& en, const LoraShape& sh,
                  const std::vector<int64_t>& small) {
  std::vector<std::pair<int64_t, int64_t>> tasks;  // (group, A row)
  for (int64_t g : small)
    for (int64_t i = 0; i < sh.slices(); ++i)
      for (int64_t r = 0; r < en.ranks[en.slots[g]]; ++r) tasks.emplace_back(g, i * sh.rank_stride + r);
  const int64_t rs = sh.slices() * sh.rank_stride;
  at::parallel_for(0, static_cast<int64_t>(tasks.size()), 8, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      const auto [g, row] = tasks[k];
      const T* a_row = a + (en.slots[g] * rs + row) * sh.hidden;
      for (int64_t e = en.starts[g]; e < en.starts[g + 1]; ++e)
        u[e * rs + row] = en.scales[e] * dot(a_row, x + en.tokens[e] * sh.hidden, sh.hidden);
    }
  });
}

// y[token[e], c0:c1] += sum_r u[e, i*R + r] * Bt[s, r, c0:c1] for the small groups; one task per column block.
template <typename T>
void expand_loops(T* y, const float* u, const T* bt, const Entries& en, const LoraShape& sh,
                  const std::vector<int64_t>& small) {
  const int64_t rs = sh.slices() * sh.rank_stride, blocks = (sh.out + kColumnBlock - 1) / kColumnBlock;
  at::parallel_for(0, blocks, 4, [&](int64_t begin, int64_t end) {
    for (int64_t blk = begin; blk < end; ++blk) {
      const int64_t c0 = blk * kColumnBlock, c1 = std::min(sh.out, c0 + kColumnBlock);
      for (int64_t g : small) {
        const int64_t s = en.slots[g], rank = en.ranks[s];
        for (int64_t i = 0; i < sh.slices(); ++i) {
          const int64_t lo = std::max(c0, sh.offsets[i]), hi = std::min(c1, sh.offsets[i + 1]);
          if (lo >= hi) continue;
          for (int64_t e = en.starts[g]; e < en.starts[g + 1]; ++e) {
            float acc[kColumnBlock];
            T* y_row = y + en.tokens[e] * sh.out;
            for (int64_t c = lo; c < hi; ++c) acc[c - lo] = to_float(y_row[c]);
            for (int64_t r = 0; r < rank; ++r) {
              const float w = u[e * rs + i * sh.rank_stride + r];
              const T* b_row = bt + (s * sh.rank_stride + r) * sh.out;
#pragma omp simd
              for (int64_t c = lo; c < hi; ++c) acc[c - lo] += w * to_float(b_row[c]);
            }
            for (int64_t c = lo; c < hi; ++c) y_row[c] = from_float<T>(acc[c - lo]);
          }
        }
      }
    }
  });
}

// One large group through oneDNN: rows gathered (or viewed when contiguous), two matmuls per slice.
void group_matmul(at::Tensor& y, const at::Tensor& x, const at::Tensor& a, const at::Tensor& bt,
                  const at::Tensor& tokens, const at::Tensor& scales, int64_t slot, int64_t rank,
                  const LoraShape& sh) {
  const int64_t* ids = tokens.data_ptr<int64_t>();
  const int64_t n = tokens.size(0), first = ids[0];
  const bool contiguous = ids[n - 1] - first == n - 1;  // tokens increase within a group
  const at::Tensor xg = contiguous ? x.narrow(0, first, n) : x.index_select(0, tokens);  // [n, H]
  at::Tensor delta = at::zeros({n, sh.out}, y.options());                                // [n, N]
  for (int64_t i = 0; i < sh.slices(); ++i) {
    const at::Tensor a_i = a[slot].narrow(0, i * sh.rank_stride, rank);                  // [rank, H]
    const at::Tensor u = at::mm(xg, a_i.t()).mul_(scales.unsqueeze(1).to(y.scalar_type()));  // [n, rank]
    const int64_t lo = sh.offsets[i], width = sh.offsets[i + 1] - lo;
    delta.narrow(1, lo, width).copy_(at::mm(u, bt[slot].narrow(0, 0, rank).narrow(1, lo, width)));
  }
  if (contiguous) {
    y.narrow(0, first, n).add_(delta);
  } else {
    y.index_add_(0, tokens, delta);
  }
}

}  // namespace

// y [T, N] += the LoRA delta of every entry (see the file comment). x [T, H_in]; lora_a [S, n*R, H_in];
// lora_b [S, N, R] as a transposed view of contiguous [S, R, N] storage; tokens/scales [E];
// group_starts [G+1], group_slots [G], slot_ranks [S] int64; slice_offsets n_slices + 1 ints.
void add_lora(at::Tensor y, at::Tensor x, at::Tensor lora_a, at::Tensor lora_b, at::Tensor tokens,
              at::Tensor scales, at::Tensor group_starts, at::Tensor group_slots, at::Tensor slot_ranks,
              std::vector<int64_t> slice_offsets) {
  check_cpu_contiguous(y, "y");
  check_cpu_contiguous(x, "x");
  check_cpu_contiguous(lora_a, "lora_a");
  const at::Tensor bt = lora_b.transpose(1, 2);  // [S, R, N]
  check_cpu_contiguous(bt, "lora_b (as [S, R, N] storage)");
  INKWELL_CHECK(x.scalar_type() == y.scalar_type() && lora_a.scalar_type() == y.scalar_type() &&
                    lora_b.scalar_type() == y.scalar_type(), "x, y and the LoRA stacks must share one dtype");
  INKWELL_CHECK(scales.scalar_type() == at::kFloat, "scales must be float32");
  const LoraShape sh{x.size(1), y.size(1), bt.size(1), slice_offsets};
  INKWELL_CHECK(sh.offsets.back() == sh.out && lora_a.size(1) == sh.slices() * sh.rank_stride,
                "slice offsets do not match the stacks");
  const Entries en{tokens.data_ptr<int64_t>(), group_starts.data_ptr<int64_t>(), group_slots.data_ptr<int64_t>(),
                   slot_ranks.data_ptr<int64_t>(), scales.data_ptr<float>(), group_slots.size(0)};
  std::vector<int64_t> small;
  for (int64_t g = 0; g < en.groups; ++g) {
    const int64_t b = en.starts[g], e = en.starts[g + 1];
    if (e - b < kGemmEntries) {
      small.push_back(g);
    } else if (en.ranks[en.slots[g]] > 0) {
      group_matmul(y, x, lora_a, bt, tokens.slice(0, b, e), scales.slice(0, b, e), en.slots[g], en.ranks[en.slots[g]], sh);
    }
  }
  if (small.empty()) return;
  std::vector<float> u(tokens.size(0) * sh.slices() * sh.rank_stride, 0.f);  // [E, n*R] fp32
  dispatch_float(y, "y", [&]<typename T>() {
    shrink_loops<T>(u.data(), data<T>(x), data<T>(lora_a), en, sh, small);
    expand_loops<T>(data<T>(y), u.data(), data<T>(bt), en, sh, small);
  });
}

}  // namespace inkwell
