// Branch-free sine of a Q24 phase (2^24 = one cycle), written so that GCC vectorises loops over it
// with plain SSE2: sin(2πu) = sign(u)·cos(2π(|u| − ¼)) with an even degree-6 polynomial for the
// cosine on [−¼, ¼] cycle. Max error 7e-6 (≈17 bits); the OPS itself uses a 4096-step table
// (§10.1), so this is more precise than the hardware.
#pragma once
#include <cmath>
#include <cstdint>

namespace dx7 {

inline float sineQ24(uint32_t phase) {
  // The low 24 bits are the position in the cycle: move them to the top and read as signed,
  // giving u in [-0.5, 0.5) cycles.
  const float u = (float)(int32_t)(phase << 8) * (1.0f / 4294967296.0f);
  const float b = std::fabs(u) - 0.25f;
  const float z = b * b;
  const float c = ((-78.2097396850586f * z + 64.65995025634766f) * z - 19.73573875427246f) * z +
                  0.9999932646751404f;
  return std::copysign(c, u);
}

}  // namespace dx7
