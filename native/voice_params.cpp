#include "voice_params.h"

#include <cstring>

#include "tables.h"

namespace dx7 {

int vcedMax(int param) {
  if (param < 126) {
    static const uint8_t kOpMax[21] = {99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
                                       3,  3,  7,  3,  7,  99, 1,  31, 99, 14};
    return kOpMax[param % 21];
  }
  static const uint8_t kGlobalMax[30] = {99, 99, 99, 99, 99, 99, 99, 99, 31, 7,
                                         1,  99, 99, 99, 99, 1,  5,  7,  48,
                                         127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 63};
  if (param < 156) return kGlobalMax[param - 126];
  return 0;
}

int velocityAttenuation(int midi_velocity, int kvs) {
  int iv = tables::kMidiVel[(midi_velocity & 127) >> 2];
  int scale = tables::kVelScale[iv >> 2];
  int v = ((32 * kvs * scale) >> 8) + 15 - 2 * kvs;
  return v > 255 ? 255 : v;
}

namespace {

// §5.3: keyboard level scaling curve per key group (firmware algorithm).
void computeKls(OperatorParams& op, int bp, int ld, int rd, int lc, int rc) {
  const int b = tables::keyCode(bp + 20) >> 2;
  const int d8l = (ld * 660) >> 8, d8r = (rd * 660) >> 8;
  for (int j = 0; j < 43; ++j) {
    const int i = j + 1;
    int v, curve;
    if (i > b) {
      curve = rc;
      const uint8_t* c = (curve == 1 || curve == 2) ? tables::kKlsExp : tables::kKlsLin;
      v = (c[i - b] * d8r) >> 8;
    } else {
      curve = lc;
      const uint8_t* c = (curve == 1 || curve == 2) ? tables::kKlsExp : tables::kKlsLin;
      v = (c[b - i] * d8l) >> 8;
    }
    if (v >= 128) v = 127;
    int a = tables::kLog[op.output_level];
    if (curve <= 1) {
      a += v;
      if (a > 127) a = 127;
    } else {
      a -= v;
      if (a < 0) a = 0;
    }
    op.kls[j] = (uint8_t)(2 * a);
  }
}

}  // namespace

void activatePatch(Patch& p) {
  const uint8_t* v = p.vced;
  for (int o = 0; o < 6; ++o) {
    const uint8_t* s = v + 21 * (5 - o);  // VCED stores OP6 first
    OperatorParams& op = p.op[o];
    for (int k = 0; k < 4; ++k) {
      op.rate[k] = s[k];
      op.level[k] = s[4 + k];
      op.qrate[k] = (uint8_t)((s[k] * 41) >> 6);
      op.eg_att[k] = (uint8_t)(tables::kLog[s[4 + k]] >> 1);
    }
    op.rate_scaling = s[13];
    op.ams = s[14];
    op.kvs = s[15];
    op.output_level = s[16];
    op.fixed = s[17] != 0;
    op.coarse = s[18];
    op.fine = s[19];
    op.detune = s[20];
    computeKls(op, s[8], s[9], s[10], s[11], s[12]);
    if (op.fixed) {
      op.op_pitch = 0x16AC + tables::kFixed[op.coarse & 3] + 136 * op.fine;  // §4.3
    } else {
      op.op_pitch = (0x232C + tables::kCoarse[op.coarse] + tables::kFine[op.fine]) & ~1;  // §4.2
    }
  }
  for (int k = 0; k < 4; ++k) {
    p.peg_rate[k] = v[126 + k];
    p.peg_level[k] = v[130 + k];
  }
  p.algorithm = v[134];
  p.feedback = v[135];
  p.osc_sync = v[136] != 0;
  p.lfo_speed = v[137];
  p.lfo_delay = v[138];
  p.pmd = v[139];
  p.amd = v[140];
  p.lfo_sync = v[141] != 0;
  p.lfo_wave = v[142];
  p.pms = v[143];
  p.transpose = v[144];
  p.lfo = LfoParams::fromPatch(p.lfo_speed, p.lfo_delay, p.lfo_wave, p.lfo_sync);
  p.pmd8 = (uint8_t)((p.pmd * 660) >> 8);
  p.amd8 = (uint8_t)((p.amd * 660) >> 8);
}

void unpackPatch(const uint8_t* data, size_t n, Patch& out) {
  for (int i = 0; i < 155; ++i) {
    int x = (size_t)i < n ? data[i] : 0;
    int mx = vcedMax(i);
    out.vced[i] = (uint8_t)(x > mx ? mx : x);  // §1.7: clamp at load
  }
  out.vced[155] = n >= 156 ? (uint8_t)(data[155] & 0x3F) : 0x3F;
  activatePatch(out);
}

void initPatch(Patch& out) {
  uint8_t v[156];
  std::memset(v, 0, sizeof v);
  for (int o = 0; o < 6; ++o) {
    uint8_t* s = v + 21 * o;
    s[0] = s[1] = s[2] = s[3] = 99;
    s[4] = s[5] = s[6] = 99;
    s[7] = 0;
    s[8] = 39;
    s[18] = 1;    // coarse 1
    s[20] = 7;    // detune centre
  }
  v[21 * 5 + 16] = 99;  // OP1 output level
  for (int k = 0; k < 4; ++k) {
    v[126 + k] = 99;
    v[130 + k] = 50;
  }
  v[137] = 35;  // LFO speed
  v[140 - 0] = 0;
  v[141] = 1;   // LFO sync
  v[143] = 3;   // PMS
  v[144] = 24;  // transpose C3
  const char* name = "INIT VOICE";
  for (int i = 0; i < 10; ++i) v[145 + i] = (uint8_t)name[i];
  v[155] = 0x3F;
  unpackPatch(v, 156, out);
}

}  // namespace dx7
