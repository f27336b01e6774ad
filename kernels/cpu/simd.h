// Sixteen fp32 lanes, loaded from and stored to fp32 or bf16 memory, for kernels whose accumulators must
// stay in registers: AVX-512 intrinsics when the build host has them (-march=native), else a plain
// 16-float struct that the compiler maps onto AVX2 (two 8-lane registers).
#pragma once

#include "common.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace inkwell {

constexpr int64_t kLanes = 16;

#if defined(__AVX512F__)

struct F16 {
  __m512 v;
  static F16 zero() { return {_mm512_setzero_ps()}; }
  static F16 splat(float x) { return {_mm512_set1_ps(x)}; }
  static F16 load(const float* p) { return {_mm512_loadu_ps(p)}; }
  static F16 load(const bf16* p) {
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return {_mm512_castsi512_ps(_mm512_slli_epi32(wide, 16))};
  }
  void store(float* p) const { _mm512_storeu_ps(p, v); }
  void store(bf16* p) const {  // round to nearest even, as from_float<bf16> (and torch) does
#if defined(__AVX512BF16__)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v)));
#else
    const __m512i bits = _mm512_castps_si512(v);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    const __m512i rounded = _mm512_add_epi32(bits, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7FFF)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(_mm512_srli_epi32(rounded, 16)));
#endif
  }
  F16 fma(F16 a, F16 b) const { return {_mm512_fmadd_ps(a.v, b.v, v)}; }  // this + a * b
  F16 add(F16 o) const { return {_mm512_add_ps(v, o.v)}; }
  float sum() const { return _mm512_reduce_add_ps(v); }
  F16 max(F16 o) const { return {_mm512_max_ps(v, o.v)}; }  // NaN lanes are not propagated: see any_nan
  float max_lane() const { return _mm512_reduce_max_ps(v); }
  bool any_nan() const { return _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) != 0; }
  uint32_t equal_mask(F16 o) const { return _mm512_cmp_ps_mask(v, o.v, _CMP_EQ_OQ); }  // bit i: lane i equal
};

#else

struct F16 {
  float v[kLanes];
  static F16 zero() { return splat(0.f); }
  static F16 splat(float x) {
    F16 r;
    for (int64_t i = 0; i < kLanes; ++i) r.v[i] = x;
    return r;
  }
  template <typename T> static F16 load(const T* p) {
    F16 r;
    for (int64_t i = 0; i < kLanes; ++i) r.v[i] = to_float(p[i]);
    return r;
  }
  template <typename T> void store(T* p) const {
    for (int64_t i = 0; i < kLanes; ++i) p[i] = from_float<T>(v[i]);
  }
  F16 fma(F16 a, F16 b) const {
    F16 r;
    for (int64_t i = 0; i < kLanes; ++i) r.v[i] = v[i] + a.v[i] * b.v[i];
    return r;
  }
  F16 add(F16 o) const {
    F16 r;
    for (int64_t i = 0; i < kLanes; ++i) r.v[i] = v[i] + o.v[i];
    return r;
  }
  float sum() const {
    float s = 0.f;
    for (int64_t i = 0; i < kLanes; ++i) s += v[i];
    return s;
  }
  F16 max(F16 o) const {
    F16 r;
    for (int64_t i = 0; i < kLanes; ++i) r.v[i] = o.v[i] > v[i] ? o.v[i] : v[i];
    return r;
  }
  float max_lane() const {
    float m = v[0];
    for (int64_t i = 1; i < kLanes; ++i) m = v[i] > m ? v[i] : m;
    return m;
  }
  bool any_nan() const {
    bool nan = false;
    for (int64_t i = 0; i < kLanes; ++i) nan |= v[i] != v[i];
    return nan;
  }
  uint32_t equal_mask(F16 o) const {
    uint32_t mask = 0;
    for (int64_t i = 0; i < kLanes; ++i) mask |= static_cast<uint32_t>(v[i] == o.v[i]) << i;
    return mask;
  }
};

#endif

}  // namespace inkwell
