// bf16 linears on AVX512-BF16 hosts: y [M, N] = x [M, K] @ W^T, fp32 accumulation, any row count.
//
// At 16 rows oneDNN's packed bf16 matmul reads the weights at about half of what the cores can stream and
// runs at about half of their vdpbf16ps rate. Here the weights are packed once as [N/16, K/2, 16, 2]:
// for a block of 16 output columns and a pair of k, one 64-byte load holds the 16 columns' two weights,
// and one vdpbf16ps adds x[m, k] * w[n, k] + x[m, k+1] * w[n, k+1] to 16 fp32 lanes; x[m, k:k+2] is one
// 32-bit broadcast (a row of x is already in pair order). A tile is R rows x CB column blocks: R x CB
// accumulators in registers, each weight load feeding R rows and each broadcast CB blocks. Threads take
// whole groups of CB blocks; a group's weights stream from memory once and are re-read from L2 for the
// next R rows. Two tiles, chosen per host (kernels/tile_tuning.py): 4 x 6 (the faster on a Zen 5 host)
// and 8 x 3 for 8 rows and more (the faster at 16 rows from memory on a Zen 4 host: half the passes over
// a group); every output element sums its k pairs in the same order in both, so they agree bit for bit.
// Measured faster than oneDNN's packed path from 2 to 512 rows, and than F.linear at one (docs/PERFORMANCE.md,
// tenth and fifteenth passes). Results are rounded to bf16 (to nearest even) once, at the end.
#include "common.h"

#if defined(__AVX512BF16__)
#include <immintrin.h>

#include <array>
#include <atomic>
#include <utility>
#endif

namespace inkwell {

#if defined(__AVX512BF16__)
namespace {

constexpr int64_t kCols = 16;   // output columns per block (fp32 lanes of a zmm register)
constexpr int64_t kAhead = 16;  // k pairs (64-byte lines) prefetched ahead on the weight stream
constexpr int64_t kTallRows = 8;  // row counts from this up may take the 8 x 3 tile (below it: 4 x 6 always)

std::atomic<int64_t> g_tile{0};  // 0: 4 x 6, 1: 8 x 3 from kTallRows rows (set_pair_tile)

struct Shape {
  int64_t rows, pairs, blocks;  // M, K / 2, N / 16
};

// y[r, blocks] for the tile's R rows from row0 and CB column blocks from block0: R x CB accumulators,
// one pass over the blocks' weights (each broadcast of x feeds CB blocks, each weight load R rows).
template <int R, int CB>
void tile(bf16* y, const bf16* x, const bf16* wp, const Shape& s, int64_t row0, int64_t block0) {
  const int64_t n = s.blocks * kCols, k = 2 * s.pairs, stride = s.pairs * 2 * kCols;
  const bf16* w = wp + block0 * stride;
  const int32_t* xs[R];
  for (int r = 0; r < R; ++r) xs[r] = reinterpret_cast<const int32_t*>(x + (row0 + r) * k);
  __m512 acc[R][CB];
  for (auto& row : acc)
    for (__m512& cell : row) cell = _mm512_setzero_ps();
  for (int64_t p = 0; p < s.pairs; ++p) {
    __m512bh wv[CB];
    for (int c = 0; c < CB; ++c) {
      _mm_prefetch(reinterpret_cast<const char*>(w + c * stride + (p + kAhead) * 2 * kCols), _MM_HINT_T0);
      wv[c] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(w + c * stride + p * 2 * kCols));
    }
    for (int r = 0; r < R; ++r) {
      const __m512bh xv = reinterpret_cast<__m512bh>(_mm512_set1_epi32(xs[r][p]));
      for (int c = 0; c < CB; ++c) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], xv, wv[c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < CB; ++c)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + (row0 + r) * n + (block0 + c) * kCols),
                          reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(acc[r][c])));
}

