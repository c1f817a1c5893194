// The instrument: voices, allocation (§11), controllers, the CPU tick (LFO, pitch EG, portamento),
// timed events and block rendering. See docs/architecture.md for the contract.
//
// Timing model. Time is counted in output frames since reset. The CPU tick (§0.3, 372.27 Hz
// effective) falls on frames T_k = floor(k * fs / 372.27). A block runs to the next tick (at most
// 192 frames), shorter while some envelope moves fast (about 3 dB of change per block at most,
// down to 8 frames) and ending about where a segment or static hold ends. When no tick can change
// the sound until the next event (LFO routed nowhere, pitch EG and portamento at rest: the
// common case), blocks do not stop at ticks; those ticks run just after their frame (checked:
// staleTicks()); when ticks change only the pitch, they cut the render but not the block.
// Envelopes are advanced in exact DX7 samples (49 096 Hz, §6.3) from block start
// to block end and operator gains are interpolated linearly across the block; pitch is constant
// between ticks (stepped, as on the DX7). Events cut a block at their frame. Block boundaries
// depend only on absolute time, the synth's state and events, never on how render() calls are
// sized, so any split of the same rendering gives bit-identical output.
//
// Choices where the fact sheet leaves the behaviour open ([UNKNOWN]) or where we deviate:
// - Key-on starts each operator envelope from its current level (§6.6 recommendation); at power-on
//   (reset) every level is at the floor (16). A patch (re)load releases every voice toward the
//   floor with the new R4, as the firmware's OPLVL = 0xFF reset does.
// - Equal-level ("static") segments hold for Dexed's measured time (§6.5), 1/20 of it when L1 = 0.
// - Pitch is not quantised to the EGS's 1.17-cent grid; detune follows Dexed's Mark I curve (§4.4),
//   evaluated at the note's frequency (ratio operators) or at the fixed frequency (fixed ones).
// - Fixed-frequency operators ignore key, pitch EG, portamento, master tune and LFO, and follow
//   pitch bend (§4.3 recommendation).
// - AMS 0..3 scales the AM attenuation by {0, 66, 109, 255}/255 (msfa, §8.6 recommendation).
// - Algorithms 4/6 with feedback run the true loop; loops and algorithm 32's carrier feedback use
//   ¼ of the normal feedback gain (Dexed's Mark I calibration, §3, §9).
// - Pitch EG and portamento run for all voices on every second tick (the firmware splits voices
//   0-7 / 8-15 over two ticks); LFO, pitch bend and controllers act at the next tick, as on the DX7.
// - CC7 volume: the top 3 bits pick one of 8 levels, gain = level / 7 (the DAC reference levels'
//   values are not in the sheet). Program change and polyphonic pressure are ignored.
// - Voices (§11.1): round robin over voices whose key is not held; when every key is held the new
//   note is ignored (no stealing, as on the DX7) and counted in ignoredNotes(). A key pressed
//   again while held takes another voice; its note-off releases every voice holding that key.
//   CC123 (all notes off) also releases sustained voices. Active sensing (FE via midi()): after
//   250 ticks (0.67 s) without any event, all notes are released, sustain included.
// - Free-running oscillator phases and the LFO sample & hold start from values derived from the
//   reset seed (power-on RAM contents are unknown, §14.6).
// - Events: a queue of 4096 events (and 64 KB of sysex data); when full, new events are dropped and
//   counted in droppedEvents().
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "controllers.h"
#include "event_queue.h"
#include "lfo.h"
#include "voice.h"
#include "voice_params.h"

namespace dx7 {

constexpr int kMaxPolyphony = 64;
constexpr double kTickRate = 372.27;  // §0.3 / §8.2 effective CPU tick

class Synth {
 public:
  explicit Synth(double sample_rate, int polyphony = 16);

  void loadVoice(const uint8_t* vced, size_t n);
  void setFunction(int param, int value);
  int function(int param) const;
  void setMasterTune(int units);  // -256..255 firmware units (4096 per octave)
  int masterTune() const { return master_tune_; }
  void setChannel(int channel);   // 0..15, -1 = omni
  int channel() const { return channel_; }

  void noteOn(int note, int velocity, int offset);
  void noteOff(int note, int offset);
  void controlChange(int cc, int value, int offset);
  void pitchBend(int value14, int offset);
  void channelPressure(int value, int offset);
  void sysex(const uint8_t* data, size_t n, int offset);
  void midi(const uint8_t* msg, size_t n, int offset);

