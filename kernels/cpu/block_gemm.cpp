// fp32 linears on AVX-512 hosts: y [M, N] = x [M, K] @ W^T, fp32 accumulation, any row count.
//
// At 16 rows (a decode step) oneDNN's packed fp32 matmul streams the weights at ~18 GB/s on one core, under
// half of what the core can read, while its FMA units wait. Here the weights are packed once as [N/16, K, 16]:
// for a block of 16 output columns, one 64-byte line holds k's 16 weights, so a block is one sequential
// stream, prefetched 64 lines ahead (8 and 32 ahead were 1.3x and 1.07x slower). x is read as x^T [K, 16] per
// pass of up to 16 rows (one k's rows in one line: a second sequential stream). A tile is R rows x CB blocks:
// R x CB accumulators in registers, each weight line loaded once for the R rows. Two tiles, chosen per host
// (kernels/tile_tuning.py): 14 rows x 2 blocks, each broadcast of x feeding two FMAs (the faster on a
// Zen 5 host, whose 512-bit FMAs run at twice the rate a broadcast per FMA can feed), and 16 rows x 1 block,
// one pass over the weights for a whole decode batch (1.14x at 16 rows on a Zen 4 host, whose FMA rate a
// broadcast per FMA keeps up with). Every output sums its k in the same order in both: they agree bit for
// bit. Threads take runs of blocks; a run of eight blocks' weights stays in L2 while every pass goes over it
// (512-row prefill chunks). Measured 1.2-1.3x oneDNN at 16 rows and a tie at 512 (docs/PERFORMANCE.md,
// fourteenth and seventeenth passes).
#include "common.h"

#if defined(__AVX512F__)
#include <immintrin.h>

#include <array>
#include <atomic>
#include <utility>
#endif

