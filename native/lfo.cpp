#include "lfo.h"

#include "tables.h"

namespace dx7 {

LfoParams LfoParams::fromPatch(int speed, int delay, int wave, bool sync) {
  LfoParams p;
  // §8.2 speed -> increment per tick
  if (speed == 0) {
    p.inc = 11;
  } else {
    int a = (speed * 660) >> 8;
    p.inc = (uint16_t)(a < 160 ? a * 11 : a * (11 + ((a - 160) >> 2)));
  }
  // §8.3 delay increment
  int a = 99 - delay;
  p.delay_inc = (uint16_t)((16 + (a & 15)) << (2 + (a >> 4)));
  p.has_delay = delay != 0;
  p.wave = (uint8_t)wave;
  p.sync = sync;
  return p;
}

void Lfo::tick(const LfoParams& p) {
  // §8.3 delay and fade-in
  if (!pinned) {
    uint32_t acc = (uint32_t)delay_acc + p.delay_inc;
    if (acc > 0xFFFF) {
      delay_acc = 0xFFFF;
      pinned = true;
    } else {
      delay_acc = (uint16_t)acc;
    }
  }
  if (pinned) {
    int step = p.delay_inc >> 8;
    int f = fade + (step < 1 ? 1 : step);
    fade = (uint8_t)(f > 255 ? 255 : f);
  }
  // §8.2 phase, §8.4 waves
  const uint16_t old = phase;
  phase = (uint16_t)(phase + p.inc);
  const int h = phase >> 8;
  switch (p.wave) {
    case 0: {  // triangle
      int t = (phase >> 7) & 0xFF;
      if (phase >= 0x8000) t = 255 - t;
      out = (int8_t)(uint8_t)(t + 128);
      break;
    }
    case 1: out = (int8_t)(uint8_t)~h; break;                   // saw down
    case 2: out = (int8_t)(uint8_t)h; break;                    // saw up
    case 3: out = phase < 0x8000 ? 127 : -128; break;           // square
    case 4: {                                                   // sine
      int i = h & 63;
      if (h & 64) i ^= 63;
      int v = tables::kLfoSin[i];
      out = (int8_t)(h < 128 ? v : -v - 1);
      break;
    }
    default:  // 5: sample & hold, new value when the phase crosses 0x7FFF -> 0x8000
      if (old < 0x8000 && (uint32_t)old + p.inc >= 0x8000) sh = (uint8_t)(sh * 179 + 0x11);
      out = (int8_t)sh;
      break;
  }
}

}  // namespace dx7