using TileFn = void (*)(bf16*, const bf16*, const bf16*, const Shape&, int64_t, int64_t);

template <int CB, size_t... R>
constexpr std::array<TileFn, sizeof...(R)> tile_table(std::index_sequence<R...>) {
  return {&tile<static_cast<int>(R) + 1, CB>...};
}

// y = x @ W^T on RT x CB tiles: threads take groups of CB blocks, each group passes over the rows RT at a
// time (the last pass and the last group: fewer).
template <int RT, int CB>
void run_tiles(bf16* out, const bf16* in, const bf16* w, const Shape& s) {
  static constexpr auto wide = tile_table<CB>(std::make_index_sequence<RT>{});  // wide[R - 1]: R rows
  static constexpr auto narrow = tile_table<1>(std::make_index_sequence<RT>{});  // one block
  const int64_t groups = (s.blocks + CB - 1) / CB;
  at::parallel_for(0, groups, 2, [&](int64_t begin, int64_t end) {
    for (int64_t g = begin; g < end; ++g)
      for (int64_t row0 = 0; row0 < s.rows; row0 += RT) {
        const int64_t r = std::min<int64_t>(RT, s.rows - row0) - 1;  // the tile's rows - 1: its table entry
        if ((g + 1) * CB <= s.blocks) {
          wide[r](out, in, w, s, row0, g * CB);
        } else {
          for (int64_t block = g * CB; block < s.blocks; ++block) narrow[r](out, in, w, s, row0, block);
        }
      }
  });
}

}  // namespace
#endif

// Whether this build has the kernel (the host has AVX512-BF16).
bool has_pair_gemm() {
#if defined(__AVX512BF16__)
  return true;
#else
  return false;
#endif
}

// x [M, K] @ W^T -> y [M, N] (new) for bf16 x and packed weights wp [N/16, K/2, 32] (see the file comment).
at::Tensor pair_linear(at::Tensor x, at::Tensor wp) {
#if defined(__AVX512BF16__)
  INKWELL_CHECK(x.device().is_cpu() && x.dim() == 2, "pair_linear takes a 2-D CPU x, got ", x.sizes());
  check_cpu_contiguous(wp, "packed weight");
  INKWELL_CHECK(x.scalar_type() == at::kBFloat16 && wp.scalar_type() == at::kBFloat16,
                "pair_linear takes bfloat16 tensors");
  INKWELL_CHECK(wp.dim() == 3 && wp.size(2) == 2 * kCols, "packed weight must be [N/16, K/2, 32]");
  const Shape s{x.size(0), wp.size(1), wp.size(0)};
  INKWELL_CHECK(x.size(1) == 2 * s.pairs, "pair_linear shapes: x ", x.sizes(), ", packed weight ", wp.sizes());
  const at::Tensor rows = x.contiguous();
  at::Tensor y = at::empty({s.rows, s.blocks * kCols}, x.options());
  bf16* out = data<bf16>(y);
  const bf16 *in = data<bf16>(rows), *w = data<bf16>(wp);
  if (s.rows >= kTallRows && g_tile.load(std::memory_order_relaxed) == 1) {
    run_tiles<8, 3>(out, in, w, s);
  } else {
    run_tiles<4, 6>(out, in, w, s);
  }
  return y;
#else
  INKWELL_CHECK(false, "pair_linear needs a build on a CPU with AVX512-BF16");
  return x;
#endif
}

// Which tile pair_linear uses from 8 rows up: 0 for 4 x 6, 1 for 8 x 3 (bit-identical results; see the file
// comment). Process-wide; no-op where the kernel is not built.
void set_pair_tile(int64_t tile) {
  INKWELL_CHECK(tile == 0 || tile == 1, "pair tile must be 0 (4 x 6) or 1 (8 x 3), got ", tile);
#if defined(__AVX512BF16__)
  g_tile.store(tile, std::memory_order_relaxed);
#endif
}

}  // namespace inkwell
