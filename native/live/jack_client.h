// A native JACK client for live play: an optional MIDI input port and optional audio outputs.
//
// Audio: with audio ports, the client's process callback (JACK's real-time thread) renders the
// Host directly into the port buffers: on JACK this replaces PortAudio's client, so MIDI in and
// audio out are one client, one context switch per cycle, and the audio timeline is the JACK
// frame counter itself.
//
// MIDI: the process callback stamps every event with its exact time and routes it without Python:
//
//   * channel messages the engine plays (notes, controllers except bank select, pitch bend,
//     pressure) go straight into the Host's native event queue;
//   * what needs Python (program change, bank select, sysex) goes into a byte ring that a Python
//     thread drains into the Instrument.
//
// Why: RtMidi's JACK input stamps messages with the time its process callback ran, losing the
// frame offset inside the cycle (a period of jitter), and any Python step between the MIDI driver
// and the audio callback waits for the GIL (a full garbage collection in any thread holds it for
// milliseconds). Here an event's time is its JACK frame (cycle start frame + offset) converted to
// the host clock as frames / rate + offset; and the audio callback, when it also runs on this JACK
// server, takes the start of its buffer from the same frame counter, so both ends of the latency
// are measured in frames of one clock: the scheduled latency is exact to the sample.
#pragma once

#include <atomic>
#include <memory>
#include <cstdint>
#include <string>
#include <vector>

#include "host.h"
#include "jack_api.h"
#include "spsc_ring.h"

namespace dx7live {

class JackClient {
 public:
  // Opens client `client_name` on server `server_name` (empty: the default server) with a MIDI
  // input port `port_name` (empty: none) and `audio_ports` audio outputs out_0.. (0: none; the
  // Host must then have 1 channel, copied to every port). Throws std::runtime_error with a
  // readable reason on failure.
  JackClient(Host* host, const std::string& client_name, const std::string& port_name,
             const std::string& server_name, int audio_ports);
  bool hasMidi() const { return port_ != nullptr; }
  std::string clientName() const;
  uint32_t bufferSize() const;
  double sampleRate() const { return rate_; }
  uint64_t xruns() const { return xruns_.load(std::memory_order_relaxed); }
  // Start the audio: make the Host time its callback on our frame clock, then activate.
  void activate();
  ~JackClient();

  std::string portName() const;
  std::vector<std::string> sources() const;          // MIDI output ports of other clients
  bool connectFrom(const std::string& source);         // connect source -> our input
  bool isConnectedTo(const std::string& source) const;
  bool connectPorts(const std::string& source, const std::string& destination);
  std::vector<std::string> playbackPorts() const;    // physical audio outputs (system:playback_N)
  // Drain messages routed to Python: (bytes, time) pairs appended to out; returns count.
  size_t readForPython(std::vector<std::pair<std::string, double>>* out, size_t max_messages);
  // Offset host clock - JACK clock (seconds), re-measured by Python now and then.
  void recalibrate();
  bool shutDown() const { return shut_down_.load(std::memory_order_acquire); }
  uint64_t messages() const { return messages_.load(std::memory_order_relaxed); }
  uint32_t lastMessage() const { return last_message_.load(std::memory_order_relaxed); }
  double lastTime() const { return last_time_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  // Host-clock time of the start of the current JACK cycle (for the audio callback); false if unknown.
  bool cycleStart(double* start_seconds) const;

 private:
  static int processThunk(jackabi::jack_nframes_t nframes, void* arg);
  static void shutdownThunk(void* arg);
  static int xrunThunk(void* arg);
  int process(jackabi::jack_nframes_t nframes);
  void processMidi(jackabi::jack_nframes_t nframes);
  void route(const uint8_t* data, size_t size, double time);
  double framesToHost(uint32_t frames) const;

  const jackabi::Api* api_;
  Host* host_;
  jackabi::jack_client_t* client_ = nullptr;
  int rt_priority_ = 0;  // SCHED_FIFO priority for the audio thread (0: as JACK set it)
  jackabi::jack_port_t* port_ = nullptr;
  std::vector<jackabi::jack_port_t*> audio_;
  bool active_ = false;
  std::atomic<uint64_t> xruns_{0};
  SpscRing<uint8_t> to_python_;   // records: [double time][uint32 length][bytes]
  std::unique_ptr<uint8_t[]> record_scratch_;  // one record is assembled here, then published whole
  // JACK frame counter -> host clock (seconds = (frames + epoch) / rate + offset); the offset and
  // epoch are written by recalibrate() (a Python thread), read by the JACK and audio threads
  double rate_ = 48000.0;
  std::atomic<double> clock_offset_{0.0};
  std::atomic<double> frame_epoch_{0.0};
  std::atomic<uint32_t> last_frame_{0};
  bool calibrated_ = false;
  std::atomic<bool> shut_down_{false};
  std::atomic<uint64_t> messages_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint32_t> last_message_{0};
  std::atomic<double> last_time_{0.0};
};

}  // namespace dx7live
