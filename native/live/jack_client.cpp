// Native JACK MIDI input (see jack_client.h) and the dlopen'ed JACK API (jack_api.h).
#include "jack_client.h"

#include <dlfcn.h>

#include <cstring>
#include <mutex>
#include <stdexcept>

namespace dx7live {

namespace jackabi {

namespace {
void quiet(const char*) {}
}  // namespace

const Api* load(const char** why) {
  static Api api;
  static const char* error = nullptr;
  static std::once_flag once;
  std::call_once(once, [] {
    void* lib = dlopen("libjack.so.0", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) lib = dlopen("libjack.so", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      error = "libjack is not installed (Debian: libjack-jackd2-0)";
      return;
    }
    bool ok = true;
    auto sym = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
      if (fn == nullptr) ok = false;
    };
    sym(api.client_open, "jack_client_open");
    sym(api.client_close, "jack_client_close");
    sym(api.port_register, "jack_port_register");
    sym(api.set_process_callback, "jack_set_process_callback");
    sym(api.on_shutdown, "jack_on_shutdown");
    sym(api.set_xrun_callback, "jack_set_xrun_callback");
    sym(api.get_client_name, "jack_get_client_name");
    sym(api.get_buffer_size, "jack_get_buffer_size");
    sym(api.activate, "jack_activate");
    sym(api.deactivate, "jack_deactivate");
    sym(api.port_get_buffer, "jack_port_get_buffer");
    sym(api.midi_get_event_count, "jack_midi_get_event_count");
    sym(api.midi_event_get, "jack_midi_event_get");
    sym(api.get_cycle_times, "jack_get_cycle_times");
    sym(api.get_time, "jack_get_time");
    sym(api.frame_time, "jack_frame_time");
    sym(api.get_sample_rate, "jack_get_sample_rate");
    sym(api.get_ports, "jack_get_ports");
    sym(api.free_, "jack_free");
    sym(api.connect, "jack_connect");
    sym(api.port_name, "jack_port_name");
    sym(api.port_connected_to, "jack_port_connected_to");
    sym(api.set_error_function, "jack_set_error_function");
    sym(api.set_info_function, "jack_set_info_function");
    if (!ok) error = "libjack lacks functions dx7live needs (too old?)";
    api.client_max_real_time_priority = reinterpret_cast<int (*)(jack_client_t*)>(
        dlsym(lib, "jack_client_max_real_time_priority"));
  });
  if (error != nullptr) {
    if (why != nullptr) *why = error;
    return nullptr;
  }
  return &api;
}

}  // namespace jackabi

namespace {

constexpr size_t kPythonRingBytes = 1 << 18;  // room for dozens of 4104-byte bank dumps
constexpr size_t kRecordHeader = sizeof(double) + sizeof(uint32_t);
constexpr size_t kMaxRecord = 1 << 16;

// Messages the engine can play without Python's help.
bool engineMessage(const uint8_t* d, size_t n) {
  if (n < 2 || d[0] < 0x80 || d[0] >= 0xF0) return false;
  const uint8_t kind = d[0] & 0xF0;
  if (kind == 0xC0) return false;                                    // program change: the Instrument
  if (kind == 0xB0 && n >= 3 && (d[1] == 0 || d[1] == 32)) return false;  // bank select: the Instrument
  return true;
}

}  // namespace

JackClient::JackClient(Host* host, const std::string& client_name, const std::string& port_name,
                       const std::string& server_name, int audio_ports)
    : host_(host), to_python_(kPythonRingBytes), record_scratch_(new uint8_t[kRecordHeader + kMaxRecord]) {
  const char* why = nullptr;
  api_ = jackabi::load(&why);
  if (api_ == nullptr) throw std::runtime_error(why);
  api_->set_error_function(jackabi::quiet);  // "cannot connect to server" noise while probing
  api_->set_info_function(jackabi::quiet);
  jackabi::jack_status_t status = 0;
  if (server_name.empty())
    client_ = api_->client_open(client_name.c_str(), jackabi::kNoStartServer, &status);
  else
    client_ = api_->client_open(client_name.c_str(), jackabi::kNoStartServer | jackabi::kServerName, &status,
                                server_name.c_str());
  if (client_ == nullptr) throw std::runtime_error("no JACK server running (could not open a JACK client)");
  if (!port_name.empty()) {
    port_ = api_->port_register(client_, port_name.c_str(), jackabi::kMidiType, jackabi::kPortIsInput, 0);
    if (port_ == nullptr) {
      api_->client_close(client_);
      throw std::runtime_error("could not register JACK MIDI port " + port_name);
    }
  }
  for (int i = 0; i < audio_ports; ++i) {
    const std::string name = "out_" + std::to_string(i);
    jackabi::jack_port_t* p =
        api_->port_register(client_, name.c_str(), jackabi::kAudioType, jackabi::kPortIsOutput, 0);
    if (p == nullptr) {
      api_->client_close(client_);
      throw std::runtime_error("could not register JACK audio port " + name);
    }
    audio_.push_back(p);
  }
  rate_ = static_cast<double>(api_->get_sample_rate(client_));
  if (!audio_.empty() && host_->channels() != 1) {
    api_->client_close(client_);
    throw std::runtime_error("a JACK audio client needs a 1-channel Host");
  }
  recalibrate();
  api_->set_process_callback(client_, &JackClient::processThunk, this);
  api_->on_shutdown(client_, &JackClient::shutdownThunk, this);
  api_->set_xrun_callback(client_, &JackClient::xrunThunk, this);
  if (audio_.empty()) activate();  // MIDI only: run at once; with audio, Python calls activate()
}

