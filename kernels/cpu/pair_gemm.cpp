// bf16 linears on AVX512-BF16 hosts: y [M, N] = x [M, K] @ W^T, fp32 accumulation, any row count.
//
// At 16 rows oneDNN's packed bf16 matmul reads the weights at about half of what the cores can stream and
// runs at about half of their vdpbf16ps rate. Here the weights are packed once as [N/16, K/2, 16, 2]:
// for a block of 16 output columns and a pair of k, one 64-byte load holds the 16 columns' two weights,
// and one vdpbf16ps adds x[m, k] * w[n, k] + x[m, k+1] * w[n, k+1] to 16 fp32 lanes; x[m, k:k+2] is one
// 32-bit broadcast (a row of x is already in pair order). A tile is 4 rows x 6 column blocks: 24
// accumulators in registers, each weight load feeding 4 rows and each broadcast 6 blocks. Threads take
// whole groups of 6 blocks; a group's weights stream from memory once and are re-read from L2 for the
// next 4 rows. Measured faster than oneDNN's packed path from 2 to 512 rows, and than F.linear at one
// (docs/PERFORMANCE.md, tenth pass). Results are rounded to bf16 (to nearest even) once, at the end.
#include "common.h"

#if defined(__AVX512BF16__)
#include <immintrin.h>

#include <array>
#include <utility>
#endif

namespace inkwell {

#if defined(__AVX512BF16__)
namespace {

constexpr int64_t kCols = 16;      // output columns per block (fp32 lanes of a zmm register)
constexpr int64_t kRowTile = 4;    // rows of x per pass over the blocks' weights
constexpr int64_t kBlockTile = 6;  // column blocks per pass: 4 x 6 accumulators (measured best of 16x1 .. 2x8)
constexpr int64_t kAhead = 16;     // k pairs (64-byte lines) prefetched ahead on the weight stream

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

constexpr auto kWide = tile_table<kBlockTile>(std::make_index_sequence<kRowTile>{});  // kWide[R - 1]: R rows
constexpr auto kNarrow = tile_table<1>(std::make_index_sequence<kRowTile>{});          // one block

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
  const int64_t groups = (s.blocks + kBlockTile - 1) / kBlockTile;  // kBlockTile blocks each (the last: fewer)
  at::parallel_for(0, groups, 2, [&](int64_t begin, int64_t end) {
    for (int64_t g = begin; g < end; ++g)
      for (int64_t row0 = 0; row0 < s.rows; row0 += kRowTile) {
        const int64_t r = std::min(kRowTile, s.rows - row0) - 1;  // the tile's rows - 1: its table entry
        if ((g + 1) * kBlockTile <= s.blocks) {
          kWide[r](out, in, w, s, row0, g * kBlockTile);
        } else {
          for (int64_t block = g * kBlockTile; block < s.blocks; ++block) kNarrow[r](out, in, w, s, row0, block);
        }
      }
  });
  return y;
#else
  INKWELL_CHECK(false, "pair_linear needs a build on a CPU with AVX512-BF16");
  return x;
#endif
}

}  // namespace inkwell
