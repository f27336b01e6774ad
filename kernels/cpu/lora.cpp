// Fused multi-LoRA for one projection on the CPU: every entry's shrink and expand in one call, the
// adapter weights read in place from the slot stacks (no gathered copies, no per-slice calls).
//
// An entry is (token, slot, scale); entries come grouped by slot (group g = entries
// group_starts[g] .. group_starts[g+1]-1, all on group_slots[g]). A token may appear in several entries
// (a style blend); its deltas add up. Semantics (kernels/reference.py, bgmv_shrink then bgmv_expand):
//   for every entry e = (t, s, c), slice i with output columns [lo, hi):
//     y[t, lo:hi] += B[s, lo:hi, :rank] @ (c * A[s, i*R : i*R + rank] @ x[t])
// Both halves work on tiles of up to four entries of one group, so every adapter row loaded is used
// four times: the shrink computes a 4 x 4 block of dot products per pass over x (one task per tile of
// entries and A rows), the expand adds four rows of y per loaded row of B (one task per column block).
// Accumulators live in vector registers (simd.h); math in fp32, storage fp32 or bf16.
#include "common.h"
#include "simd.h"

#include <vector>

namespace inkwell {
namespace {

constexpr int64_t kEntryTile = 4;     // entries sharing each loaded adapter row
constexpr int64_t kRowTile = 4;       // A rows per shrink pass
constexpr int64_t kColumnBlock = 64;  // output columns per expand task

struct LoraShape {
  int64_t hidden, out, rank_stride;  // H_in, N, R (the stacks' padded rank)
  std::vector<int64_t> offsets;      // slice offsets, n_slices + 1
  int64_t slices() const { return static_cast<int64_t>(offsets.size()) - 1; }
  int64_t width() const { return slices() * rank_stride; }  // n_slices * R, a row of the shrink buffer
};

struct Entries {
  const int64_t *tokens, *starts, *slots, *ranks;
  const float* scales;
  int64_t groups;
};

// A shrink task: entries [e0, e0 + ne) of one group (one slot) against A rows [r0, r0 + nr) of slice `slice`.
struct ShrinkTask {
  int64_t slot, e0, ne, slice, r0, nr;
};

std::vector<ShrinkTask> shrink_tasks(const Entries& en, const LoraShape& sh) {
  std::vector<ShrinkTask> tasks;
  for (int64_t g = 0; g < en.groups; ++g) {
    const int64_t slot = en.slots[g], rank = en.ranks[slot];
    for (int64_t e0 = en.starts[g]; e0 < en.starts[g + 1]; e0 += kEntryTile)
      for (int64_t i = 0; i < sh.slices(); ++i)
        for (int64_t r0 = 0; r0 < rank; r0 += kRowTile)
          tasks.push_back({slot, e0, std::min(kEntryTile, en.starts[g + 1] - e0), i, r0, std::min(kRowTile, rank - r0)});
  }
  return tasks;
}

// u[e, i*R + r] = scale[e] * A[s, i*R + r] . x[token[e]] for one task: a 4 x 4 tile of dot products
// (absent entries / rows repeat the last one and are not stored), 16 register accumulators, one pass over x.
template <typename T>
void shrink_tile(float* u, const T* x, const T* a, const Entries& en, const LoraShape& sh, const ShrinkTask& k) {
  const T* xs[kEntryTile];
  const T* as[kRowTile];
  for (int64_t j = 0; j < kEntryTile; ++j) xs[j] = x + en.tokens[k.e0 + std::min(j, k.ne - 1)] * sh.hidden;
  const int64_t row0 = k.slice * sh.rank_stride + k.r0;
  for (int64_t r = 0; r < kRowTile; ++r) as[r] = a + (k.slot * sh.width() + row0 + std::min(r, k.nr - 1)) * sh.hidden;
  F16 acc[kEntryTile][kRowTile];
  for (auto& row : acc)
    for (F16& cell : row) cell = F16::zero();
  int64_t h = 0;
  for (; h + kLanes <= sh.hidden; h += kLanes) {
    F16 w[kRowTile];
    for (int64_t r = 0; r < kRowTile; ++r) w[r] = F16::load(as[r] + h);
    for (int64_t j = 0; j < kEntryTile; ++j) {
      const F16 xv = F16::load(xs[j] + h);
      for (int64_t r = 0; r < kRowTile; ++r) acc[j][r] = acc[j][r].fma(xv, w[r]);
    }
  }
  for (int64_t j = 0; j < k.ne; ++j)
    for (int64_t r = 0; r < k.nr; ++r) {
      float dot = acc[j][r].sum();
      for (int64_t t = h; t < sh.hidden; ++t) dot += to_float(xs[j][t]) * to_float(as[r][t]);
      u[(k.e0 + j) * sh.width() + row0 + r] = en.scales[k.e0 + j] * dot;
    }
}

// y[token[e], lo:hi] += sum_r u[e, i*R + r] * Bt[s, r, lo:hi] for entries [e0, e0 + ne) of one group:
// 16 columns at a time with the four entries' sums in registers, each B row loaded once for them.
template <typename T>
void expand_tile(T* y, const float* u, const T* bt, const Entries& en, const LoraShape& sh, int64_t slot,
                 int64_t e0, int64_t ne, int64_t slice, int64_t lo, int64_t hi) {
  T* rows[kEntryTile];
  const float* us[kEntryTile];
  for (int64_t j = 0; j < ne; ++j) {
    rows[j] = y + en.tokens[e0 + j] * sh.out;
    us[j] = u + (e0 + j) * sh.width() + slice * sh.rank_stride;
  }
  const T* b = bt + slot * sh.rank_stride * sh.out;
  const int64_t rank = en.ranks[slot];
  int64_t c = lo;
  for (; c + kLanes <= hi; c += kLanes) {
    F16 acc[kEntryTile];
    for (int64_t j = 0; j < ne; ++j) acc[j] = F16::load(rows[j] + c);
    for (int64_t r = 0; r < rank; ++r) {
      const F16 w = F16::load(b + r * sh.out + c);
      for (int64_t j = 0; j < ne; ++j) acc[j] = acc[j].fma(F16::splat(us[j][r]), w);
    }
    for (int64_t j = 0; j < ne; ++j) acc[j].store(rows[j] + c);
  }
  for (; c < hi; ++c)
    for (int64_t j = 0; j < ne; ++j) {
      float sum = to_float(rows[j][c]);
      for (int64_t r = 0; r < rank; ++r) sum += us[j][r] * to_float(b[r * sh.out + c]);
      rows[j][c] = from_float<T>(sum);
    }
}

// Every entry's expand for the columns [c0, c1) (one task: no other task writes these columns).
template <typename T>
void expand_columns(T* y, const float* u, const T* bt, const Entries& en, const LoraShape& sh, int64_t c0,
                    int64_t c1) {
  for (int64_t g = 0; g < en.groups; ++g)
    for (int64_t i = 0; i < sh.slices(); ++i) {
      const int64_t lo = std::max(c0, sh.offsets[i]), hi = std::min(c1, sh.offsets[i + 1]);
      if (lo >= hi) continue;
      for (int64_t e0 = en.starts[g]; e0 < en.starts[g + 1]; e0 += kEntryTile)
        expand_tile(y, u, bt, en, sh, en.slots[g], e0, std::min(kEntryTile, en.starts[g + 1] - e0), i, lo, hi);
    }
}

template <typename T>
void run_lora(T* y, const T* x, const T* a, const T* bt, const Entries& en, const LoraShape& sh, int64_t entries) {
  std::vector<float> u(entries * sh.width(), 0.f);  // [E, n*R] fp32 shrink results
  const std::vector<ShrinkTask> tasks = shrink_tasks(en, sh);
  const int64_t work = entries * sh.width() * (sh.hidden + sh.out);  // ~multiply-adds: one thread when small
  const int64_t grain = work < 200000 ? static_cast<int64_t>(tasks.size()) : 4;
  at::parallel_for(0, static_cast<int64_t>(tasks.size()), grain, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) shrink_tile(u.data(), x, a, en, sh, tasks[k]);
  });
  const int64_t blocks = (sh.out + kColumnBlock - 1) / kColumnBlock;
  at::parallel_for(0, blocks, work < 200000 ? blocks : 2, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b)
      expand_columns(y, u.data(), bt, en, sh, b * kColumnBlock, std::min(sh.out, (b + 1) * kColumnBlock));
  });
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
  INKWELL_CHECK(sh.offsets.back() == sh.out && lora_a.size(1) == sh.width(), "slice offsets do not match the stacks");
  const Entries en{tokens.data_ptr<int64_t>(), group_starts.data_ptr<int64_t>(), group_slots.data_ptr<int64_t>(),
                   slot_ranks.data_ptr<int64_t>(), scales.data_ptr<float>(), group_slots.size(0)};
  for (int64_t g = 0; g < en.groups; ++g)
    INKWELL_CHECK(en.ranks[en.slots[g]] <= sh.rank_stride, "slot rank above the stacks' rank");
  dispatch_float(y, "y", [&]<typename T>() {
    run_lora<T>(data<T>(y), data<T>(x), data<T>(lora_a), data<T>(bt), en, sh, tokens.size(0));
  });
}

}  // namespace inkwell
