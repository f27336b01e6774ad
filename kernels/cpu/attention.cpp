// Attention straight from the paged KV cache, one query row at a time: no gather of keys/values into a
// padded batch. A row sees the first `len` keys of its own block table (the last `window` of them when
// window > 0): a decode row its whole context, a prefill row its sequence's keys up to its own position,
// so one call serves a whole step, prefill chunks (causal, after a cached prefix or earlier chunks) and
// decode rows alike. For the short segments of a batched prefill this beats SDPA per segment 2.4-2.9x
// (docs/PERFORMANCE.md, thirteenth pass).
//
// Cache layout (engine/kv_cache.py): keys [blocks, KVH, D, block_size] (transposed inside a block),
// values [blocks, KVH, block_size, D]. One task per (row, KV head) serves the G query heads that share
// the KV head; a thread runs its tasks of one row together, block by block, so it reads each block of
// keys and values as one sequential run instead of KVH tiles a head apart (1.5-1.8x for fp32 and bf16
// decode rows from memory, 1.04x on an fp32 decode step; software prefetches of the next block, as
// before, only slowed the runs down: docs/PERFORMANCE.md, seventeenth pass). Scores: for every dim d,
// one broadcast q[h, d] times the block's key row d gives the partial scores of all block_size keys at
// once (vectorised across keys, no horizontal sums). Values: every value row is read once and added
// into the G outputs. Softmax in fp32.
#include "common.h"
#include "simd.h"

#include <algorithm>
#include <limits>
#include <vector>