  void render(float* out, int frames);
  // Probes (see probe()) taken while rendering, without splitting the render at them: each one
  // whose frame falls inside this call is taken there and consumed (next advances).
  struct Probes {
    const uint64_t* at; // engine frames (the framesRendered() clock), increasing
    size_t n;
    size_t next = 0;
    float* pitch_hz = nullptr;     // [n]
    float* carrier_amp = nullptr;  // [n]
  };
  void render(float* out, int frames, Probes& probes);
  void reset(uint64_t seed);
  int activeVoices() const;

  double sampleRate() const { return sr_; }
  int polyphony() const { return (int)voices_.size(); }
  const Patch& patch() const { return patch_; }
  uint64_t framesRendered() const { return now_; }
  uint64_t droppedEvents() const { return queue_.dropped(); }
  uint64_t ignoredNotes() const { return ignored_notes_; }
  uint64_t staleTicks() const { return stale_ticks_; }

  // Annotation of the voice that received the latest note-on, at the current frame (as the next
  // rendered frame will use it): pitch of a ratio-1 operator in Hz and the summed carrier
  // amplitude (same scale as the audio). Returns false if no note was played since reset.
  bool probe(double* pitch_hz, double* carrier_amp);

 private:
  void push(Event::Type t, int a, int b, int offset);
  void processDue();
  void probeNow(uint64_t t, double* pitch_hz, double* carrier_amp) const;
  void syncTo(uint64_t t);
  void prepareBlock();
  uint64_t blockEnd(uint64_t t) const;
  uint64_t dx7Clock(uint64_t frame) const;
  uint64_t tickFrame(uint64_t k) const;
  void runTick();
  enum TickEffect : uint8_t { kTickNone, kTickPitch, kTickAll };
  TickEffect tickEffect() const;
  bool ampSensitive() const;
  void tickInBlock();
  void apply(const Event& e);

  void doNoteOn(int note, int velocity);
  void doNoteOff(int note);
  void doControl(int cc, int value);
  void doSysex(const uint8_t* d, size_t n);
  void releaseVoice(Voice& v);
  void releaseSustained();
  void allNotesOff();
  void allSoundOff();
  void activatePatch();
  void startVoice(Voice& v, int note, int velocity);
  void monoNoteOn(int note, int velocity);
  void monoNoteOff(int note);
  void setMonoTarget(int note);
  void wake(Voice& v);
  void catchUp(Voice& v);
  void updatePitch(Voice& v);
  bool portaActiveForNewNote(bool legato) const;
  int32_t keyPitchOf(int note) const;
  int32_t voicePitch(const Voice& v) const;  // 16-bit voice pitch V (§4.1) incl. PEG, tune

  double sr_;
  std::vector<Voice> voices_;
  Patch patch_;
  FunctionParams fn_;
  Controllers ctl_;
  Lfo lfo_;
  EventQueue queue_;
  int master_tune_ = 0;
  int channel_ = -1;
  uint64_t seed_ = 0;

  // time
  uint64_t now_ = 0;
  uint64_t tick_ = 0;            // index of the next tick
  uint64_t next_tick_frame_ = 0;
  uint64_t eg_time_ = 0;         // frame of the committed envelope state (Voice::eg)
  bool block_ready_ = false;
  uint64_t block_t0_ = 0, block_t1_ = 0;
  // What the current block's ticks can change (tickEffect()). Unless kTickAll they do not end the
  // block: kTickPitch ticks still cut the render at their frame, kTickNone ticks run just after it.
  // stale_ticks_ counts such ticks that changed more than predicted (must stay 0; tested).
  TickEffect tick_effect_ = kTickAll;
  uint64_t stale_ticks_ = 0;

  // modulation registers (updated each tick)
  int pm_lfo_ = 0;               // LFO pitch modulation, 16384 per octave (§8.5)
  int bend_ = 0;                 // pitch bend, 16384 per octave (§8.7)
  int amreg_ = 0;                // amplitude-modulation register (§8.6)
  bool sensing_ = false;         // active sensing seen (§8.8)
  int sensing_ticks_ = 0;        // ticks since the last message

  // allocation
  int rr_ = 0;                   // round-robin pointer (§11.1)
  int last_voice_ = -1;          // voice of the latest note-on (for probe)
  int32_t last_key_pitch_ = -1;  // key pitch of the previous note (portamento "retain")
  int last_key_ = 60;            // its transposed key (glissando start)
  uint64_t ignored_notes_ = 0;
  // mono (§11.3)
  int mono_keys_[16];
  int mono_count_ = 0;
  int mono_target_ = -1;
  bool mono_up_ = true;

  RenderContext ctx_{};
  // scratch
  std::vector<int32_t> obuf_;    // 6 x kMaxBlock
  std::vector<int32_t> sum_;
};

}  // namespace dx7
