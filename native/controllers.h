// Function parameters (§1.6, global, not part of a voice) and the performance controllers, with the
// firmware's pitch-bend (§8.7) and modulation-register (§8.5, §8.6) arithmetic.
#pragma once
#include <cstdint>

#include "tables.h"

namespace dx7 {

struct FunctionParams {
  // Index = function parameter number - 64 (64..77).
  uint8_t v[14] = {0, 2, 0, 0, 0, 0, 99, 1, 0, 0, 0, 0, 0, 0};
  static int maxOf(int param) {
    static const uint8_t kMax[14] = {1, 12, 12, 1, 1, 99, 99, 7, 99, 7, 99, 7, 99, 7};
    return (param >= 64 && param <= 77) ? kMax[param - 64] : -1;
  }
  bool mono() const { return v[0] != 0; }
  int bendRange() const { return v[1]; }
  int bendStep() const { return v[2]; }
  int portaMode() const { return v[3]; }
  bool glissando() const { return v[4] != 0; }
  int portaTime() const { return v[5]; }
  // source 0 = mod wheel, 1 = foot, 2 = breath, 3 = aftertouch
  int range(int src) const { return v[6 + 2 * src]; }
  int assign(int src) const { return v[7 + 2 * src]; }
};

struct Controllers {
  uint8_t input[4] = {0, 0, 0, 0};  // mod wheel, foot, breath, aftertouch as 0..254 (§8.8)
  uint8_t bend7 = 64;               // pitch-bend MSB (LSB ignored, §8.7)
  bool sustain = false;
  bool portamento = false;          // CC65 / pedal switch
  uint8_t volume7 = 127;            // CC7
  void resetControllers() {
    for (auto& i : input) i = 0;
    bend7 = 64;
    sustain = false;
    portamento = false;
  }
};

inline int sat255(int x) { return x > 255 ? 255 : x; }

// §8.7: pitch-bend value in pitch-mod units (16384 per octave).
inline int pitchBendValue(int bend7, int range, int step) {
  const int x = tables::kPitchBend[bend7 & 127];
  const int b = (int8_t)(uint8_t)(((x << 1) & 0xFF) ^ 0x80);
  if (step == 0) {
    if (range >= 12) return b == 126 ? 0x3FFF : b * 128;
    const int cents = tables::kPitchBendCents[range];
    if (b >= 0) return ((2 * b) * cents) >> 2;
    const int nb = ~b;  // -128 -> 127
    return ~(((2 * nb) * cents) >> 2);
  }
  const int mag = b < 0 ? -b : b;
  const int n = (mag * tables::kPitchBendStepMult[step]) >> 8;
  const int v = n * tables::kPitchBendStepSize[step];
  return b < 0 ? -v : v;
}

// Sum of the scaled inputs of every source assigned to `bit` (b0 pitch, b1 amp, b2 EG bias), §8.8.
inline int sourceSum(const FunctionParams& fn, const Controllers& c, int bit, bool ranges_only) {
  int sum = 0;
  for (int s = 0; s < 4; ++s) {
    if (!((fn.assign(s) >> bit) & 1)) continue;
    const int range8 = (fn.range(s) * 660) >> 8;
    sum = sat255(sum + (ranges_only ? range8 : (range8 * c.input[s]) >> 8));
  }
  return sum;
}

}  // namespace dx7