namespace inkwell {
namespace {

struct RowShape {
  int64_t heads, kv_heads, dim, block_size, table_width, window;
  int64_t group() const { return heads / kv_heads; }
};

// Per-task buffers: scaled queries [G, D], scores [G, n_padded], outputs [G, D] (fp32).
struct Scratch {
  std::vector<float> q, scores, acc;
};

// The block size and head dim as compile-time constants where they are the common ones (16; 64 or 128),
// so the per-block loops unroll into whole vector registers; 0 means "read at run time".
template <int64_t kBS, int64_t kD> struct Dims {
  int64_t bs, dim;
  Dims(int64_t block_size, int64_t head_dim) : bs(kBS ? kBS : block_size), dim(kD ? kD : head_dim) {}
};

// scores[h * stride + o] = q[h] . key o of the block, o in [0, bs): kt [D, bs] is the block's key tile.
template <typename T, int64_t kBS, int64_t kD>
void block_scores(float* scores, int64_t stride, const float* q, const T* kt, int64_t G, Dims<kBS, kD> n) {
  constexpr int64_t kMaxBS = kBS ? kBS : 256;
  for (int64_t h = 0; h < G; ++h) {
    float acc[2][kMaxBS] = {};  // two chains over d (registers when kBS is known): hides the FMA latency
    const float* qh = q + h * n.dim;
    for (int64_t d = 0; d + 1 < n.dim; d += 2) {
      const float q0 = qh[d], q1 = qh[d + 1];
      const T *r0 = kt + d * n.bs, *r1 = r0 + n.bs;
#pragma omp simd
      for (int64_t o = 0; o < n.bs; ++o) {
        acc[0][o] += q0 * to_float(r0[o]);
        acc[1][o] += q1 * to_float(r1[o]);
      }
    }
    if (n.dim % 2) {
      const T* last = kt + (n.dim - 1) * n.bs;
      for (int64_t o = 0; o < n.bs; ++o) acc[0][o] += qh[n.dim - 1] * to_float(last[o]);
    }
    for (int64_t o = 0; o < n.bs; ++o) scores[h * stride + o] = acc[0][o] + acc[1][o];
  }
}

// acc[h] += p[h * stride + o] * value o of the block, o in [0, count): vt [bs, D] is the block's value tile.
template <typename T, int64_t kBS, int64_t kD>
void block_values(float* acc, const float* p, int64_t stride, const T* vt, int64_t count, int64_t G,
                  Dims<kBS, kD> n) {
  constexpr int64_t kMaxD = kD ? kD : 512;
  for (int64_t h = 0; h < G; ++h) {
    float sum[kMaxD];
    std::copy(acc + h * n.dim, acc + (h + 1) * n.dim, sum);
    for (int64_t o = 0; o < count; ++o) {
      const float w = p[h * stride + o];
      const T* row = vt + o * n.dim;
#pragma omp simd
      for (int64_t i = 0; i < n.dim; ++i) sum[i] += w * to_float(row[i]);
    }
    std::copy(sum, sum + n.dim, acc + h * n.dim);
  }
}

// The block-size-16 tiles (one key per vector lane) with a known head dim: every key row and value row
// is loaded once for a chunk of the G query heads that share it, not once per head.
#if defined(__AVX512F__)
constexpr int64_t kHeadChunk = 4, kValueVectors = 4;  // 16 value accumulators + 4 rows in 32 registers
#else
constexpr int64_t kHeadChunk = 2, kValueVectors = 2;  // 16 ymm registers: fewer at a time
#endif

// scores[h * stride + o] = q[h] . key o of the block for the chunk's NG heads (q rows kD apart).
template <int64_t NG, int64_t kD, typename T>
void chunk_scores(float* scores, int64_t stride, const float* q, const T* kt) {
  F16 acc[NG][2];  // two chains over d: hides the FMA latency
  for (auto& chains : acc) chains[0] = chains[1] = F16::zero();
  for (int64_t d = 0; d < kD; d += 2) {
    const F16 k0 = F16::load(kt + d * kLanes), k1 = F16::load(kt + (d + 1) * kLanes);
    for (int64_t h = 0; h < NG; ++h) {
      acc[h][0] = acc[h][0].fma(F16::splat(q[h * kD + d]), k0);
      acc[h][1] = acc[h][1].fma(F16::splat(q[h * kD + d + 1]), k1);
    }
  }
  for (int64_t h = 0; h < NG; ++h) acc[h][0].add(acc[h][1]).store(scores + h * stride);
}

// acc[h] += p[h * stride + o] * value o of the block, o < count, for the chunk's NG heads.
template <int64_t NG, int64_t kD, typename T>
void chunk_values(float* acc, const float* p, int64_t stride, const T* vt, int64_t count) {
  for (int64_t c = 0; c < kD; c += kValueVectors * kLanes) {
    F16 sum[NG][kValueVectors];
    for (int64_t h = 0; h < NG; ++h)
      for (int64_t i = 0; i < kValueVectors; ++i) sum[h][i] = F16::load(acc + h * kD + c + i * kLanes);
    for (int64_t o = 0; o < count; ++o) {
      F16 row[kValueVectors];
      for (int64_t i = 0; i < kValueVectors; ++i) row[i] = F16::load(vt + o * kD + c + i * kLanes);
      for (int64_t h = 0; h < NG; ++h) {
        const F16 w = F16::splat(p[h * stride + o]);
        for (int64_t i = 0; i < kValueVectors; ++i) sum[h][i] = sum[h][i].fma(w, row[i]);
      }
    }
    for (int64_t h = 0; h < NG; ++h)
      for (int64_t i = 0; i < kValueVectors; ++i) sum[h][i].store(acc + h * kD + c + i * kLanes);
  }
}

// f.template operator()<NG>(h0) for every chunk of up to kHeadChunk heads of the G.
template <typename F>
void for_head_chunks(int64_t G, F&& f) {
  for (int64_t h0 = 0; h0 < G; h0 += kHeadChunk) {
    switch (std::min(kHeadChunk, G - h0)) {
      case 1: f.template operator()<1>(h0); break;
      case 2: f.template operator()<2>(h0); break;
#if defined(__AVX512F__)
      case 3: f.template operator()<3>(h0); break;
      case 4: f.template operator()<4>(h0); break;
#endif
    }
  }
}

// True where the chunked loops apply: 16-key blocks, a head dim in whole value-vector groups.
template <int64_t kBS, int64_t kD>
constexpr bool kChunked = kBS == kLanes && kD > 0 && kD % (kValueVectors * kLanes) == 0;

// A task's fixed cost in keys' worth (its setup, softmax and output), for the split between threads.
constexpr int64_t kTaskCost = 16;

// Softmax of scores[0:n] in place (entries past n are left untouched).
void softmax(float* scores, int64_t n) {
  float top = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : top)
  for (int64_t j = 0; j < n; ++j) top = scores[j] > top ? scores[j] : top;
  float sum = 0.f;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < n; ++j) sum += (scores[j] = fast_exp(scores[j] - top));
  const float inv = 1.f / sum;
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) scores[j] *= inv;
}

