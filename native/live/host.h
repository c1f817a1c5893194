// The live host: one dx7::Synth driven from a lock-free event queue by the PortAudio callback.
//
// Threads:
//   * Python threads (MIDI poller, instrument, status keys) call the push*() functions. They are
//     serialised by a producer-side mutex that the audio thread never touches.
//   * The audio thread (PortAudio, via dx7live_stream_callback) is the only consumer: it drains the
//     queue, applies every event at its frame offset, renders, and updates the status atomics.
//   * A Python thread drains the recording rings (audio + applied-event log) when recording.
//
// Timing (constant MIDI-to-audio latency): every event carries a time on the host clock
// (CLOCK_MONOTONIC, seconds; see hostClock()). The callback reads the same clock on entry ("now")
// and PortAudio's output latency (outputBufferDacTime - currentTime), so the first frame of the
// buffer it is filling will be heard at   buffer_start = now + output_latency.
// An event stamped t is scheduled to be heard at t + schedule_latency, i.e. at frame offset
//   round((t + schedule_latency - buffer_start) * sample_rate)
// inside this buffer; events that fall beyond this buffer stay queued for a later callback, events
// already late are applied at the earliest frame still open (and counted as late). As long as
// schedule_latency exceeds the worst delay between the stamp and the callback that applies it, the
// sound of every event comes exactly schedule_latency after its stamp: constant, not quantised to
// the block size.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "portaudio_abi.h"
#include "realtime_thread.h"
#include "spsc_ring.h"
#include "synth.h"

namespace dx7live {

class JackClient;

// Seconds on CLOCK_MONOTONIC: the clock shared by the MIDI poller and the audio callback.
double hostClock();

enum class EventKind : uint8_t {
  kMidi = 1,        // a MIDI message (channel message or short sysex) for dx7::Synth::midi
  kVoice = 2,       // 155/156 VCED bytes into the edit buffer (program change, voice dump)
  kFunction = 3,    // function parameter a = value b
  kMasterTune = 4,  // master tune a (firmware units)
  kChannel = 5,     // receive channel a (0..15, -1 omni)
  kPanic = 6,       // sustain off, all notes off, all sound off
  kGain = 7,        // output gain a/1000
};

constexpr size_t kEventBytes = 160;

struct Event {
  double time = 0.0;  // host clock seconds; 0 = as soon as possible
  uint64_t after = 0; // native events: apply only once Python has handled this many messages
  EventKind kind = EventKind::kMidi;
  uint8_t size = 0;
  int32_t a = 0;
  int32_t b = 0;
  uint8_t data[kEventBytes] = {};
};

// What the callback applied, for the annotated recording.
struct LogEntry {
  uint64_t frame = 0;  // frame index in the recording
  double time = 0.0;   // the event's stamp (host clock)
  EventKind kind = EventKind::kMidi;
  uint8_t size = 0;    // bytes in data (a truncated copy for long messages)
  uint8_t late = 0;    // 1 if it could not be applied at its scheduled frame
  int32_t a = 0;
  int32_t b = 0;
  uint8_t data[12] = {};
};

constexpr int kHistBins = 256;  // callback-time histogram: 8 bins per octave of nanoseconds

class Host {
 public:
  Host(double sample_rate, int polyphony, int channels, size_t queue_capacity, size_t record_capacity_frames,
       int max_block);

  // ---- producer side (Python threads) -------------------------------------------------------
  bool pushMidi(const uint8_t* msg, size_t n, double time);
  bool pushVoice(const uint8_t* vced, size_t n, double time);
  bool pushCommand(EventKind kind, int32_t a, int32_t b, double time);
  // The native MIDI input's own queue: lock-free, one producer (JACK's MIDI thread).
  bool pushNative(const uint8_t* msg, size_t n, double time);
  // Ordering across the two paths. The native producer hands program changes, bank selects and
  // sysex to Python (they need the banks) and counts them here; Python counts each one done once
  // it has pushed what it leads to. A native event queued after a hand-over waits for it, so a
  // note that follows a program change always plays the new voice, with no fixed delay for the
  // notes that follow none. If Python stalls, held events go after kBarrierTimeout anyway.
  void handedToPython() { python_handed_.fetch_add(1, std::memory_order_relaxed); }
  void pythonDone(uint64_t n) { python_done_.fetch_add(n, std::memory_order_release); }
  static constexpr double kBarrierTimeout = 0.1;  // seconds
  // Measure the audio timeline on this JACK client's cycle clock (audio on the same JACK server,
  // one callback per JACK cycle); nullptr = the host clock read on callback entry.
  void setJackClock(const JackClient* input) { jack_clock_.store(input, std::memory_order_release); }
  void setScheduleLatency(double seconds) { schedule_latency_.store(seconds, std::memory_order_relaxed); }
  double scheduleLatency() const { return schedule_latency_.load(std::memory_order_relaxed); }
  void setRecording(bool on);
  void requestHistogramReset() { hist_reset_.store(true, std::memory_order_release); }
  void noteXrun() { stats_.xruns.fetch_add(1, std::memory_order_relaxed); }  // from a JACK xrun callback

