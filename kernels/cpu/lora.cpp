// Fused multi-LoRA for one projection on the CPU: every entry's shrink and expand in one call, the
// adapter weights read in place from the slot stacks (no gathered copies, no per-slice calls).
//
// An entry is (token, slot, scale); entries come grouped by slot (group g = entries
// group_starts[g] .. group_starts[g+1]-1, all on group_slots[g]). A token may appear in several entries
// (a style blend); its deltas add up. Semantics (kernels/reference.py, bgmv_shrink then bgmv_expand):
//   for every entry e = (t, s, c), slice i with output columns [lo, hi):
//     y[t, lo:hi] += B[s, lo:hi, :rank] @ (c * A[s, i*R : i*R + rank] @ x[t])
// The work is split into tiles of up to four entries of one group; a tile's shrink and expand run on one
// thread, back to back: every adapter row loaded is used for the tile's four entries, the shrink results
// stay in a small per-thread buffer, and the expand sweeps each B row from start to end (one stream per
// rank row, prefetched ahead), so a slot's weights are read as long runs rather than scattered blocks.
// Tiles write disjoint rows of y unless a token has several entries (a blend): then they run on one thread.
// Accumulators live in vector registers (simd.h); math in fp32, storage fp32 or bf16.
#include "common.h"
#include "simd.h"

#include <type_traits>
#include <vector>

