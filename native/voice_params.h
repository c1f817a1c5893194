// A DX7 voice (patch): the 155 VCED parameters clamped to their ranges (§1.5, §1.7) and the values
// the firmware derives from them when the patch is activated (§13 "per patch load").
#pragma once
#include <cstddef>
#include <cstdint>

#include "lfo.h"

namespace dx7 {

constexpr int kVcedSize = 155;

struct OperatorParams {
  uint8_t rate[4], level[4];
  uint8_t qrate[4];       // (R * 41) >> 6 (§6.1)
  uint8_t eg_att[4];      // TABLE_LOG[L] >> 1 (§5.1)
  uint8_t rate_scaling, ams, kvs, output_level;
  bool fixed;
  uint8_t coarse, fine, detune;
  uint8_t kls[43];        // per key group: 2 * attenuation incl. output level (§5.3)
  int32_t op_pitch;       // EGS operator pitch word (§4.2 ratio / §4.3 fixed), 4096 per octave
};

struct Patch {
  uint8_t vced[156];      // clamped parameters; [155] = operator on/off bits (bit5 OP1 .. bit0 OP6)
  OperatorParams op[6];   // op[0] = OP1 ... op[5] = OP6
  uint8_t peg_rate[4], peg_level[4];
  uint8_t algorithm, feedback;
  bool osc_sync;
  uint8_t lfo_speed, lfo_delay, pmd, amd, lfo_wave, pms;
  bool lfo_sync;
  uint8_t transpose;
  LfoParams lfo;
  uint8_t pmd8, amd8;     // (depth * 660) >> 8 (§8.5, §8.6)

  // o = 0 for OP1; the on/off byte has bit 5 = OP1 ... bit 0 = OP6 (§1.5)
  bool opEnabled(int o) const { return (vced[155] >> (5 - o)) & 1; }
};

// Maximum value of each VCED parameter 0..155 (§1.5).
int vcedMax(int param);
// Build a patch from 155 or 156 bytes of any values (clamped; 155 bytes -> all operators on).
void unpackPatch(const uint8_t* data, size_t n, Patch& out);
// Re-derive everything from out.vced (after a parameter change).
void activatePatch(Patch& p);
// The "INIT VOICE" (§1.5 defaults: algorithm 1, OP1 at output level 99, others 0).
void initPatch(Patch& out);

// §5.2: velocity attenuation (0.375 dB units) for MIDI velocity and key velocity sensitivity.
int velocityAttenuation(int midi_velocity, int kvs);

}  // namespace dx7
