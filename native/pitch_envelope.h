// Pitch envelope generator (firmware, §7): one per voice, run by the CPU every second tick.
// Level is the firmware's 16-bit word, 0x4000 = no offset, 4096 units per octave.
#pragma once
#include <cstdint>

#include "tables.h"

namespace dx7 {

struct PitchEnvelope {
  int32_t level = 0x4000;
  uint8_t stage = 5;  // 0..2 toward L1..L3, 3 hold (key down), 4 toward L4 (released), 5 stopped

  static int32_t targetOf(const uint8_t* levels, int idx) {
    return int32_t(tables::kPitchEgLevel[levels[idx]]) << 7;
  }
  // Key-on: level reset to the L4 value, stage 0 (§7).
  void keyOn(const uint8_t* levels) {
    level = targetOf(levels, 3);
    stage = 0;
  }
  void keyOff() {
    if (stage < 4) stage = 4;
  }
  // No update can change the level until the next key event: every target still ahead equals it.
  bool settled(const uint8_t* levels) const {
    if (stage == 3 || stage == 5) return true;
    if (stage == 4) return targetOf(levels, 3) == level;
    for (int s = stage; s < 3; ++s)
      if (targetOf(levels, s) != level) return false;
    return true;
  }
  // One pitch-EG update (every second CPU tick). Stepping is linear in log pitch; the segment ends
  // when the high bytes match and the level snaps to the target (§7).
  void update(const uint8_t* rates, const uint8_t* levels) {
    if (stage == 3 || stage == 5) return;
    const int idx = stage == 4 ? 3 : stage;
    const int32_t t = targetOf(levels, idx);
    if ((level >> 8) != (t >> 8)) {
      const int32_t pr = tables::kPitchEgRate[rates[idx]];
      level += level < t ? pr : -pr;
    }
    if ((level >> 8) == (t >> 8)) {
      level = t;
      stage = stage == 4 ? 5 : stage + 1;
    }
  }
};

}  // namespace dx7