  // ---- consumer side (audio thread) ----------------------------------------------------------
  // `clock_override` >= 0 replaces the host clock reading (tests drive time by hand).
  int process(float* out, unsigned long frames, const PaStreamCallbackTimeInfo* ti, PaStreamCallbackFlags flags,
              double clock_override = -1.0);

  // Raise the calling audio thread to real-time scheduling (first call per thread; see
  // realtime_thread.h). Called by the real callbacks only, never by tests driving process().
  // `min_priority` > 0: at least this SCHED_FIFO priority (the own JACK client asks for the
  // highest JACK allows its clients, just below the server's).
  void promoteAudioThread(int min_priority = 0) { realtime_.promote(min_priority); }
  int realtimeState() const { return realtime_.state(); }

  // ---- recording drain (one Python thread) ------------------------------------------------------
  size_t readAudio(float* out, size_t n) { return audio_ring_.popMany(out, n); }
  size_t readLog(LogEntry* out, size_t n) { return log_ring_.popMany(out, n); }

  // ---- status (any thread; relaxed atomics) --------------------------------------------------
  struct Stats {
    std::atomic<uint64_t> callbacks{0};
    std::atomic<uint64_t> frames{0};
    std::atomic<uint64_t> xruns{0};            // PortAudio under/overflow flags, or JACK xrun callbacks
    std::atomic<uint64_t> late_callbacks{0};   // callback started > 1.5 periods after the previous one
    std::atomic<uint64_t> events_applied{0};
    std::atomic<uint64_t> events_late{0};      // applied after their scheduled frame
    std::atomic<uint64_t> queue_full{0};       // pushes refused (queue full)
    std::atomic<uint64_t> record_dropped{0};   // recorded frames lost (drain thread too slow)
    std::atomic<uint64_t> max_callback_ns{0};
    std::atomic<uint64_t> last_callback_ns{0};
    std::atomic<int> active_voices{0};
    std::atomic<int> last_frames{0};
    std::atomic<float> load{0.0f};             // smoothed callback time / buffer duration
    std::atomic<float> peak{0.0f};             // max |sample| since last read (reset by the reader)
    std::atomic<float> max_lateness{0.0f};     // seconds, worst late event
    std::atomic<double> output_latency{0.0};   // last outputBufferDacTime - currentTime
    std::atomic<uint64_t> jack_clock_callbacks{0};  // callbacks timed by the JACK cycle clock
    std::atomic<double> last_due{0.0};         // frame offset the last stamped event asked for
    std::atomic<uint64_t> events_held{0};      // native events that waited for Python (ordering)
    std::atomic<uint64_t> barrier_timeouts{0}; // ... and went ahead because Python took too long
    std::atomic<uint32_t> hist[kHistBins];
    Stats() {
      for (auto& h : hist) h.store(0, std::memory_order_relaxed);
    }
  };
  const Stats& stats() const { return stats_; }
  float takePeak() { return stats_.peak.exchange(0.0f, std::memory_order_relaxed); }
  double sampleRate() const { return sample_rate_; }
  int channels() const { return channels_; }

 private:
  void apply(const Event& ev, int offset);
  void logApplied(const Event& ev, uint64_t frame, bool late);

  const double sample_rate_;
  const int channels_;
  const int max_block_;
  dx7::Synth synth_;
  SpscRing<Event> queue_;         // from Python threads (producer mutex)
  SpscRing<Event> native_queue_;  // from the native JACK MIDI input (single producer)
  std::atomic<const JackClient*> jack_clock_{nullptr};
  SpscRing<float> audio_ring_;
  SpscRing<LogEntry> log_ring_;
  std::mutex producer_mutex_;  // serialises Python producers; never taken by the audio thread
  std::unique_ptr<float[]> scratch_;
  std::atomic<double> schedule_latency_{0.005};
  std::atomic<bool> recording_{false};
  std::atomic<bool> hist_reset_{false};
  std::atomic<uint64_t> python_handed_{0};  // written by the native producer only
  std::atomic<uint64_t> python_done_{0};
  // audio-thread-only state
  uint64_t held_since_ns_ = 0;  // the native queue's head has been waiting for Python since
  uint64_t released_upto_ = 0;  // hand-overs no longer waited for (kBarrierTimeout)
  float gain_ = 1.0f;
  bool was_recording_ = false;
  uint64_t record_frame_ = 0;
  uint64_t last_start_ns_ = 0;
  bool pushFromPython(const Event& ev);
  Stats stats_;
  RealtimeThread realtime_;
};

}  // namespace dx7live
