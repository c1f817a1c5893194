// The live host's audio callback and its producer-side entry points. See host.h for the design.
#include "host.h"

#include "jack_client.h"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define DX7LIVE_HAVE_SSE 1
#endif

namespace dx7live {

namespace {

uint64_t monotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // vDSO: no system call, no lock
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// Histogram bin of a duration: 8 bins per doubling (bin = 8*floor(log2 ns) + next 3 bits).
int histBin(uint64_t ns) {
  if (ns < 8) return static_cast<int>(ns);
  const int e = 63 - __builtin_clzll(ns);
  const int m = static_cast<int>((ns >> (e - 3)) & 7);
  const int bin = 8 * e + m;
  return bin < kHistBins ? bin : kHistBins - 1;
}

template <typename T>
void atomicMax(std::atomic<T>& a, T v) {
  // single writer (the audio thread), so a plain compare is race-free
  if (v > a.load(std::memory_order_relaxed)) a.store(v, std::memory_order_relaxed);
}

}  // namespace

double hostClock() { return static_cast<double>(monotonicNs()) * 1e-9; }

Host::Host(double sample_rate, int polyphony, int channels, size_t queue_capacity, size_t record_capacity_frames,
           int max_block)
    : sample_rate_(sample_rate),
      channels_(channels),
      max_block_(max_block),
      synth_(sample_rate, polyphony),
      queue_(queue_capacity),
      native_queue_(queue_capacity),
      audio_ring_(record_capacity_frames),
      log_ring_(queue_capacity),
      scratch_(new float[static_cast<size_t>(max_block)]()) {}

namespace {
Event bytesEvent(EventKind kind, const uint8_t* data, size_t n, double time) {
  Event ev;
  ev.time = time;
  ev.kind = kind;
  ev.size = static_cast<uint8_t>(n);
  std::memcpy(ev.data, data, n);
  return ev;
}
}  // namespace

bool Host::pushFromPython(const Event& ev) {
  // Python threads may push concurrently: serialise them (the audio thread never takes this lock).
  std::lock_guard<std::mutex> lock(producer_mutex_);
  if (queue_.push(ev)) return true;
  stats_.queue_full.fetch_add(1, std::memory_order_relaxed);
  return false;
}

bool Host::pushMidi(const uint8_t* msg, size_t n, double time) {
  if (n == 0 || n > kEventBytes) return false;
  return pushFromPython(bytesEvent(EventKind::kMidi, msg, n, time));
}

bool Host::pushNative(const uint8_t* msg, size_t n, double time) {
  if (n == 0 || n > kEventBytes) return false;
  Event ev = bytesEvent(EventKind::kMidi, msg, n, time);
  ev.after = python_handed_.load(std::memory_order_relaxed);
  if (native_queue_.push(ev)) return true;
  stats_.queue_full.fetch_add(1, std::memory_order_relaxed);
  return false;
}

bool Host::pushVoice(const uint8_t* vced, size_t n, double time) {
  if (n < 155 || n > 156) return false;
  return pushFromPython(bytesEvent(EventKind::kVoice, vced, n, time));
}

bool Host::pushCommand(EventKind kind, int32_t a, int32_t b, double time) {
  Event ev;
  ev.time = time;
  ev.kind = kind;
  ev.a = a;
  ev.b = b;
  return pushFromPython(ev);
}

void Host::setRecording(bool on) { recording_.store(on, std::memory_order_release); }

void Host::apply(const Event& ev, int offset) {
  switch (ev.kind) {
    case EventKind::kMidi:
      synth_.midi(ev.data, ev.size, offset);
      break;
    case EventKind::kVoice:
      synth_.loadVoice(ev.data, ev.size);
      break;
    case EventKind::kFunction:
      synth_.setFunction(ev.a, ev.b);
      break;
    case EventKind::kMasterTune:
      synth_.setMasterTune(ev.a);
      break;
    case EventKind::kChannel:
      synth_.setChannel(ev.a);
      break;
    case EventKind::kPanic:
      // direct calls bypass the channel filter: the panic reaches every note
      synth_.controlChange(64, 0, offset);
      synth_.controlChange(123, 0, offset);
      synth_.controlChange(120, 0, offset);
      break;
    case EventKind::kGain:
      gain_ = static_cast<float>(ev.a) * 1e-3f;
      break;
  }
}

void Host::logApplied(const Event& ev, uint64_t frame, bool late) {
  LogEntry e;
  e.frame = frame;
  e.time = ev.time;
  e.kind = ev.kind;
  e.late = late ? 1 : 0;
  e.a = ev.a;
  e.b = ev.b;
  if (ev.kind == EventKind::kVoice) {
    // keep the voice name (VCED parameters 145..154) for the annotation
    e.size = 10;
    std::memcpy(e.data, ev.data + 145, 10);
    e.a = ev.size;
  } else {
    e.size = static_cast<uint8_t>(std::min<size_t>(ev.size, sizeof(e.data)));
    std::memcpy(e.data, ev.data, e.size);
    e.a = ev.size;  // the full length, so the reader knows a sysex was truncated
  }
  log_ring_.push(e);  // a full log ring drops the entry; the audio never waits for it
}

int Host::process(float* out, unsigned long frames_ul, const PaStreamCallbackTimeInfo* ti,
                  PaStreamCallbackFlags flags, double clock_override) {
  const uint64_t t0 = monotonicNs();
#ifdef DX7LIVE_HAVE_SSE
  // denormals would make the engine's decaying tails slow: flush them to zero while we render
  // (and restore the caller's mode: process() is also called from Python threads)
  const unsigned int saved_csr = _mm_getcsr();
  _mm_setcsr(saved_csr | 0x8040);
#endif
  const int frames = static_cast<int>(frames_ul);
  stats_.callbacks.fetch_add(1, std::memory_order_relaxed);
  if (flags & (kPaOutputUnderflow | kPaOutputOverflow)) stats_.xruns.fetch_add(1, std::memory_order_relaxed);
  const double period_ns = frames / sample_rate_ * 1e9;
  if (last_start_ns_ != 0 && static_cast<double>(t0 - last_start_ns_) > 1.5 * period_ns)
    stats_.late_callbacks.fetch_add(1, std::memory_order_relaxed);
  last_start_ns_ = t0;
  if (hist_reset_.exchange(false, std::memory_order_acq_rel)) {
    for (auto& h : stats_.hist) h.store(0, std::memory_order_relaxed);
    stats_.max_callback_ns.store(0, std::memory_order_relaxed);
    stats_.late_callbacks.store(0, std::memory_order_relaxed);
    stats_.xruns.store(0, std::memory_order_relaxed);
  }

  const bool recording = recording_.load(std::memory_order_acquire);
  if (recording && !was_recording_) record_frame_ = 0;
  was_recording_ = recording;

  // ---- events: stamp -> frame offset (host.h explains the scheme) -----------------------------
  double out_latency = 0.0;
  if (ti != nullptr) {
    out_latency = ti->outputBufferDacTime - ti->currentTime;
    if (!(out_latency >= 0.0 && out_latency < 1.0)) out_latency = 0.0;  // host API gave no times
  }
  stats_.output_latency.store(out_latency, std::memory_order_relaxed);
  double now = clock_override >= 0.0 ? clock_override : static_cast<double>(t0) * 1e-9;
  if (clock_override < 0.0) {
    // on JACK: the start of this cycle from JACK's filtered cycle clock, free of wake-up jitter
    const JackClient* jc = jack_clock_.load(std::memory_order_acquire);
    double cycle_start;
    if (jc != nullptr && jc->cycleStart(&cycle_start)) {
      now = cycle_start;
      stats_.jack_clock_callbacks.fetch_add(1, std::memory_order_relaxed);
    }
  }
  const double buffer_start = now + out_latency;
  const double latency = schedule_latency_.load(std::memory_order_relaxed);
  int min_offset = 0;  // offsets never go backwards inside a buffer
  // released_upto_: hand-overs the audio thread stopped waiting for (timeout); Python's own count
  // is left alone, so it stays exact when Python catches up
  uint64_t python_done = std::max(python_done_.load(std::memory_order_acquire), released_upto_);
  for (;;) {
    // the earlier of the two queues' heads (time 0 = at once comes first)
    const Event* a = queue_.peek();
    const Event* b = native_queue_.peek();
    if (b != nullptr && b->after > python_done) {
      // it follows a message Python is still handling: wait (ordering), but not for ever
      if (held_since_ns_ == 0) {
        held_since_ns_ = t0;
        stats_.events_held.fetch_add(1, std::memory_order_relaxed);
      }
      if (static_cast<double>(t0 - held_since_ns_) < kBarrierTimeout * 1e9) {
        b = nullptr;
      } else {
        stats_.barrier_timeouts.fetch_add(1, std::memory_order_relaxed);
        held_since_ns_ = 0;
        released_upto_ = python_done = b->after;  // and everything queued before it
      }
    } else if (b != nullptr) {
      held_since_ns_ = 0;
    }
    if (a == nullptr && b == nullptr) break;
    const bool from_native =
        a == nullptr || (b != nullptr && (b->time <= 0.0 ? 0.0 : b->time) < (a->time <= 0.0 ? 0.0 : a->time));
    const Event* ev = from_native ? b : a;
    int offset = 0;
    bool late = false;
    if (ev->time > 0.0) {
      const double due = (ev->time + latency - buffer_start) * sample_rate_;
      stats_.last_due.store(due, std::memory_order_relaxed);
      if (due >= frames) {
        // belongs to a later buffer, unless the stamp is absurdly far ahead (clock mix-up)
        if (due < sample_rate_) break;
      } else if (due < -0.5) {
        late = true;
        atomicMax(stats_.max_lateness, static_cast<float>(-due / sample_rate_));
      } else {
        offset = static_cast<int>(std::lround(due));
      }
    }
    if (offset < min_offset) offset = min_offset;
    if (offset >= frames) offset = frames - 1;
    min_offset = offset;
    apply(*ev, offset);
    if (recording) logApplied(*ev, record_frame_ + static_cast<uint64_t>(offset), late);
    if (late) stats_.events_late.fetch_add(1, std::memory_order_relaxed);
    stats_.events_applied.fetch_add(1, std::memory_order_relaxed);
    if (from_native)
      native_queue_.pop();
    else
      queue_.pop();
  }

  // ---- render (in chunks if the host hands us more than the scratch holds) -------------------
  float* dst = static_cast<float*>(out);
  float peak = stats_.peak.load(std::memory_order_relaxed);
  int done = 0;
  while (done < frames) {
    const int n = std::min(frames - done, max_block_);
    float* mono = scratch_.get();
    synth_.render(mono, n);
    for (int i = 0; i < n; ++i) {
      float s = mono[i] * gain_;
      // a hard limit protects ears and speakers; the engine's own mix is never clipped
      s = s > 1.0f ? 1.0f : (s < -1.0f ? -1.0f : s);
      if (s != s) s = 0.0f;
      mono[i] = s;
      const float a = std::fabs(s);
      if (a > peak) peak = a;
      for (int c = 0; c < channels_; ++c) dst[(done + i) * channels_ + c] = s;
    }
    if (recording) {
      const size_t pushed = audio_ring_.pushMany(mono, static_cast<size_t>(n));
      if (pushed < static_cast<size_t>(n))
        stats_.record_dropped.fetch_add(n - pushed, std::memory_order_relaxed);
    }
    done += n;
  }
  if (recording) record_frame_ += static_cast<uint64_t>(frames);
  stats_.peak.store(peak, std::memory_order_relaxed);
  stats_.frames.fetch_add(static_cast<uint64_t>(frames), std::memory_order_relaxed);
  stats_.active_voices.store(synth_.activeVoices(), std::memory_order_relaxed);
  stats_.last_frames.store(frames, std::memory_order_relaxed);

  // ---- timing statistics ------------------------------------------------------------------
  const uint64_t work = monotonicNs() - t0;
  stats_.last_callback_ns.store(work, std::memory_order_relaxed);
  atomicMax(stats_.max_callback_ns, work);
  auto& bin = stats_.hist[histBin(work)];
  bin.store(bin.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  const float ratio = frames > 0 ? static_cast<float>(static_cast<double>(work) / period_ns) : 0.0f;
  const float load = stats_.load.load(std::memory_order_relaxed);
  stats_.load.store(load + 0.05f * (ratio - load), std::memory_order_relaxed);
#ifdef DX7LIVE_HAVE_SSE
  _mm_setcsr(saved_csr);
#endif
  return kPaContinue;
}

}  // namespace dx7live

extern "C" int dx7live_stream_callback(const void* input, void* output, unsigned long frameCount,
                                       const PaStreamCallbackTimeInfo* timeInfo, PaStreamCallbackFlags statusFlags,
                                       void* userData) {
  (void)input;
  auto* host = static_cast<dx7live::Host*>(userData);
  host->promoteAudioThread();
  return host->process(static_cast<float*>(output), frameCount, timeInfo,
                                                          statusFlags);
}
