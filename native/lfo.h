// The DX7's single global LFO (firmware, §8.1-§8.4), stepped once per CPU tick.
#pragma once
#include <cstdint>

namespace dx7 {

struct LfoParams {
  uint16_t inc = 11;     // phase increment per tick (§8.2)
  uint16_t delay_inc = 0;  // D (§8.3)
  bool has_delay = false;  // delay parameter != 0
  uint8_t wave = 0;
  bool sync = false;
  static LfoParams fromPatch(int speed, int delay, int wave, bool sync);
};

struct Lfo {
  uint16_t phase = 0;
  uint16_t delay_acc = 0;
  bool pinned = false;
  uint8_t fade = 0;
  uint8_t sh = 0;      // sample & hold generator state (seeded by Synth::reset)
  int8_t out = 0;      // current output s, -128..127

  void reset(uint8_t seed_byte) {
    phase = 0;
    delay_acc = 0;
    pinned = false;
    fade = 0;
    sh = seed_byte;
    out = 0;
  }
  // Key-on (every key-on in poly, first key in mono): delay restarts if delay != 0; phase to 0x7FFF
  // when LFO key sync is on (§8.3, §8.4).
  void keyOn(const LfoParams& p) {
    if (p.has_delay) {
      delay_acc = 0;
      pinned = false;
      fade = 0;
    }
    if (p.sync) phase = 0x7FFF;
  }
  void tick(const LfoParams& p);
};

}  // namespace dx7