namespace inkwell {

#if defined(__AVX512F__)
namespace {

constexpr int64_t kCols = 16;      // output columns per block (fp32 lanes of a zmm register)
constexpr int64_t kLane = 16;      // x^T's row stride: one k's rows in one 64-byte line (at most 16 rows a pass)
constexpr int64_t kWideRows = 14;  // rows of the 2-block tile: 14 x 2 accumulators, 2 weight registers (of 32)
constexpr int64_t kAhead = 64;     // weight lines prefetched ahead on each block's stream
constexpr int64_t kRunBlocks = 8;  // blocks whose weights every pass reads before the next run

struct TileShape {
  int64_t rows, blocks;  // per pass, per group
};
constexpr TileShape kTiles[] = {{kWideRows, 2}, {kLane, 1}};  // set_block_tile's 0 and 1
std::atomic<int64_t> g_tile{0};

// y[rows, blocks] for R rows of xt [K, 16] (row r in lane r of each k's line) and CB blocks of weights from w
// (block c at w + c * K * 16): R x CB accumulators, each weight line loaded once for the R rows.
template <int R, int CB>
void tile(float* y, int64_t ld, const float* xt, const float* w, int64_t k) {
  __m512 acc[R][CB];
  for (auto& row : acc)
    for (__m512& a : row) a = _mm512_setzero_ps();
  for (int64_t i = 0; i < k; ++i) {
    __m512 wv[CB];
    for (int c = 0; c < CB; ++c) {
      _mm_prefetch(reinterpret_cast<const char*>(w + (c * k + i + kAhead) * kCols), _MM_HINT_T0);
      wv[c] = _mm512_loadu_ps(w + (c * k + i) * kCols);
    }
    for (int r = 0; r < R; ++r) {
      const __m512 xv = _mm512_set1_ps(xt[i * kLane + r]);
      for (int c = 0; c < CB; ++c) acc[r][c] = _mm512_fmadd_ps(xv, wv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < CB; ++c) _mm512_storeu_ps(y + r * ld + c * kCols, acc[r][c]);
}

using TileFn = void (*)(float*, int64_t, const float*, const float*, int64_t);

template <int CB, size_t... R>
constexpr std::array<TileFn, sizeof...(R)> tile_table(std::index_sequence<R...>) {
  return {&tile<static_cast<int>(R) + 1, CB>...};
}

constexpr auto kWide = tile_table<2>(std::make_index_sequence<kWideRows>{});  // kWide[R - 1]: R rows, 2 blocks
constexpr auto kNarrow = tile_table<1>(std::make_index_sequence<kLane>{});     // one block (16 x 1, odd blocks)

// xt [K, 16] = rows row0 .. row0 + n - 1 of x [M, K], transposed (lanes past n zero).
void transpose_rows(float* xt, const float* x, int64_t k, int64_t row0, int64_t n) {
  for (int64_t i = 0; i < k; ++i)
    for (int64_t r = 0; r < kLane; ++r) xt[i * kLane + r] = r < n ? x[(row0 + r) * k + i] : 0.f;
}

}  // namespace
#endif

// Whether this build has the kernel (the host has AVX-512).
bool has_block_gemm() {
#if defined(__AVX512F__)
  return true;
#else
  return false;
#endif
}

// x [M, K] @ W^T -> y [M, N] (new) for fp32 x and packed weights wp [N/16, K, 16] (see the file comment).
at::Tensor block_linear(at::Tensor x, at::Tensor wp) {
#if defined(__AVX512F__)
  INKWELL_CHECK(x.device().is_cpu() && x.dim() == 2, "block_linear takes a 2-D CPU x, got ", x.sizes());
  check_cpu_contiguous(wp, "packed weight");
  INKWELL_CHECK(x.scalar_type() == at::kFloat && wp.scalar_type() == at::kFloat, "block_linear takes float32 tensors");
  INKWELL_CHECK(wp.dim() == 3 && wp.size(2) == kCols, "packed weight must be [N/16, K, 16]");
  const int64_t m = x.size(0), k = wp.size(1), blocks = wp.size(0), n = blocks * kCols;
  INKWELL_CHECK(x.size(1) == k, "block_linear shapes: x ", x.sizes(), ", packed weight ", wp.sizes());
  const at::Tensor rows = x.contiguous();
  at::Tensor y = at::empty({m, n}, x.options());
  const TileShape t = kTiles[g_tile.load(std::memory_order_relaxed)];
  const int64_t passes = (m + t.rows - 1) / t.rows, groups = (blocks + t.blocks - 1) / t.blocks;
  // each pass's rows as x^T [K, 16]: a buffer kept per calling thread, so that a 512-row chunk's few MB are
  // not fresh pages every call (their page faults cost more than the transpose in a VM)
  thread_local std::vector<float> xt;
  if (xt.size() < static_cast<size_t>(passes * k * kLane)) xt.resize(passes * k * kLane);
  float* const xts = xt.data();  // (the threads below have thread_locals of their own)
  float* out = data<float>(y);
  const float *in = data<float>(rows), *w = data<float>(wp);
  at::parallel_for(0, passes, 4, [&](int64_t begin, int64_t end) {  // 512 rows: ~0.3-0.8 ms serial
    for (int64_t p = begin; p < end; ++p)
      transpose_rows(xts + p * k * kLane, in, k, p * t.rows, std::min(t.rows, m - p * t.rows));
  });
  const int64_t run = kRunBlocks / t.blocks;
  at::parallel_for(0, groups, 2, [&](int64_t begin, int64_t end) {
    for (int64_t g0 = begin; g0 < end; g0 += run)  // a run of groups' weights stays in L2 over the passes
      for (int64_t p = 0; p < passes; ++p)
        for (int64_t g = g0; g < std::min(end, g0 + run); ++g) {
          const int64_t r = std::min(t.rows, m - p * t.rows) - 1, block = g * t.blocks;
          float* dst = out + p * t.rows * n + block * kCols;
          const float* xs = xts + p * k * kLane;
          const TileFn fn = t.blocks == 2 && block + 2 <= blocks ? kWide[r] : kNarrow[r];
          fn(dst, n, xs, w + block * k * kCols, k);
        }
  });
  return y;
#else
  INKWELL_CHECK(false, "block_linear needs a build on a CPU with AVX-512");
  return x;
#endif
}

// Which tile block_linear uses: 0 for 14 x 2, 1 for 16 x 1 (bit-identical results; see the file comment).
// Process-wide; no-op where the kernel is not built.
void set_block_tile(int64_t tile) {
  INKWELL_CHECK(tile == 0 || tile == 1, "block tile must be 0 (14 x 2) or 1 (16 x 1), got ", tile);
#if defined(__AVX512F__)
  g_tile.store(tile, std::memory_order_relaxed);
#endif
}

}  // namespace inkwell
