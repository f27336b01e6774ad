// Shared helpers of Inkwell's CPU kernels: element conversion (fp32 / bf16 storage, fp32 math),
// argument checks and the dtype dispatch. Loops are plain C++ written for the compiler's vectoriser
// (built with -O3 -march=native on the host, so AVX-512 or AVX2 is chosen at build time).
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <vector>

namespace inkwell {

// bfloat16 storage as its raw bits: plain integer ops keep the conversion loops vectorisable.
using bf16 = uint16_t;

inline float to_float(float v) { return v; }
inline float to_float(bf16 v) {
  const uint32_t bits = static_cast<uint32_t>(v) << 16;
  float out;
  std::memcpy(&out, &bits, sizeof(out));
  return out;
}

template <typename T> inline T from_float(float v);
template <> inline float from_float<float>(float v) { return v; }
template <> inline bf16 from_float<bf16>(float v) {  // round to nearest even, as torch does
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  return static_cast<bf16>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

// The tensor's data as T* (T = float, or bf16 bits for a bfloat16 tensor).
template <typename T> T* data(const at::Tensor& t) { return static_cast<T*>(t.data_ptr()); }

// e^x in float arithmetic only, so loops calling it vectorise (libm's expf does not): Cody-Waite range
// reduction x = n ln2 + f, |f| <= ln2 / 2, a degree-6 Taylor polynomial (relative error < 2e-7),
// then the exponent bits. Inputs are clamped to [-87.3, 88.7] (outputs from ~1e-38 to ~3e38).
inline float fast_exp(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.7f ? 88.7f : x);
  const int32_t ni = static_cast<int32_t>(x * 1.44269504f + 128.5f) - 128;  // round(x log2 e): the sum is > 0
  const float n = static_cast<float>(ni);
  const float f = x - n * 0.693145751953125f - n * 1.428606765330187e-06f;
  const float p = 1.f + f * (1.f + f * (0.5f + f * (0.16666667f + f * (0.041666668f + f * (0.008333334f + f * 0.0013888889f)))));
  const int32_t bits = (ni + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

#define INKWELL_CHECK(cond, ...) TORCH_CHECK(cond, "inkwell kernels: ", __VA_ARGS__)

inline void check_cpu_contiguous(const at::Tensor& t, const char* name) {
  INKWELL_CHECK(t.device().is_cpu(), name, " must be a CPU tensor");
  INKWELL_CHECK(t.is_contiguous(), name, " must be contiguous");
}

// Splits items [0, count) into `parts` consecutive runs of near-equal total cost(i): bounds[p] .. bounds[p+1]
// is run p (parts + 1 bounds). For work whose items differ in size, where at::parallel_for's equal counts
// would leave one thread waiting on the other.
template <typename Cost> std::vector<int64_t> split_by_cost(int64_t count, int64_t parts, Cost&& cost) {
  std::vector<int64_t> prefix{0};  // prefix[k] = cost of items [0, k)
  for (int64_t i = 0; i < count; ++i) prefix.push_back(prefix.back() + cost(i));
  std::vector<int64_t> bounds{0};
  for (int64_t p = 1; p < parts; ++p) {
    const int64_t target = prefix.back() * p / parts;
    const auto it = std::lower_bound(prefix.begin() + bounds.back(), prefix.end(), target);
    bounds.push_back(std::distance(prefix.begin(), it));
  }
  bounds.push_back(count);
  return bounds;
}

// Calls body.template operator()<T>() with T = float or bf16 for the tensor's dtype.
template <typename Body> void dispatch_float(const at::Tensor& t, const char* name, Body&& body) {
  if (t.scalar_type() == at::kFloat) {
    body.template operator()<float>();
  } else if (t.scalar_type() == at::kBFloat16) {
    body.template operator()<bf16>();
  } else {
    INKWELL_CHECK(false, name, " must be float32 or bfloat16, got ", t.scalar_type());
  }
}

}  // namespace inkwell