namespace inkwell {
namespace {

constexpr int64_t kEntryTile = 4;  // entries sharing each loaded adapter row
constexpr int64_t kRowTile = 4;    // A rows per shrink pass
constexpr int64_t kPrefetch = 128; // elements ahead of the loads on an adapter row
constexpr int64_t kParallelWork = 100000;  // ~multiply-adds of a call below which one thread runs it
constexpr int64_t kTileFixed = 4;  // a tile's weight reads, in entries' worth of multiply-adds (balanced_bounds)

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

// A tile: entries [e0, e0 + ne) of one group, all on `slot`.
struct Tile {
  int64_t slot, e0, ne;
};

std::vector<Tile> entry_tiles(const Entries& en) {
  std::vector<Tile> tiles;
  for (int64_t g = 0; g < en.groups; ++g)
    for (int64_t e0 = en.starts[g]; e0 < en.starts[g + 1]; e0 += kEntryTile)
      tiles.push_back({en.slots[g], e0, std::min(kEntryTile, en.starts[g + 1] - e0)});
  return tiles;
}

// What one 4-row shrink block reads and how it writes u: shared by the generic and the vdpbf16ps loops.
template <int64_t NE, typename T>
struct ShrinkRows {
  const T* xs[NE];        // the entries' rows of x
  const T* as[kRowTile];  // A rows row0 .. row0 + 3 of the tile's slot (absent rows repeat the last one)
  ShrinkRows(const T* x, const T* a, const Entries& en, const LoraShape& sh, const Tile& tile, int64_t row0,
             int64_t nr) {
    for (int64_t j = 0; j < NE; ++j) xs[j] = x + en.tokens[tile.e0 + j] * sh.hidden;
    for (int64_t r = 0; r < kRowTile; ++r) as[r] = a + (tile.slot * sh.width() + row0 + std::min(r, nr - 1)) * sh.hidden;
  }
  // u[j, row0 + r] = scale * (sums[j][r] + the products of elements h.. the vector loop left), r < nr.
  void store(float* u, const float (&sums)[NE][kRowTile], const Entries& en, const LoraShape& sh, const Tile& tile,
             int64_t row0, int64_t nr, int64_t h) const {
    for (int64_t j = 0; j < NE; ++j)
      for (int64_t r = 0; r < nr; ++r) {
        float dot = sums[j][r];
        for (int64_t t = h; t < sh.hidden; ++t) dot += to_float(xs[j][t]) * to_float(as[r][t]);
        u[j * sh.width() + row0 + r] = en.scales[tile.e0 + j] * dot;
      }
  }
};

// u[j, row0 + r] = scale[e0 + j] * A[s, row0 + r] . x[token[e0 + j]] for the tile's NE entries and
// r < nr: an NE x 4 block of dot products in registers (absent rows repeat the last one, not stored).
template <int64_t NE, typename T>
void shrink_rows(float* u, const T* x, const T* a, const Entries& en, const LoraShape& sh, const Tile& tile,
                 int64_t row0, int64_t nr) {
  const ShrinkRows<NE, T> op(x, a, en, sh, tile, row0, nr);
  const auto& [xs, as] = op;
  F16 acc[NE][kRowTile];
  for (auto& row : acc)
    for (F16& cell : row) cell = F16::zero();
  int64_t h = 0;
  for (; h + kLanes <= sh.hidden; h += kLanes) {
    F16 w[kRowTile];
    for (int64_t r = 0; r < kRowTile; ++r) {
      __builtin_prefetch(as[r] + h + kPrefetch);
      w[r] = F16::load(as[r] + h);
    }
    for (int64_t j = 0; j < NE; ++j) {
      const F16 xv = F16::load(xs[j] + h);
      for (int64_t r = 0; r < kRowTile; ++r) acc[j][r] = acc[j][r].fma(xv, w[r]);
    }
  }
  float sums[NE][kRowTile];
  for (int64_t j = 0; j < NE; ++j)
    for (int64_t r = 0; r < kRowTile; ++r) sums[j][r] = acc[j][r].sum();
  op.store(u, sums, en, sh, tile, row0, nr, h);
}

#if defined(__AVX512BF16__)
// The bf16 shrink_rows on AVX512-BF16: vdpbf16ps takes 32 bf16 of x and of an A row and adds each adjacent
// pair's two (exact) products into one of 16 fp32 lanes, so nothing is widened to fp32 first: a quarter of
// the instructions of the generic loop per multiply-add. Sums are in fp32 as there, in another order.
template <int64_t NE>
void shrink_rows_dp(float* u, const bf16* x, const bf16* a, const Entries& en, const LoraShape& sh,
                    const Tile& tile, int64_t row0, int64_t nr) {
  constexpr int64_t kPairLanes = 2 * kLanes;  // bf16 elements per 512-bit load
  const ShrinkRows<NE, bf16> op(x, a, en, sh, tile, row0, nr);
  const auto& [xs, as] = op;
  __m512 acc[NE][kRowTile];
  for (auto& row : acc)
    for (__m512& cell : row) cell = _mm512_setzero_ps();
  int64_t h = 0;
  for (; h + kPairLanes <= sh.hidden; h += kPairLanes) {
    __m512bh w[kRowTile];
    for (int64_t r = 0; r < kRowTile; ++r) {
      __builtin_prefetch(as[r] + h + kPrefetch);
      w[r] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(as[r] + h));
    }
    for (int64_t j = 0; j < NE; ++j) {
      const __m512bh xv = reinterpret_cast<__m512bh>(_mm512_loadu_si512(xs[j] + h));
      for (int64_t r = 0; r < kRowTile; ++r) acc[j][r] = _mm512_dpbf16_ps(acc[j][r], xv, w[r]);
    }
  }
  float sums[NE][kRowTile];
  for (int64_t j = 0; j < NE; ++j)
    for (int64_t r = 0; r < kRowTile; ++r) sums[j][r] = _mm512_reduce_add_ps(acc[j][r]);
  op.store(u, sums, en, sh, tile, row0, nr, h);
}
#endif

// y[token[e0 + j], lo:hi] += sum_r u[j, i*R + r] * Bt[s, r, lo:hi] for the tile's NE entries: 16 columns
// at a time, their sums in registers, each B row loaded once for all of them.
template <int64_t NE, typename T>
void expand_slice(T* y, const float* u, const T* bt, const Entries& en, const LoraShape& sh, const Tile& tile,
                  int64_t slice) {
  T* rows[NE];
  const float* us[NE];
  for (int64_t j = 0; j < NE; ++j) {
    rows[j] = y + en.tokens[tile.e0 + j] * sh.out;
    us[j] = u + j * sh.width() + slice * sh.rank_stride;
  }
  const T* b = bt + tile.slot * sh.rank_stride * sh.out;
  const int64_t rank = en.ranks[tile.slot], lo = sh.offsets[slice], hi = sh.offsets[slice + 1];
  int64_t c = lo;
  for (; c + kLanes <= hi; c += kLanes) {
    F16 acc[NE];
    for (int64_t j = 0; j < NE; ++j) acc[j] = F16::load(rows[j] + c);
    for (int64_t r = 0; r < rank; ++r) {
      __builtin_prefetch(b + r * sh.out + c + kPrefetch);
      const F16 w = F16::load(b + r * sh.out + c);
      for (int64_t j = 0; j < NE; ++j) acc[j] = acc[j].fma(F16::splat(us[j][r]), w);
    }
    for (int64_t j = 0; j < NE; ++j) acc[j].store(rows[j] + c);
  }
  for (; c < hi; ++c)
    for (int64_t j = 0; j < NE; ++j) {
      float sum = to_float(rows[j][c]);
      for (int64_t r = 0; r < rank; ++r) sum += us[j][r] * to_float(b[r * sh.out + c]);
      rows[j][c] = from_float<T>(sum);
    }
}

// shrink_rows, on vdpbf16ps where the build host has AVX512-BF16 and the data is bf16.
template <int64_t NE, typename T>
void shrink(float* u, const T* x, const T* a, const Entries& en, const LoraShape& sh, const Tile& tile,
            int64_t row0, int64_t nr) {
#if defined(__AVX512BF16__)
  if constexpr (std::is_same_v<T, bf16>) {
    shrink_rows_dp<NE>(u, x, a, en, sh, tile, row0, nr);
    return;
  }
#endif
  shrink_rows<NE>(u, x, a, en, sh, tile, row0, nr);
}

// One tile, NE entries (a compile-time count, so every accumulator stays in a register): the shrink of
// every slice into u [NE, n*R] (rows past the slot's rank are never read), then the expand of every slice.
template <int64_t NE, typename T>
void run_tile(T* y, float* u, const T* x, const T* a, const T* bt, const Entries& en, const LoraShape& sh,
              const Tile& tile) {
  const int64_t rank = en.ranks[tile.slot];
  for (int64_t i = 0; i < sh.slices(); ++i)
    for (int64_t r0 = 0; r0 < rank; r0 += kRowTile)
      shrink<NE>(u, x, a, en, sh, tile, i * sh.rank_stride + r0, std::min(kRowTile, rank - r0));
  for (int64_t i = 0; i < sh.slices(); ++i) expand_slice<NE>(y, u, bt, en, sh, tile, i);
}

template <typename T>
void run_tile(T* y, float* u, const T* x, const T* a, const T* bt, const Entries& en, const LoraShape& sh,
              const Tile& tile) {
  switch (tile.ne) {
    case 1: return run_tile<1>(y, u, x, a, bt, en, sh, tile);
    case 2: return run_tile<2>(y, u, x, a, bt, en, sh, tile);
    case 3: return run_tile<3>(y, u, x, a, bt, en, sh, tile);
    default: return run_tile<kEntryTile>(y, u, x, a, bt, en, sh, tile);
  }
}

// Checks every entry's token is a row of x, and says whether some token has entries in two groups (a
// blend): its tiles would then write the same row of y.
bool tokens_repeat(const Entries& en, int64_t entries, int64_t num_tokens) {
  std::vector<char> seen(num_tokens, 0);
  bool repeat = false;
  for (int64_t e = 0; e < entries; ++e) {
    const int64_t token = en.tokens[e];
    INKWELL_CHECK(token >= 0 && token < num_tokens, "entry token ", token, " out of range [0, ", num_tokens, ")");
    repeat |= seen[token] != 0;
    seen[token] = 1;
  }
  return repeat;
}

// Splits the tiles into `parts` consecutive runs of near-equal cost (bounds, parts + 1 of them). A tile
// costs its slot's rank times (kTileFixed + its entries): reading the slot's rows, then each entry's
// multiply-adds. Equal tile counts per thread (at::parallel_for's split) left one thread waiting on the
// other when one slot had four entries and the next one.
std::vector<int64_t> balanced_bounds(const std::vector<Tile>& tiles, const Entries& en, int64_t parts) {
  return split_by_cost(static_cast<int64_t>(tiles.size()), parts,
                       [&](int64_t k) { return en.ranks[tiles[k].slot] * (kTileFixed + tiles[k].ne); });
}

template <typename T>
void run_lora(T* y, const T* x, const T* a, const T* bt, const Entries& en, const LoraShape& sh, int64_t entries,
              int64_t num_tokens) {
  const std::vector<Tile> tiles = entry_tiles(en);
  const int64_t work = entries * sh.width() * (sh.hidden + sh.out);  // ~multiply-adds: one thread when small
  const bool repeat = tokens_repeat(en, entries, num_tokens);  // also checks the tokens: before any work
  const int64_t parts = repeat || work < kParallelWork ? 1 : at::get_num_threads();
  const std::vector<int64_t> bounds = balanced_bounds(tiles, en, parts);
  at::parallel_for(0, parts, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> u(kEntryTile * sh.width());  // [4, n*R] fp32 shrink results of one tile
    for (int64_t k = bounds[begin]; k < bounds[end]; ++k) run_tile(y, u.data(), x, a, bt, en, sh, tiles[k]);
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
    run_lora<T>(data<T>(y), data<T>(x), data<T>(lora_a), data<T>(bt), en, sh, tokens.size(0), x.size(0));
  });
}

}  // namespace inkwell