// One row and KV heads [g0, g1): query heads g0*G .. g1*G-1 of q_row -> out_row. Keys at positions
// [first, len) are visible; whole blocks are computed and the scores' row starts at block `b0`. A block's
// tiles of neighbouring KV heads are neighbours in the cache, so each block is read as one run of g1 - g0
// tiles (a row's whole block where the thread holds the row), which the hardware prefetcher streams.
template <typename T, int64_t kBS, int64_t kD>
void attend(T* out_row, const T* q_row, const T* kc, const T* vc, const int64_t* table, int64_t len,
            const RowShape& s, float scale, Scratch& w, int64_t g0, int64_t g1) {
  const Dims<kBS, kD> dims(s.block_size, s.dim);
  const int64_t G = s.group(), D = dims.dim, bs = dims.bs, tile = D * bs, heads = (g1 - g0) * G;
  const int64_t first = s.window > 0 ? std::max<int64_t>(0, len - s.window) : 0;
  const int64_t b0 = first / bs, b1 = (len + bs - 1) / bs, stride = (b1 - b0) * bs, skip = first - b0 * bs;
  w.q.resize(heads * D);
  w.scores.assign(heads * stride, 0.f);
  w.acc.assign(heads * D, 0.f);
  for (int64_t i = 0; i < heads * D; ++i) w.q[i] = to_float(q_row[g0 * G * D + i]) * scale;
  const auto tiles = [&](const T* cache, int64_t b) { return cache + (table[b] * s.kv_heads + g0) * tile; };
  for (int64_t b = b0; b < b1; ++b) {
    for (int64_t g = 0; g < g1 - g0; ++g) {
      const T* kt = tiles(kc, b) + g * tile;
      float* scores = &w.scores[g * G * stride + (b - b0) * bs];
      const float* q = &w.q[g * G * D];
      if constexpr (kChunked<kBS, kD>) {
        for_head_chunks(G, [&]<int64_t NG>(int64_t h0) {
          chunk_scores<NG, kD>(scores + h0 * stride, stride, q + h0 * D, kt);
        });
      } else {
        block_scores(scores, stride, q, kt, G, dims);
      }
    }
  }
  const int64_t n = len - first;  // visible keys: scores[skip, skip + n) of each head's row
  for (int64_t h = 0; h < heads; ++h) {
    float* row = &w.scores[h * stride];
    softmax(row + skip, n);
    std::fill(row, row + skip, 0.f);
  }
  for (int64_t b = b0; b < b1; ++b) {
    const int64_t count = std::min(bs, len - b * bs);  // keys of this block up to the last position
    for (int64_t g = 0; g < g1 - g0; ++g) {
      const T* vt = tiles(vc, b) + g * tile;
      float* acc = &w.acc[g * G * D];
      const float* p = &w.scores[g * G * stride + (b - b0) * bs];
      if constexpr (kChunked<kBS, kD>) {
        for_head_chunks(G, [&]<int64_t NG>(int64_t h0) {
          chunk_values<NG, kD>(acc + h0 * D, p + h0 * stride, stride, vt, count);
        });
      } else {
        block_values(acc, p, stride, vt, count, G, dims);
      }
    }
  }
  for (int64_t i = 0; i < heads * D; ++i) out_row[g0 * G * D + i] = from_float<T>(w.acc[i]);
}