void JackClient::activate() {
  if (active_) return;
  if (!audio_.empty()) host_->setJackClock(this);
  // The highest real-time priority JACK allows its clients (just below the server's own threads):
  // the audio thread takes it on its first callback. 0 (keep JACK's) when libjack cannot say.
  if (api_->client_max_real_time_priority != nullptr)
    rt_priority_ = std::max(0, api_->client_max_real_time_priority(client_));
  if (api_->activate(client_) != 0) throw std::runtime_error("could not activate the JACK client");
  active_ = true;
}

int JackClient::xrunThunk(void* arg) {
  auto* self = static_cast<JackClient*>(arg);
  self->xruns_.fetch_add(1, std::memory_order_relaxed);
  if (!self->audio_.empty()) self->host_->noteXrun();
  return 0;
}

std::string JackClient::clientName() const {
  const char* n = api_->get_client_name(client_);
  return n != nullptr ? std::string(n) : std::string();
}

uint32_t JackClient::bufferSize() const { return api_->get_buffer_size(client_); }

JackClient::~JackClient() {
  if (client_ != nullptr) {
    if (active_ && !shut_down_.load()) api_->deactivate(client_);
    host_->setJackClock(nullptr);
    api_->client_close(client_);
  }
}

void JackClient::shutdownThunk(void* arg) {
  static_cast<JackClient*>(arg)->shut_down_.store(true, std::memory_order_release);
}

int JackClient::processThunk(jackabi::jack_nframes_t nframes, void* arg) {
  return static_cast<JackClient*>(arg)->process(nframes);
}

void JackClient::recalibrate() {
  // JACK's frame counter -> host clock: seconds = frames / rate + offset. The offset comes from the
  // tightest of a few bracketed readings of jack_frame_time (the frame at this instant); later
  // readings move it gently, following any drift between the sample clock and CLOCK_MONOTONIC
  // without jumps that would show up as jitter.
  double best_width = 1e9, best = 0.0;
  for (int i = 0; i < 7; ++i) {
    const double a = hostClock();
    const double f = static_cast<double>(api_->frame_time(client_));
    const double b = hostClock();
    if (b - a < best_width) {
      best_width = b - a;
      best = 0.5 * (a + b) - f / rate_;
    }
  }
  const uint32_t f_now = api_->frame_time(client_);
  // the 32-bit frame counter wraps (every 24.8 h at 48 kHz): keep the epoch continuous
  if (f_now < last_frame_.load(std::memory_order_relaxed))
    frame_epoch_.store(frame_epoch_.load(std::memory_order_relaxed) + 4294967296.0, std::memory_order_relaxed);
  last_frame_.store(f_now, std::memory_order_relaxed);
  best -= frame_epoch_.load(std::memory_order_relaxed) / rate_;
  const double old = clock_offset_.load(std::memory_order_relaxed);
  // small differences are drift (follow slowly); a large one is a discontinuity (xrun, server
  // restart of the frame counter): take it at once
  const bool jump = !calibrated_ || best - old > 0.005 || old - best > 0.005;
  clock_offset_.store(jump ? best : old + 0.05 * (best - old), std::memory_order_relaxed);
  calibrated_ = true;
}

double JackClient::framesToHost(uint32_t frames) const {
  double f = static_cast<double>(frames) + frame_epoch_.load(std::memory_order_relaxed);
  const uint32_t last = last_frame_.load(std::memory_order_relaxed);
  if (frames < last && last - frames > 0x80000000u) f += 4294967296.0;  // wrapped since recalibrate()
  return f / rate_ + clock_offset_.load(std::memory_order_relaxed);
}

bool JackClient::cycleStart(double* start_seconds) const {
  jackabi::jack_nframes_t frames;
  jackabi::jack_time_t current, next;
  float period;
  if (shut_down_.load(std::memory_order_relaxed) ||
      api_->get_cycle_times(client_, &frames, &current, &next, &period) != 0)
    return false;
  *start_seconds = framesToHost(frames);
  return true;
}

