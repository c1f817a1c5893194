#include "synth.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "sysex.h"
#include "tables.h"

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define DX7_HAVE_MXCSR 1
#endif

namespace dx7 {
namespace {

// §4.1 step 4 / §4.5: V = max(0, P + PEG - 0x1BA8) + master tune, where the firmware's master tune
// value has its centre at 0x100 (so MIDI 69 at centre tune gives V = 0x8000 = 439.97 Hz).
constexpr int32_t kVoicePitchOffset = 0x1BA8;
constexpr int32_t kMasterTuneCentre = 0x100;

constexpr float kPhaseScale = 33554432.0f;  // 2^25: a full-scale modulator = ±2 cycles (§5.4)

uint64_t splitmix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// §4.1 step 1: transposed key, computed in 8 bits, > 127 forced to 127.
int transposedKey(int note, int transpose) {
  int k = (note + transpose - 24) & 0xFF;
  return k > 127 ? 127 : k;
}

// Flush denormals to zero while rendering (restored afterwards).
struct DenormalGuard {
#ifdef DX7_HAVE_MXCSR
  unsigned saved;
  DenormalGuard() : saved(_mm_getcsr()) { _mm_setcsr(saved | 0x8040); }
  ~DenormalGuard() { _mm_setcsr(saved); }
#endif
};

}  // namespace

Synth::Synth(double sample_rate, int polyphony) {
  if (!(sample_rate >= 8000.0 && sample_rate <= 192000.0))
    throw std::invalid_argument("sample_rate must be between 8000 and 192000 Hz");
  if (polyphony < 1 || polyphony > kMaxPolyphony)
    throw std::invalid_argument("polyphony must be between 1 and 64");
  sr_ = sample_rate;
  voices_.resize((size_t)polyphony);
  obuf_.assign(6 * kMaxBlock, 0);
  sum_.assign(kMaxBlock, 0);
  initPatch(patch_);
  reset(0);
}

// ---------------------------------------------------------------- configuration

void Synth::loadVoice(const uint8_t* vced, size_t n) {
  syncTo(now_);
  unpackPatch(vced, n, patch_);
  activatePatch();
}

void Synth::activatePatch() {
  // §1.6 / §11.1: (re)activating a patch resets every voice: OPLVL = 0xFF and key off, so all
  // envelopes release from where they are toward the floor at the new R4; held keys are dropped.
  for (Voice& v : voices_) {
    if (v.idle) catchUp(v);
    v.pitch_cache_valid = false;  // fixed/ratio modes may have changed
    v.key_held = false;
    v.sustained = false;
    const int x = std::clamp(v.key / 3 - 7, 0, 31);
    for (int o = 0; o < 6; ++o) {
      const OperatorParams& op = patch_.op[o];
      Envelope& e = v.eg[o];
      const int delta = (op.rate_scaling * x) >> 3;
      v.oplvl[o] = 255;
      for (int s = 0; s < 4; ++s) {
        e.target[s] = kLevelFloor;
        e.q[s] = (uint8_t)std::min(63, op.qrate[s] + delta);
        e.static_rate[s] = (uint8_t)std::min(99, op.rate[s] + delta);
      }
      e.l1_zero = op.level[0] == 0;
      if (!(e.atRest() && e.lev == kLevelFloor)) e.release();
    }
    v.peg.keyOff();
  }
  mono_count_ = 0;
  mono_target_ = -1;
  block_ready_ = false;
}

void Synth::setFunction(int param, int value) {
  const int mx = FunctionParams::maxOf(param);
  if (mx < 0) return;
  syncTo(now_);
  value = std::clamp(value, 0, mx);
  const bool mode_change = param == 64 && fn_.v[0] != value;
  fn_.v[param - 64] = (uint8_t)value;
  if (mode_change) allNotesOff();
  block_ready_ = false;
}

int Synth::function(int param) const {
  return FunctionParams::maxOf(param) < 0 ? -1 : fn_.v[param - 64];
}

void Synth::setMasterTune(int units) {
  syncTo(now_);
  master_tune_ = std::clamp(units, -256, 255);
  for (Voice& v : voices_)
    if (!v.idle) updatePitch(v);
  block_ready_ = false;
}

void Synth::setChannel(int channel) { channel_ = (channel >= 0 && channel <= 15) ? channel : -1; }

void Synth::reset(uint64_t seed) {
  seed_ = seed;
  queue_.clear();
  now_ = 0;
  tick_ = 0;
  next_tick_frame_ = 0;
  eg_time_ = 0;
  block_ready_ = false;
  block_t0_ = block_t1_ = 0;
  tick_effect_ = kTickAll;
  stale_ticks_ = 0;
  ctl_ = Controllers();
  lfo_.reset((uint8_t)(splitmix(seed ^ 0x5A5A5A5Aull) & 0xFF));  // S&H start value (§14.6 unknown)
  pm_lfo_ = bend_ = amreg_ = 0;
  sensing_ = false;
  sensing_ticks_ = 0;
  rr_ = 0;
  last_voice_ = -1;
  last_key_pitch_ = -1;
  last_key_ = 60;
  mono_count_ = 0;
  mono_target_ = -1;
  mono_up_ = true;
  for (size_t i = 0; i < voices_.size(); ++i) {
    Voice& v = voices_[i];
    v = Voice();
    v.porta_pitch = -1;
    // Free-running oscillators start at arbitrary (seeded) phases; key sync resets them anyway.
    for (int o = 0; o < 6; ++o) v.phase[o] = (uint32_t)splitmix(seed * 64 + i * 6 + (uint64_t)o) & 0xFFFFFF;
  }
}

// ---------------------------------------------------------------- events

void Synth::push(Event::Type t, int a, int b, int offset) {
  Event e{};
  e.time = now_ + (uint64_t)(offset < 0 ? 0 : offset);
  e.type = t;
  e.a = a;
  e.b = b;
  queue_.push(e);
}

void Synth::noteOn(int note, int velocity, int offset) {
  push(Event::kNoteOn, note & 127, velocity & 127, offset);
}
void Synth::noteOff(int note, int offset) { push(Event::kNoteOff, note & 127, 0, offset); }
void Synth::controlChange(int cc, int value, int offset) {
  push(Event::kControl, cc & 127, value & 127, offset);
}
void Synth::pitchBend(int value14, int offset) {
  push(Event::kBend, std::clamp(value14, 0, 16383), 0, offset);
}
void Synth::channelPressure(int value, int offset) {
  push(Event::kPressure, value & 127, 0, offset);
}
void Synth::sysex(const uint8_t* data, size_t n, int offset) {
  if (n < 2 || n > 1024 || data[0] != 0xF0) return;
  Event e{};
  e.time = now_ + (uint64_t)(offset < 0 ? 0 : offset);
  e.type = Event::kSysex;
  queue_.push(e, data, n);
}

void Synth::midi(const uint8_t* msg, size_t n, int offset) {
  if (n == 0) return;
  const int st = msg[0];
  if (st == 0xF0) {
    sysex(msg, n, offset);
    return;
  }
  if (st == 0xFE) {  // active sensing (§8.8)
    push(Event::kActiveSensing, 0, 0, offset);
    return;
  }
  if (st < 0x80 || st >= 0xF0) return;
  if (channel_ >= 0 && (st & 0x0F) != channel_) return;
  const int d1 = n > 1 ? msg[1] & 127 : 0, d2 = n > 2 ? msg[2] & 127 : 0;
  switch (st & 0xF0) {
    case 0x80: if (n >= 3) noteOff(d1, offset); break;
    case 0x90: if (n >= 3) noteOn(d1, d2, offset); break;
    case 0xB0: if (n >= 3) controlChange(d1, d2, offset); break;
    case 0xD0: if (n >= 2) channelPressure(d1, offset); break;
    case 0xE0: if (n >= 3) pitchBend((d2 << 7) | d1, offset); break;
    default: break;  // polyphonic pressure, program change: not handled by the engine
  }
}

void Synth::apply(const Event& e) {
  syncTo(now_);
  sensing_ticks_ = 0;  // any message restarts the active-sensing timeout
  switch (e.type) {
    case Event::kNoteOn: doNoteOn(e.a, e.b); break;
    case Event::kNoteOff: doNoteOff(e.a); break;
    case Event::kControl: doControl(e.a, e.b); break;
    case Event::kBend: ctl_.bend7 = (uint8_t)(e.a >> 7); break;  // MSB only (§8.7)
    case Event::kPressure: ctl_.input[3] = (uint8_t)(2 * e.a); break;
    case Event::kSysex: doSysex(queue_.payload(e), e.size); break;
    case Event::kActiveSensing: sensing_ = true; break;
  }
  block_ready_ = false;
}

void Synth::doSysex(const uint8_t* d, size_t n) {
  const SysexMessage m = parseSysex(d, n);
  if (m.kind == SysexMessage::kNone) return;
  if (channel_ >= 0 && m.channel != channel_) return;
  if (m.kind == SysexMessage::kVoiceDump) {
    unpackPatch(m.voice, 155, patch_);  // all operators on after a single-voice receive (§1.3)
    activatePatch();
  } else if (m.kind == SysexMessage::kVoiceParam) {
    int v = m.value;
    if (m.param == 155) {
      v &= 0x3F;
    } else {
      v = std::min(v, vcedMax(m.param));
    }
    patch_.vced[m.param] = (uint8_t)v;
    dx7::activatePatch(patch_);
    activatePatch();  // the firmware re-activates the whole patch, cutting sounding notes (§1.6)
  } else if (m.kind == SysexMessage::kPerformance) {
    // §1.3 format 1 fields -> function parameters; sensitivities 0..15 -> 0..99
    const uint8_t* p = m.voice;
    auto sens = [](int v) { return ((v & 0x7F) * 212 * 8) >> 8; };
    setFunction(64, p[2]);
    setFunction(65, p[3]);
    setFunction(66, p[4]);
    setFunction(69, p[5]);
    setFunction(68, p[6]);
    setFunction(67, p[7]);
    setFunction(70, sens(p[9]));
    setFunction(71, p[10]);
    setFunction(72, sens(p[11]));
    setFunction(73, p[12]);
    setFunction(76, sens(p[13]));
    setFunction(77, p[14]);
    setFunction(74, sens(p[15]));
    setFunction(75, p[16]);
  } else {
    setFunction(m.param, m.value);
  }
}

void Synth::doControl(int cc, int value) {
  switch (cc) {
    case 1: ctl_.input[0] = (uint8_t)(2 * value); break;  // mod wheel
    case 2: ctl_.input[2] = (uint8_t)(2 * value); break;  // breath
    case 4: ctl_.input[1] = (uint8_t)(2 * value); break;  // foot
    case 5: fn_.v[69 - 64] = (uint8_t)std::min(99, (value * 2 * 100) >> 8); break;  // porta time
    case 7: ctl_.volume7 = (uint8_t)value; break;
    case 64: {
      const bool on = value != 0;
      if (ctl_.sustain && !on) {
        ctl_.sustain = false;
        releaseSustained();
      }
      ctl_.sustain = on;
      break;
    }
    case 65: ctl_.portamento = value != 0; break;
    case 120: allSoundOff(); break;
    case 121: {
      const bool was = ctl_.sustain;
      ctl_.resetControllers();
      if (was) releaseSustained();
      break;
    }
    case 123: allNotesOff(); break;
    case 126: if (value == 1) setFunction(64, 1); break;
    case 127: setFunction(64, 0); break;
    default: break;
  }
}

// ---------------------------------------------------------------- voices

int32_t Synth::keyPitchOf(int note) const {
  return tables::keyPitch(tables::keyCode(transposedKey(note, patch_.transpose)));
}

void Synth::catchUp(Voice& v) {
  // A sleeping voice's envelopes and free-running phases are brought to the present.
  if (v.idle_since == now_) return;
  const uint64_t d0 = dx7Clock(v.idle_since), d1 = dx7Clock(now_);
  for (auto& e : v.eg) e.advance(d0, d1);
  const uint32_t dt = (uint32_t)(now_ - v.idle_since);
  for (int o = 0; o < 6; ++o) v.phase[o] += v.inc[o] * dt;
  v.idle_since = now_;
}

void Synth::wake(Voice& v) {
  if (!v.idle) return;
  catchUp(v);
  v.idle = false;
}

void Synth::startVoice(Voice& v, int note, int velocity) {
  wake(v);
  const int k = transposedKey(note, patch_.transpose);
  const int kc = tables::keyCode(k);
  const int group = kc >> 2;
  const int x = std::clamp(k / 3 - 7, 0, 31);  // §6.4
  v.note = note;
  v.velocity = velocity;
  v.key = k;
  // Detune (§4.4, Dexed's Mark I curve) from the note's frequency.
  const double base_log2 = (tables::keyPitch(kc) + 0x4000 - kVoicePitchOffset + kMasterTuneCentre + master_tune_ + 0x232C - 5804) / 4096.0;
  for (int o = 0; o < 6; ++o) {
    const OperatorParams& op = patch_.op[o];
    // §5.4 operator level at note-on
    int lvl = patch_.opEnabled(o) ? std::min(255, op.kls[group] + velocityAttenuation(velocity, op.kvs)) : 255;
    lvl = std::max(lvl, 4);
    v.oplvl[o] = lvl;
    Envelope& e = v.eg[o];
    const int delta = (op.rate_scaling * x) >> 3;
    for (int s = 0; s < 4; ++s) {
      e.target[s] = std::max(kLevelFloor, 4080 - 64 * op.eg_att[s] - 16 * lvl);
      e.q[s] = (uint8_t)std::min(63, op.qrate[s] + delta);
      e.static_rate[s] = (uint8_t)std::min(99, op.rate[s] + delta);
    }
    e.l1_zero = op.level[0] == 0;
    e.keyOn();  // from the current level (§6.6)
    if (patch_.osc_sync) v.phase[o] = 0;
    double L = op.fixed ? (op.op_pitch - 5804) / 4096.0 : base_log2;
    if (L < 0) L = 0;
    v.detune[o] = (op.detune - 7) * (0.0209 * std::exp(-0.396 * L) / 7.0 * L) * 4096.0;
    v.opmul[o] = std::exp2((op.op_pitch + v.detune[o] - 5804) / 4096.0) * (16777216.0 / sr_);
  }
  if (patch_.osc_sync) v.fb_y1 = v.fb_y2 = 0;
  v.pitch_cache_valid = false;  // operator ratios and detune changed
  v.peg.keyOn(patch_.peg_level);
  v.key_held = true;
  v.sustained = false;
}

bool Synth::portaActiveForNewNote(bool legato) const {
  if (fn_.portaTime() == 0) return false;
  if (fn_.mono()) return fn_.portaMode() == 0 ? legato : ctl_.portamento;
  return ctl_.portamento;
}

void Synth::doNoteOn(int note, int velocity) {
  if (velocity == 0) {
    doNoteOff(note);
    return;
  }
  if (fn_.mono()) {
    monoNoteOn(note, velocity);
    return;
  }
  const int n = (int)voices_.size();
  int idx = -1;
  for (int i = 0; i < n; ++i) {  // §11.1 round robin over voices whose key is not held
    const int c = (rr_ + i) % n;
    if (!voices_[c].key_held) {
      idx = c;
      break;
    }
  }
  if (idx < 0) {  // every key held: the note is ignored, as on the DX7
    ++ignored_notes_;
    return;
  }
  rr_ = (idx + 1) % n;
  Voice& v = voices_[idx];
  const int32_t previous_pitch = v.porta_pitch;
  startVoice(v, note, velocity);
  const int32_t P = keyPitchOf(note);
  if (portaActiveForNewNote(false)) {
    if (fn_.portaMode() == 0) {  // retain: glide from the previous note
      v.porta_pitch = last_key_pitch_ >= 0 ? last_key_pitch_ : P;
      v.gliss_key = last_key_pitch_ >= 0 ? last_key_ : v.key;
    } else {                     // follow: every voice whose key is up glides to the new note
      v.porta_pitch = previous_pitch >= 0 ? previous_pitch : P;
      if (previous_pitch < 0) v.gliss_key = v.key;
      for (Voice& o : voices_)
        if (!o.key_held && !o.idle) o.porta_target = P;
    }
    v.porta_target = P;
  } else {
    v.porta_pitch = v.porta_target = P;
    v.gliss_key = v.key;
  }
  lfo_.keyOn(patch_.lfo);  // every key-on in poly (§8.3)
  last_key_pitch_ = P;
  last_key_ = v.key;
  last_voice_ = idx;
  updatePitch(v);
}

void Synth::monoNoteOn(int note, int velocity) {
  for (int i = 0; i < mono_count_; ++i)
    if (mono_keys_[i] == note) return;  // already held
  if (mono_count_ == 16) {
    ++ignored_notes_;
    return;
  }
  Voice& v = voices_[0];
  last_voice_ = 0;
  mono_keys_[mono_count_++] = note;
  if (mono_count_ == 1) {  // first key: full retrigger (§11.3)
    const int32_t from = v.porta_pitch;
    startVoice(v, note, velocity);
    const int32_t P = keyPitchOf(note);
    const bool glide = portaActiveForNewNote(false) && from >= 0;
    v.porta_pitch = glide ? from : P;
    v.porta_target = P;
    if (!glide) v.gliss_key = v.key;
    mono_target_ = note;
    lfo_.keyOn(patch_.lfo);
    last_key_pitch_ = P;
    last_key_ = v.key;
    updatePitch(v);
    return;
  }
  bool take = false;
  if (mono_count_ == 2) {
    mono_up_ = note > mono_target_;
    take = true;
  } else {
    take = mono_up_ ? note > mono_target_ : note < mono_target_;
  }
  if (take) setMonoTarget(note);
}

void Synth::setMonoTarget(int note) {
  // Legato: no retrigger, levels not recomputed, only the pitch target changes (§11.3).
  Voice& v = voices_[0];
  mono_target_ = note;
  v.note = note;
  v.key = transposedKey(note, patch_.transpose);
  const int32_t P = keyPitchOf(note);
  v.porta_target = P;
  if (!portaActiveForNewNote(true)) {
    v.porta_pitch = P;
    v.gliss_key = v.key;
  }
  last_key_pitch_ = P;
  last_key_ = v.key;
  updatePitch(v);
}

void Synth::monoNoteOff(int note) {
  int i = 0;
  while (i < mono_count_ && mono_keys_[i] != note) ++i;
  if (i == mono_count_) return;
  for (; i + 1 < mono_count_; ++i) mono_keys_[i] = mono_keys_[i + 1];
  --mono_count_;
  Voice& v = voices_[0];
  if (mono_count_ > 0) {
    int t = mono_keys_[0];
    for (int j = 1; j < mono_count_; ++j)
      t = mono_up_ ? std::max(t, mono_keys_[j]) : std::min(t, mono_keys_[j]);
    if (t != mono_target_) setMonoTarget(t);
    return;
  }
  if (ctl_.sustain) {
    v.key_held = false;
    v.sustained = true;
  } else {
    releaseVoice(v);
  }
}

void Synth::doNoteOff(int note) {
  if (fn_.mono()) {
    monoNoteOff(note);
    return;
  }
  for (Voice& v : voices_) {
    if (!v.key_held || v.note != note) continue;
    if (ctl_.sustain) {
      v.key_held = false;  // the key can be reused while the voice sounds on (§11.1)
      v.sustained = true;
    } else {
      releaseVoice(v);
    }
  }
}

void Synth::releaseVoice(Voice& v) {
  v.key_held = false;
  v.sustained = false;
  for (auto& e : v.eg) e.keyOff();
  v.peg.keyOff();
}

void Synth::releaseSustained() {
  for (Voice& v : voices_)
    if (v.sustained) releaseVoice(v);
}

void Synth::allNotesOff() {
  mono_count_ = 0;
  for (Voice& v : voices_)
    if (v.key_held || v.sustained) releaseVoice(v);
}

void Synth::allSoundOff() {
  mono_count_ = 0;
  for (Voice& v : voices_) {
    v.key_held = false;
    v.sustained = false;
    for (auto& e : v.eg) e.silence();
    v.peg.stage = 5;
    v.fb_y1 = v.fb_y2 = 0;
  }
}

int32_t Synth::voicePitch(const Voice& v) const {
  // §4.1 step 4: V = P + PEG - 0x1BA8 (>= 0) + master tune; §4.2 f = 2^((V + Op - 5804)/4096).
  // With glissando the sounding key is the semitone-quantised one (§11.4).
  const int32_t kp = (fn_.glissando() && v.porta_pitch != v.porta_target)
                         ? tables::keyPitch(tables::keyCode(v.gliss_key))
                         : v.porta_pitch;
  int32_t V = kp + v.peg.level - kVoicePitchOffset;
  if (V < 0) V = 0;
  V += kMasterTuneCentre + master_tune_;
  return V;
}

void Synth::updatePitch(Voice& v) {
  const int32_t V = voicePitch(v);
  // Unchanged pitch inputs since the last update (a held note without vibrato): nothing to do.
  if (v.pitch_cache_valid && v.pitch_cache[0] == V && v.pitch_cache[1] == pm_lfo_ &&
      v.pitch_cache[2] == bend_)
    return;
  v.pitch_cache_valid = true;
  v.pitch_cache[0] = V;
  v.pitch_cache[1] = pm_lfo_;
  v.pitch_cache[2] = bend_;
  const double ratio_base = std::exp2((V + (pm_lfo_ + bend_) * 0.25) / 4096.0);
  double fixed_base = 0;
  bool have_fixed = false;
  for (int o = 0; o < 6; ++o) {
    double inc;
    if (patch_.op[o].fixed) {
      // Fixed operators ignore the voice pitch; they follow pitch bend but not the LFO (§4.3).
      if (!have_fixed) {
        fixed_base = std::exp2(bend_ * 0.25 / 4096.0);
        have_fixed = true;
      }
      inc = fixed_base * v.opmul[o];
    } else {
      inc = ratio_base * v.opmul[o];
    }
    if (inc >= 4294967296.0) inc = std::fmod(inc, 4294967296.0);
    v.inc[o] = (uint32_t)(uint64_t)(inc + 0.5);
  }
}

// ---------------------------------------------------------------- tick

void Synth::runTick() {
  // §8.8: once active sensing has been seen, 250 ticks without a message release all notes.
  if (sensing_ && ++sensing_ticks_ >= 250) {
    sensing_ = false;
    sensing_ticks_ = 0;
    ctl_.sustain = false;
    allNotesOff();
  }
  lfo_.tick(patch_.lfo);
  const int s = lfo_.out;
  // §8.5 pitch modulation
  const int P = sat255(((lfo_.fade * patch_.pmd8) >> 8) + sourceSum(fn_, ctl_, 0, false));
  const int mag = s < 0 ? -s : s;
  const int q = (mag * tables::kPms[patch_.pms]) >> 8;
  const int pm = (q * P) >> 1;
  pm_lfo_ = s < 0 ? -pm : pm;
  bend_ = pitchBendValue(ctl_.bend7, fn_.bendRange(), fn_.bendStep());
  // §8.6 amplitude modulation and EG bias
  const int A1 = sat255(((lfo_.fade * patch_.amd8) >> 8) + sourceSum(fn_, ctl_, 1, false));
  const int rsum = sourceSum(fn_, ctl_, 2, true), isum = sourceSum(fn_, ctl_, 2, false);
  const int egb = std::max(0, rsum - isum);
  const int A2 = std::min(255, A1 + egb) - egb;
  const int u = 127 - s;
  const int A3 = sat255(((A2 * u) >> 8) + egb);
  amreg_ = tables::kAmpMod[255 - A3];
  // §7, §11.4: pitch EG and portamento every second tick
  const bool slow_tick = (tick_ & 1) != 0;
  const int porta_rate = tables::kPitchEgRate[99 - fn_.portaTime()];
  for (Voice& v : voices_) {
    if (v.idle) continue;
    if (slow_tick) {
      v.peg.update(patch_.peg_rate, patch_.peg_level);
      if (v.porta_pitch != v.porta_target) {
        const int32_t d = v.porta_target - v.porta_pitch;
        const int32_t ad = d < 0 ? -d : d;
        const int32_t step = fn_.glissando() ? 3 * porta_rate : porta_rate * (1 + ad / 1024);
        if (step >= ad) {
          v.porta_pitch = v.porta_target;
          v.gliss_key = v.key;
        } else {
          v.porta_pitch += d < 0 ? -step : step;
          if (fn_.glissando()) {
            // the sounding key follows in semitone jumps
            for (int guard = 0; guard < 128; ++guard) {
              const int32_t gp = tables::keyPitch(tables::keyCode(v.gliss_key));
              const int32_t gd = v.porta_pitch - gp;
              if (gd > 341 && v.gliss_key < 127) ++v.gliss_key;
              else if (gd < -341 && v.gliss_key > 0) --v.gliss_key;
              else break;
            }
          }
        }
      }
    }
    updatePitch(v);
  }
}

// ---------------------------------------------------------------- time and blocks

uint64_t Synth::tickFrame(uint64_t k) const { return (uint64_t)std::floor((double)k * sr_ / kTickRate); }

uint64_t Synth::dx7Clock(uint64_t frame) const {
  return (uint64_t)std::floor((double)frame * kEgsRate / sr_);
}

namespace {
// Average EG speed per rate q (§6.3), µsteps per DX7 sample: (4 + (q & 3)) * 2^((q >> 2) - 14).
// Tabulated because blockEnd runs for every moving envelope in every block (exact same values).
struct EgSpeedTable {
  double v[64];
  EgSpeedTable() {
    for (int q = 0; q < 64; ++q) v[q] = (4 + (q & 3)) * std::ldexp(1.0, (q >> 2) - 14);
  }
};
const EgSpeedTable kEgSpeed;
}  // namespace

uint64_t Synth::blockEnd(uint64_t t) const {
  // Blocks end at the next tick (unless ticks are inert), and are shorter while an envelope moves
  // fast so that the linear gain interpolation stays within about 128 µsteps (3 dB) of change per
  // block. They also end about where a segment or a static hold ends, so that the next segment's
  // slope starts in a block of its own (a hold followed by a fast fall must not be smeared).
  double frames = kMaxBlock;
  const double dx7_per_frame = kEgsRate / sr_;
  for (const Voice& v : voices_) {
    if (v.idle) continue;
    for (const Envelope& e : v.eg) {
      double f;
      if (e.mode == Envelope::kHold) {
        f = (double)e.hold_left / dx7_per_frame;
      } else if (e.mode == Envelope::kMoving) {
        // §6.3 average speed in µsteps per DX7 sample (rising: times the attack-law factor)
        double speed = kEgSpeed.v[e.q[e.stage] & 63];
        if (e.rising) speed *= 2 + std::max(0, (3840 - e.lev) >> 8);
        const int32_t left = std::abs(e.target[e.stage] - e.lev);
        f = (double)std::min<int32_t>(128, std::max<int32_t>(left, 1)) / (speed * dx7_per_frame);
      } else {
        continue;
      }
      if (f < frames) frames = std::ceil(f);
    }
  }
  const uint64_t len = (uint64_t)std::max(8.0, frames);
  return tick_effect_ == kTickAll ? std::min(next_tick_frame_, t + len) : t + len;
}

// Some operator's amplitude follows the amplitude-modulation register (AMS > 0, §8.6).
bool Synth::ampSensitive() const {
  for (const auto& op : patch_.op)
    if (tables::kAms[op.ams] != 0) return true;
  return false;
}

// What the ticks until the next event can change (§8.5-§8.8). kNone: the LFO reaches neither
// pitch nor amplitude, pitch bend is applied already, no pitch EG or portamento moves. kPitch:
// only operator frequencies change. Then blocks need not end at ticks: at 16 kHz a tick comes
// every 43 frames, a block may last 192.
Synth::TickEffect Synth::tickEffect() const {
  if (sensing_) return kTickAll;  // a tick may release every note
  // §8.6: with no LFO depth the register is the EG bias alone (A3 = egb); irrelevant when no
  // operator is amplitude-sensitive.
  if (ampSensitive()) {
    if (patch_.amd8 != 0 || sourceSum(fn_, ctl_, 1, false) != 0) return kTickAll;
    const int egb = std::max(0, sourceSum(fn_, ctl_, 2, true) - sourceSum(fn_, ctl_, 2, false));
    if (amreg_ != tables::kAmpMod[255 - sat255(egb)]) return kTickAll;
  }
  // §8.5: pm = 0 for ever when PMS is 0 or no depth reaches the LFO; it must be 0 already.
  const bool pm_off = tables::kPms[patch_.pms] == 0 ||
                      (patch_.pmd8 == 0 && sourceSum(fn_, ctl_, 0, false) == 0);
  if (!pm_off || pm_lfo_ != 0) return kTickPitch;
  if (bend_ != pitchBendValue(ctl_.bend7, fn_.bendRange(), fn_.bendStep())) return kTickPitch;
  for (const Voice& v : voices_) {
    if (v.idle) continue;
    if (v.porta_pitch != v.porta_target || !v.peg.settled(patch_.peg_level)) return kTickPitch;
    if (!v.pitch_cache_valid || v.pitch_cache[0] != voicePitch(v) || v.pitch_cache[1] != pm_lfo_ ||
        v.pitch_cache[2] != bend_)
      return kTickPitch;
  }
  return kTickNone;
}

// A tick inside a block that continues past it: at its frame (kTickPitch: it may change operator
// frequencies) or just after (kTickNone). Checks that it changed nothing else the block renders.
void Synth::tickInBlock() {
  const int amreg = amreg_;
  const bool pitch_fixed = tick_effect_ == kTickNone;
  int32_t pitch[kMaxPolyphony][3];  // each voice's pitch inputs before the tick (kTickNone)
  if (pitch_fixed)
    for (size_t i = 0; i < voices_.size(); ++i)
      for (int j = 0; j < 3; ++j) pitch[i][j] = voices_[i].pitch_cache[j];
  runTick();
  ++tick_;
  next_tick_frame_ = tickFrame(tick_);
  // the register matters only to amplitude-sensitive operators
  bool stale = amreg != amreg_ && ampSensitive();
  if (pitch_fixed)
    for (size_t i = 0; i < voices_.size(); ++i)
      for (int j = 0; j < 3; ++j)
        if (!voices_[i].idle && voices_[i].pitch_cache[j] != pitch[i][j]) stale = true;
  if (stale) {
    ++stale_ticks_;
    block_ready_ = false;
  }
}

void Synth::syncTo(uint64_t t) {
  if (eg_time_ == t) return;
  const uint64_t d0 = dx7Clock(eg_time_), d1 = dx7Clock(t);
  for (Voice& v : voices_) {
    if (v.idle) continue;
    for (auto& e : v.eg) e.advance(d0, d1);
  }
  eg_time_ = t;
  block_ready_ = false;
}

void Synth::processDue() {
  while (next_tick_frame_ < now_) tickInBlock();  // ticks passed inside a kTickNone block
  while (!queue_.empty() && queue_.front().time <= now_) {
    apply(queue_.front());
    queue_.pop();
  }
  if (now_ == next_tick_frame_ && block_ready_ && tick_effect_ != kTickAll) {
    tickInBlock();
  } else if (now_ == next_tick_frame_) {
    syncTo(now_);
    runTick();
    ++tick_;
    next_tick_frame_ = tickFrame(tick_);
    block_ready_ = false;
  }
  if (!block_ready_) prepareBlock();
}

void Synth::prepareBlock() {
  syncTo(now_);
  block_t0_ = now_;
  tick_effect_ = tickEffect();
  block_t1_ = blockEnd(now_);
  const uint64_t d0 = dx7Clock(block_t0_), d1 = dx7Clock(block_t1_);
  const float inv_len = 1.0f / (float)(block_t1_ - block_t0_);
  const Algorithm& alg = algorithm(patch_.algorithm);
  const bool fb_on = patch_.feedback > 0;
  const bool loop = fb_on && alg.loop_from >= 0;
  uint8_t loop_mask = 0;
  if (loop)
    for (int o = alg.loop_from; o < 6; ++o) loop_mask |= (uint8_t)(1 << o);
  // §9 feedback shift; ¼ gain (2 more) for the loops and the carrier feedback of algorithm 32 (§3).
  const bool quarter = loop || patch_.algorithm == 31;
  const float vol = (float)(ctl_.volume7 >> 4) / 7.0f;  // CC7: 8 DAC reference levels (§8.8)
  const float carrier_scale = 0.25f * vol;
  ctx_.patch = &patch_;
  ctx_.alg = &alg;
  ctx_.fb_on = fb_on;
  ctx_.fb_shift = (quarter ? 11 : 9) - patch_.feedback;
  ctx_.loop = loop;
  ctx_.loop_mask = loop_mask;
  ctx_.carrier_scale = carrier_scale;
  ctx_.obuf = reinterpret_cast<int32_t(*)[kMaxBlock]>(obuf_.data());
  ctx_.sum = sum_.data();
  int am[6];
  for (int o = 0; o < 6; ++o) am[o] = (8 * amreg_ * tables::kAms[patch_.op[o].ams]) / 255;

  for (Voice& v : voices_) {
    if (v.idle) continue;
    if (!v.key_held && !v.sustained) {
      // Released and every carrier silent for good: the voice sleeps (its modulators' envelopes
      // and its phases catch up when it wakes).
      bool rest = true;
      for (int o = 0; o < 6 && rest; ++o)
        if (((alg.carriers >> o) & 1) && !v.eg[o].finished(kSilentLevel)) rest = false;
      if (rest) {
        v.idle = true;
        v.idle_since = now_;
        v.audible = false;
        continue;
      }
    }
    uint8_t silent = 0;
    uint8_t moving = 0;
    for (int o = 0; o < 6; ++o) {
      int32_t lev1 = v.eg[o].lev;
      if (!v.eg[o].atRest() && v.eg[o].mode != Envelope::kSustain) {
        v.la[o] = v.eg[o];
        v.la[o].advance(d0, d1);
        lev1 = v.la[o].lev;
        moving |= (uint8_t)(1 << o);
      }
      const int e0 = std::clamp(v.eg[o].lev - am[o], 0, 4095);
      const int e1 = std::clamp(lev1 - am[o], 0, 4095);
      if (e0 < kSilentLevel && e1 < kSilentLevel) silent |= (uint8_t)(1 << o);
      const bool carrier = (alg.carriers >> o) & 1;
      const bool int_path = !carrier || ((loop_mask >> o) & 1) || (fb_on && o == alg.fb_op);
      const float scale = int_path ? kPhaseScale : carrier_scale;
      v.scale[o] = scale;
      const float a = tables::kLevelToAmp[e0] * scale, b = tables::kLevelToAmp[e1] * scale;
      v.g0[o] = a;
      v.dg[o] = (b - a) * inv_len;
    }
    // Operators whose output reaches the audio: audible carriers and what modulates them.
    uint8_t needed = 0;
    for (int o = 0; o < 6; ++o) {
      if ((silent >> o) & 1) continue;
      if ((alg.carriers >> o) & 1) {
        needed |= (uint8_t)(1 << o);
        continue;
      }
      if (alg.targets[o] & needed) needed |= (uint8_t)(1 << o);  // targets have lower numbers
    }
    if (loop && ((needed >> alg.loop_from) & 1)) needed |= loop_mask;
    v.needed = needed;
    v.moving = moving;
    v.audible = (needed & alg.carriers) != 0;
  }
  block_ready_ = true;
}

void Synth::render(float* out, int frames) {
  Probes none{nullptr, 0};
  render(out, frames, none);
}

void Synth::render(float* out, int frames, Probes& probes) {
  if (frames <= 0) return;
  DenormalGuard guard;
  std::memset(out, 0, sizeof(float) * (size_t)frames);
  int pos = 0;
  while (pos < frames) {
    processDue();
    uint64_t end = std::min(block_t1_, now_ + (uint64_t)(frames - pos));
    if (!queue_.empty() && queue_.front().time < end) end = queue_.front().time;
    if (tick_effect_ == kTickPitch && next_tick_frame_ < end) end = next_tick_frame_;
    // Nothing changes inside [now_, end) but the gains' ramp, so a probe there reads the same
    // state a render split at its frame would (the batch renderer's annotations, at no cost).
    while (probes.next < probes.n && probes.at[probes.next] < end) {
      const size_t j = probes.next++;
      double p = 0, a = 0;
      probeNow(std::max(probes.at[j], now_), &p, &a);
      probes.pitch_hz[j] = (float)p;
      probes.carrier_amp[j] = (float)a;
    }
    const int n = (int)(end - now_);
    const int k0 = (int)(now_ - block_t0_);
    for (Voice& v : voices_)
      if (!v.idle) v.render(ctx_, out + pos, k0, n);
    pos += n;
    now_ = end;
    if (now_ == block_t1_) {
      for (Voice& v : voices_)
        if (!v.idle && v.moving)
          for (int o = 0; o < 6; ++o)
            if ((v.moving >> o) & 1) v.eg[o] = v.la[o];
      eg_time_ = block_t1_;
      block_ready_ = false;
    }
  }
  // Ticks that passed inside an inert block run now, before anything set between calls.
  while (next_tick_frame_ < now_) tickInBlock();
}

int Synth::activeVoices() const {
  const Algorithm& alg = algorithm(patch_.algorithm);
  int n = 0;
  for (const Voice& v : voices_) {
    if (v.idle) continue;
    bool on = v.key_held || v.sustained;
    for (int o = 0; o < 6 && !on; ++o)
      if (((alg.carriers >> o) & 1) && !v.eg[o].finished(kSilentLevel)) on = true;
    n += on;
  }
  return n;
}

bool Synth::probe(double* pitch_hz, double* carrier_amp) {
  processDue();
  probeNow(now_, pitch_hz, carrier_amp);
  return last_voice_ >= 0;
}

// The probe at frame t of the current block (block_t0_ <= t < block_t1_, no event before t).
void Synth::probeNow(uint64_t t, double* pitch_hz, double* carrier_amp) const {
  if (last_voice_ < 0) {
    *pitch_hz = 0;
    *carrier_amp = 0;
    return;
  }
  const Voice& v = voices_[(size_t)last_voice_];
  const int32_t V = voicePitch(v);
  *pitch_hz = std::exp2((V + (pm_lfo_ + bend_) * 0.25 + 0x232C - 5804) / 4096.0);
  double amp = 0;
  if (!v.idle) {
    const Algorithm& alg = algorithm(patch_.algorithm);
    const float k = (float)(t - block_t0_);
    for (int o = 0; o < 6; ++o) {
      // carriers the audio path renders (silent ones, below -90 dB, are skipped there too)
      if (!((alg.carriers & v.needed) >> o & 1)) continue;
      const float g = v.g0[o] + v.dg[o] * k;
      amp += (double)g / v.scale[o] * ctx_.carrier_scale;
    }
  }
  *carrier_amp = amp;
}

}  // namespace dx7
