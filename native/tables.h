// Firmware and measured tables of the DX7 Mark I (values from /work/shared/DX7-FACTS.md, cited per table).
#pragma once
#include <cstdint>

namespace dx7 {
namespace tables {

extern const uint8_t kLog[100];               // §5.1 / A1 TABLE_LOG: attenuation, 0.75 dB units
extern const uint8_t kKlsExp[39];             // §5.3 / A2 EXP curve (+3 overflow entries read by the ROM)
extern const uint8_t kKlsLin[39];             // §5.3 / A2 LIN curve (+3 overflow entries)
extern const int16_t kCoarse[32];             // §4.2 / A3 TABLE_OP_FREQ_COARSE (4096 per octave)
extern const int16_t kFine[100];              // §4.2 / A4 TABLE_OP_FREQ_FINE
extern const int32_t kFixed[4];               // §4.3 fixed-mode decades
extern const uint8_t kPitchEgRate[100];       // §7 / A5 TABLE_PITCH_EG_RATE (also portamento, §11.4)
extern const uint8_t kPitchEgLevel[100];      // §7 / A6 TABLE_PITCH_EG_LEVEL
extern const uint8_t kAmpMod[256];            // §8.6 / A7 TABLE_AMP_MOD
extern const uint8_t kLfoSin[64];             // §8.4 / A8 TABLE_LFO_SIN
extern const uint8_t kMidiVel[32];            // §5.2 / A12 TABLE_MIDI_VEL
extern const uint8_t kVelScale[32];           // §5.2 / A12 TABLE_OP_VOLUME_VELOCITY_SCALE
extern const uint8_t kPitchBend[128];         // §8.7 / A13 TABLE_PITCH_BEND
extern const uint8_t kPitchBendCents[13];     // §8.7 CENTS[range]
extern const uint8_t kPitchBendStepMult[13];  // §8.7 MULT[step]
extern const uint16_t kPitchBendStepSize[13]; // §8.7 SIZE[step]
extern const uint8_t kPms[8];                 // §8.5 PMS_T
extern const uint8_t kAms[4];                 // §8.6 AMS factors out of 255 (msfa ampmodsenstab)
extern const uint32_t kStaticHold44k[77];     // §6.5 / A14 Dexed `statics`, hold samples at 44.1 kHz

// Key -> key code (§4.1 TABLE_MIDI_KEY_TO_LOG_F, by its verified formula).
inline int keyCode(int k) {
  int s = k - 1 < 0 ? 0 : k - 1;
  int n = s % 12;
  return 16 * (s / 12) + n + n / 3;
}
// §4.1 step 3: 16-bit key pitch from a key code.
inline int keyPitch(int kc) { return 256 * kc + 84 * (kc & 3); }

// Linear operator amplitude for an EG level in µsteps (§5.4): 2^((lev-3840)/256), indices 0..4095.
extern float kLevelToAmp[4096];
// One full sine cycle of 4096 steps in Q15 (the OPS's 4096-step sine, §10.1), used by feedback operators.
extern int32_t kSineQ15[4096];

}  // namespace tables
}  // namespace dx7