void JackClient::route(const uint8_t* data, size_t size, double time) {
  messages_.fetch_add(1, std::memory_order_relaxed);
  uint32_t packed = 0;
  for (size_t i = 0; i < 3 && i < size; ++i) packed |= static_cast<uint32_t>(data[i]) << (8 * i);
  last_message_.store(packed | (static_cast<uint32_t>(size < 3 ? size : 3) << 24), std::memory_order_relaxed);
  last_time_.store(time, std::memory_order_relaxed);
  if (engineMessage(data, size)) {
    if (!host_->pushNative(data, size, time)) dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (data[0] >= 0xF8 || size > kMaxRecord) return;  // clock, sensing: not for a DX7 voice
  const uint32_t len = static_cast<uint32_t>(size);
  if (to_python_.freeSpace() < kRecordHeader + len) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::memcpy(record_scratch_.get(), &time, sizeof(double));
  std::memcpy(record_scratch_.get() + sizeof(double), &len, sizeof(uint32_t));
  std::memcpy(record_scratch_.get() + kRecordHeader, data, size);
  to_python_.pushMany(record_scratch_.get(), kRecordHeader + len);
  host_->handedToPython();  // later native events wait until Python has handled this one
}

int JackClient::process(jackabi::jack_nframes_t nframes) {
  // the audio thread (a MIDI-only client's thread stays as JACK made it: the host tracks one thread)
  if (!audio_.empty()) host_->promoteAudioThread(rt_priority_);
  if (port_ != nullptr) processMidi(nframes);
  if (!audio_.empty()) {
    float* first = static_cast<float*>(api_->port_get_buffer(audio_[0], nframes));
    host_->process(first, nframes, nullptr, 0);
    for (size_t i = 1; i < audio_.size(); ++i)
      std::memcpy(api_->port_get_buffer(audio_[i], nframes), first, sizeof(float) * nframes);
  }
  return 0;
}

void JackClient::processMidi(jackabi::jack_nframes_t nframes) {
  void* buf = api_->port_get_buffer(port_, nframes);
  const uint32_t count = api_->midi_get_event_count(buf);
  if (count == 0) return;
  jackabi::jack_nframes_t cycle_frames;
  jackabi::jack_time_t current, next;
  float period_usecs;
  if (api_->get_cycle_times(client_, &cycle_frames, &current, &next, &period_usecs) != 0)
    cycle_frames = api_->frame_time(client_);
  const double start = framesToHost(cycle_frames);
  for (uint32_t i = 0; i < count; ++i) {
    jackabi::jack_midi_event_t ev;
    if (api_->midi_event_get(&ev, buf, i) != 0 || ev.size == 0) continue;
    route(ev.buffer, ev.size, start + ev.time / rate_);  // the event's own frame, exactly
  }
}

size_t JackClient::readForPython(std::vector<std::pair<std::string, double>>* out, size_t max_messages) {
  size_t n = 0;
  uint8_t header[kRecordHeader];
  while (n < max_messages && to_python_.sizeApprox() >= kRecordHeader) {
    to_python_.popMany(header, kRecordHeader);
    double time;
    uint32_t len;
    std::memcpy(&time, header, sizeof(double));
    std::memcpy(&len, header + sizeof(double), sizeof(uint32_t));
    std::string data(len, '\0');
    to_python_.popMany(reinterpret_cast<uint8_t*>(&data[0]), len);
    out->emplace_back(std::move(data), time);
    ++n;
  }
  return n;
}

std::string JackClient::portName() const { return port_ != nullptr ? api_->port_name(port_) : std::string(); }

std::vector<std::string> JackClient::sources() const {
  std::vector<std::string> out;
  const char** ports = api_->get_ports(client_, nullptr, jackabi::kMidiType, jackabi::kPortIsOutput);
  if (ports == nullptr) return out;
  for (const char** p = ports; *p != nullptr; ++p) out.emplace_back(*p);
  api_->free_(ports);
  return out;
}

bool JackClient::connectFrom(const std::string& source) {
  if (port_ == nullptr) return false;
  const int rc = api_->connect(client_, source.c_str(), portName().c_str());
  return rc == 0 || rc == 17;  // 17 = EEXIST: already connected
}

bool JackClient::connectPorts(const std::string& source, const std::string& destination) {
  const int rc = api_->connect(client_, source.c_str(), destination.c_str());
  return rc == 0 || rc == 17;
}

std::vector<std::string> JackClient::playbackPorts() const {
  std::vector<std::string> out;
  const char** ports = api_->get_ports(client_, nullptr, jackabi::kAudioType,
                                       jackabi::kPortIsInput | jackabi::kPortIsPhysical);
  if (ports == nullptr) return out;
  for (const char** p = ports; *p != nullptr; ++p) out.emplace_back(*p);
  api_->free_(ports);
  return out;
}

bool JackClient::isConnectedTo(const std::string& source) const {
  return port_ != nullptr && api_->port_connected_to(port_, source.c_str()) != 0;
}

}  // namespace dx7live