// Every task of the step for one (block size, head dim) specialisation, row by row (a row's KV heads are
// neighbours in a block), split between the threads by the keys each sees: a long prompt's last rows see
// far more than its first, and equal task counts left one thread with most of the work.
template <typename T, int64_t kBS, int64_t kD>
void attend_all(T* out, const T* q, int64_t q_stride, const T* kc, const T* vc, const int64_t* tables,
                const int64_t* lens, const RowShape& s, float scale, int64_t rows) {
  const int64_t parts = std::min<int64_t>(at::get_num_threads(), rows * s.kv_heads);
  const std::vector<int64_t> bounds = split_by_cost(rows * s.kv_heads, parts, [&](int64_t task) {
    const int64_t len = lens[task / s.kv_heads];
    return (s.window > 0 ? std::min(len, s.window) : len) + kTaskCost;
  });
  at::parallel_for(0, parts, 1, [&](int64_t begin, int64_t end) {
    Scratch scratch;
    for (int64_t task = bounds[begin]; task < bounds[end];) {  // the thread's share of each row at once
      const int64_t r = task / s.kv_heads, g0 = task % s.kv_heads;
      const int64_t g1 = std::min(s.kv_heads, g0 + bounds[end] - task);
      attend<T, kBS, kD>(out + r * s.heads * s.dim, q + r * q_stride, kc, vc, tables + r * s.table_width,
                         lens[r], s, scale, scratch, g0, g1);
      task += g1 - g0;
    }
  });
}

}  // namespace

// out [R, H, D] = softmax(q k^T * scale) v for every row r, keys 0..context_lens[r]-1 of its
// block table (only the last `window` when window > 0). q [R, H, D] with any row stride,
// k_cache [blocks, KVH, D, block_size], v_cache [blocks, KVH, block_size, D], block_tables [R, N] int64,
// context_lens [R] int64.
void paged_row_attention(at::Tensor out, at::Tensor q, at::Tensor k_cache, at::Tensor v_cache,
                         at::Tensor block_tables, at::Tensor context_lens, double scale, int64_t window) {
  check_cpu_contiguous(out, "out");
  check_cpu_contiguous(block_tables, "block_tables");
  INKWELL_CHECK(q.stride(2) == 1 && q.stride(1) == q.size(2), "q heads must be contiguous within a row");
  INKWELL_CHECK(k_cache.is_contiguous() && v_cache.is_contiguous(), "the KV caches must be contiguous");
  const RowShape s{q.size(1), v_cache.size(1), q.size(2), v_cache.size(2), block_tables.size(1), window};
  INKWELL_CHECK(s.heads % s.kv_heads == 0, "heads must be a multiple of KV heads");
  INKWELL_CHECK(k_cache.size(2) == s.dim && k_cache.size(3) == s.block_size, "k_cache must be [blocks, KVH, D, bs]");
  const int64_t rows = q.size(0), q_stride = q.stride(0);
  const int64_t* tables = block_tables.data_ptr<int64_t>();
  const int64_t* lens = context_lens.data_ptr<int64_t>();
  INKWELL_CHECK(context_lens.size(0) == rows && block_tables.size(0) == rows, "one table and length per row");
  for (int64_t r = 0; r < rows; ++r)
    INKWELL_CHECK(lens[r] >= 1 && lens[r] <= s.table_width * s.block_size, "context length ", lens[r],
                  " of row ", r, " is outside its block table");
  INKWELL_CHECK(s.block_size <= 256 && s.dim <= 512, "block size <= 256 and head dim <= 512 supported");
  dispatch_float(q, "q", [&]<typename T>() {
    const auto run = [&]<int64_t kBS, int64_t kD>() {
      attend_all<T, kBS, kD>(data<T>(out), data<T>(q), q_stride, data<T>(k_cache), data<T>(v_cache), tables, lens,
                             s, static_cast<float>(scale), rows);
    };
    if (s.block_size == 16 && s.dim == 64) {
      run.template operator()<16, 64>();
    } else if (s.block_size == 16 && s.dim == 128) {
      run.template operator()<16, 128>();
    } else {
      run.template operator()<0, 0>();
    }
  });
}

}  // namespace inkwell
