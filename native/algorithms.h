// The 32 DX7 algorithms (§3) as modulation graphs. Operators are indexed 0..5 = OP1..OP6.
#pragma once
#include <cstdint>

namespace dx7 {

struct Algorithm {
  uint8_t mods[6];     // bit m set in mods[o]: OP(m+1) modulates OP(o+1)
  uint8_t targets[6];  // bit t set in targets[o]: OP(o+1) modulates OP(t+1) (inverse of mods)
  uint8_t carriers;    // bit o set: OP(o+1) is a carrier
  int8_t fb_op;        // operator with self-feedback, or -1 for the loop algorithms
  int8_t loop_from;    // algorithms 4/6: operator whose output is fed back into OP6 (else -1)
};

// algorithm: 0..31
const Algorithm& algorithm(int index);

}  // namespace dx7
