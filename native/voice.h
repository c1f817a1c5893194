// One DX7 voice: six operators with their envelopes, phases and gains for the current block, and
// the block renderer (the hot loop). Everything the voice needs from the instrument comes in a
// RenderContext so this file knows nothing about events or allocation.
#pragma once
#include <cstdint>

#include "algorithms.h"
#include "envelope.h"
#include "pitch_envelope.h"
#include "voice_params.h"

namespace dx7 {

constexpr int kMaxBlock = 192;      // longest block between control points (see Synth)
constexpr int kSilentLevel = 40;    // µsteps: below this an operator is treated as silent (-90 dB)

struct RenderContext {
  const Patch* patch;
  const Algorithm* alg;
  bool fb_on;          // feedback > 0
  int fb_shift;        // right shift of (y[n-1] + y[n-2]) for the phase offset (§9)
  bool loop;           // algorithms 4/6 with feedback: sample-by-sample loop
  uint8_t loop_mask;   // operators inside the loop
  float carrier_scale; // output scale of a carrier at amplitude 1.0 (0.25 x volume)
  // scratch (owned by the Synth)
  int32_t (*obuf)[kMaxBlock];  // [6][kMaxBlock]
  int32_t* sum;
};

struct Voice {
  // key state
  int note = -1;           // MIDI key that started the voice
  int velocity = 0;
  int key = 60;            // k = note + transpose - 24 after the firmware's wrap (§4.1)
  bool key_held = false;
  bool sustained = false;
  bool idle = true;        // at rest and silent: skipped entirely
  uint64_t idle_since = 0; // frame at which it went idle (phases catch up when it wakes)

  Envelope eg[6];          // envelope state at the start of the current block
  Envelope la[6];          // envelope state at the end of the current block (look-ahead)
  int32_t oplvl[6] = {255, 255, 255, 255, 255, 255};
  uint32_t phase[6] = {0, 0, 0, 0, 0, 0};
  uint32_t inc[6] = {0, 0, 0, 0, 0, 0};
  // Feedback history: the self-feedback operator keeps its last two feedback terms (Q32 phase
  // units, already scaled by the feedback amount); the 4/6 loops keep the last two loop outputs.
  int32_t fb_y1 = 0, fb_y2 = 0;

  // gains over the current block: g(k) = g0 + dg * k, k = frames since the block start
  float g0[6] = {0, 0, 0, 0, 0, 0};
  float dg[6] = {0, 0, 0, 0, 0, 0};
  uint8_t needed = 0;       // operators whose output reaches the audio this block
  uint8_t moving = 0;       // operators whose envelope moves this block (la holds the end state)
  bool audible = false;

  // pitch (4096 units per octave, §4.1)
  int32_t porta_pitch = 0;  // current (gliding) key pitch P
  int32_t porta_target = 0;
  int gliss_key = 60;       // glissando: sounding key (§11.4)
  PitchEnvelope peg;
  double detune[6] = {0, 0, 0, 0, 0, 0};  // detune in pitch units, fixed at note-on (§4.4)
  double opmul[6] = {0, 0, 0, 0, 0, 0};   // 2^((op pitch + detune - 5804)/4096) * 2^24 / fs
  float scale[6] = {0, 0, 0, 0, 0, 0};    // gain scale of this block (carrier or phase units)
  bool pitch_cache_valid = false;         // inc[] is up to date for pitch_cache (V, LFO, bend)
  int32_t pitch_cache[3] = {0, 0, 0};

  // Render `n` frames starting `k0` frames after the block start, adding into out.
  void render(const RenderContext& ctx, float* out, int k0, int n);
};

}  // namespace dx7
