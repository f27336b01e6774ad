// Fused elementwise ops of one decoder layer: RMSNorm (optionally with the residual add), rotary
// embedding of q/k with the KV-cache write, and SiLU(gate) * up. Math in fp32, storage fp32 or bf16.
// Roundings follow the eager torch model where it rounds (residual sum, normalised value before the
// weight), so fp32 results equal it within float error and bf16 results within one bf16 ulp.
#include "common.h"

#include <algorithm>
#include <cmath>

namespace inkwell {
namespace {

// Rows per parallel task: about 4k elements, so a decode batch's rows are split between the threads too.
// Each thread of the GEMM before wrote its own columns of every row, so one thread reading all of them
// waits on the other cores' caches: at 16 rows x 576 (SmolLM2, bf16, 2 threads) the norms, rope and
// SiLU x up of a step took 1.2-1.7 ms on one thread (32k elements a task) and 0.8-1.2 split (PERFORMANCE.md,
// sixteenth pass).
inline int64_t row_grain(int64_t dim) { return std::max<int64_t>(1, 4096 / dim); }

// out[t] = w * round(x[t] / rms(x[t])); when `residual` is given, first residual[t] = round(residual[t] + x[t])
// and the norm reads the new residual.
template <typename T>
void norm_rows(T* out, T* x, T* residual, const T* w, int64_t rows, int64_t dim, float eps) {
  at::parallel_for(0, rows, row_grain(dim), [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      T* src = x + t * dim;
      if (residual != nullptr) {
        T* res = residual + t * dim;
        for (int64_t i = 0; i < dim; ++i) res[i] = from_float<T>(to_float(res[i]) + to_float(src[i]));
        src = res;
      }
      float sum = 0.f;
#pragma omp simd reduction(+ : sum)
      for (int64_t i = 0; i < dim; ++i) sum += to_float(src[i]) * to_float(src[i]);
      const float inv = 1.f / std::sqrt(sum / static_cast<float>(dim) + eps);
      T* dst = out + t * dim;
      for (int64_t i = 0; i < dim; ++i) {
        const float normed = to_float(from_float<T>(to_float(src[i]) * inv));
        dst[i] = from_float<T>(to_float(w[i]) * normed);
      }
    }
  });
}

template <typename T>
void rotate_head(T* head, const float* cos, const float* sin, int64_t half) {
  for (int64_t i = 0; i < half; ++i) {
    const float a = to_float(head[i]), b = to_float(head[i + half]);
    head[i] = from_float<T>(a * cos[i] - b * sin[i]);
    head[i + half] = from_float<T>(b * cos[i] + a * sin[i]);
  }
}

}  // namespace

// x [T, dim] -> out [T, dim]; weight [dim].
void rms_norm(at::Tensor out, at::Tensor x, at::Tensor weight, double eps) {
  check_cpu_contiguous(x, "x");
  INKWELL_CHECK(weight.scalar_type() == x.scalar_type() && out.scalar_type() == x.scalar_type(), "dtypes differ");
  check_cpu_contiguous(out, "out");
  dispatch_float(x, "x", [&]<typename T>() {
    norm_rows<T>(data<T>(out), data<T>(x), nullptr, data<T>(weight), x.size(0), x.size(1),
                 static_cast<float>(eps));
  });
}

// residual [T, dim] += delta [T, dim] (in place), then out [T, dim] = rms_norm(residual) * weight.
void add_rms_norm(at::Tensor out, at::Tensor delta, at::Tensor residual, at::Tensor weight, double eps) {
  check_cpu_contiguous(delta, "delta");
  check_cpu_contiguous(residual, "residual");
  INKWELL_CHECK(weight.scalar_type() == delta.scalar_type() && residual.scalar_type() == delta.scalar_type(),
                "dtypes differ");
  check_cpu_contiguous(out, "out");
  dispatch_float(delta, "delta", [&]<typename T>() {
    norm_rows<T>(data<T>(out), data<T>(delta), data<T>(residual), data<T>(weight),
                 delta.size(0), delta.size(1), static_cast<float>(eps));
  });
}

// qkv [T, (H + 2 * KVH) * D]: rotate the q and k heads in place by positions [T] (cos_sin [P, D] fp32,
// cos in the first D/2 columns), then copy k into k_cache [blocks, KVH, D, block_size] and v into
// v_cache [blocks, KVH, block_size, D] at the flat slots slot_mapping [T] (slot = block * block_size + offset).
void rope_and_store_kv(at::Tensor qkv, at::Tensor positions, at::Tensor cos_sin, at::Tensor k_cache,
                       at::Tensor v_cache, at::Tensor slot_mapping, int64_t num_heads, int64_t num_kv_heads) {
  check_cpu_contiguous(qkv, "qkv");
  check_cpu_contiguous(cos_sin, "cos_sin");
  INKWELL_CHECK(k_cache.is_contiguous() && v_cache.is_contiguous(), "the KV caches must be contiguous");
  INKWELL_CHECK(k_cache.scalar_type() == qkv.scalar_type(), "the KV cache dtype must equal qkv's");
  const int64_t rows = qkv.size(0), dim = cos_sin.size(1), half = dim / 2, block_size = v_cache.size(2);
  const int64_t width = (num_heads + 2 * num_kv_heads) * dim;
  INKWELL_CHECK(qkv.size(1) == width, "qkv has ", qkv.size(1), " columns, expected ", width);
  const int64_t* pos = positions.data_ptr<int64_t>();
  const int64_t* slots = slot_mapping.data_ptr<int64_t>();
  const float* table = cos_sin.data_ptr<float>();
  dispatch_float(qkv, "qkv", [&]<typename T>() {
    T* base = data<T>(qkv);
    T* kc = data<T>(k_cache);
    T* vc = data<T>(v_cache);
    at::parallel_for(0, rows, row_grain(width), [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const float* cos = table + pos[t] * dim;
        T* row = base + t * width;
        for (int64_t h = 0; h < num_heads + num_kv_heads; ++h) rotate_head<T>(row + h * dim, cos, cos + half, half);
        const int64_t block = slots[t] / block_size, offset = slots[t] % block_size;
        for (int64_t h = 0; h < num_kv_heads; ++h) {
          const int64_t tile = (block * num_kv_heads + h) * block_size * dim;
          const T* key = row + (num_heads + h) * dim;
          for (int64_t d = 0; d < dim; ++d) kc[tile + d * block_size + offset] = key[d];  // [D, bs] tile
          std::memcpy(vc + tile + offset * dim, row + (num_heads + num_kv_heads + h) * dim, dim * sizeof(T));
        }
      }
    });
  });
}

// gate_up [T, 2 * I] -> out [T, I] = silu(gate) * up.
void silu_and_mul(at::Tensor out, at::Tensor gate_up) {
  check_cpu_contiguous(gate_up, "gate_up");
  check_cpu_contiguous(out, "out");
  const int64_t rows = gate_up.size(0), inter = out.size(1);
  dispatch_float(gate_up, "gate_up", [&]<typename T>() {
    const T* src = data<T>(gate_up);
    T* dst = data<T>(out);
    at::parallel_for(0, rows, row_grain(inter), [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const T* gate = src + t * 2 * inter;
        const T* up = gate + inter;
        T* o = dst + t * inter;
#pragma omp simd
        for (int64_t i = 0; i < inter; ++i) {
          const float g = to_float(gate[i]);
          o[i] = from_float<T>(g / (1.f + fast_exp(-g)) * to_float(up[i]));
        }
      }
    });
  });
}

}  // namespace inkwell
