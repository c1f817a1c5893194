// Branch-free sine of a Q24 phase (2^24 = one cycle), written so that GCC vectorises loops over it
// with plain SSE2. Odd degree-7 polynomial on a quarter wave, max error 7e-7 (the OPS itself uses a
// 4096-step table, §10.1, so this is far more precise than the hardware).
#pragma once
#include <cmath>
#include <cstdint>

namespace dx7 {

inline float sineQ24(uint32_t phase) {
  // Low 24 bits are the position in the cycle; shift them to the top and read as signed, so
  // u = phase in cycles folded to [-0.5, 0.5).
  float u = (float)(int32_t)(phase << 8) * (1.0f / 4294967296.0f);
  float a = std::fabs(u);
  float f = std::copysign(0.25f - std::fabs(a - 0.25f), u);  // fold to [-0.25, 0.25] cycles
  float z = f * f;
  float p = ((-70.9896240234375f * z + 81.3403549194336f) * z - 41.33713150024414f) * z +
            6.283164024353027f;
  return f * p;
}

}  // namespace dx7
