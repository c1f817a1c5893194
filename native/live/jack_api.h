// The part of the JACK client API the native MIDI input uses, loaded with dlopen at run time.
//
// Why dlopen: dx7live must build and run on machines without JACK (no headers, no library);
// the native JACK MIDI input is simply unavailable there. The declarations follow the public,
// stable JACK ABI (jack/jack.h, jack/midiport.h, jack/types.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace dx7live {
namespace jackabi {

typedef uint32_t jack_nframes_t;
typedef uint64_t jack_time_t;
typedef unsigned char jack_midi_data_t;
struct jack_client_t;
struct jack_port_t;
typedef int jack_options_t;
typedef int jack_status_t;

struct jack_midi_event_t {
  jack_nframes_t time;  // frame offset inside the current cycle
  size_t size;
  jack_midi_data_t* buffer;
};

constexpr jack_options_t kNoStartServer = 0x01;
constexpr jack_options_t kServerName = 0x04;
constexpr unsigned long kPortIsInput = 0x1;
constexpr unsigned long kPortIsOutput = 0x2;
constexpr unsigned long kPortIsPhysical = 0x4;
constexpr const char* kMidiType = "8 bit raw midi";
constexpr const char* kAudioType = "32 bit float mono audio";

struct Api {
  jack_client_t* (*client_open)(const char*, jack_options_t, jack_status_t*, ...) = nullptr;
  int (*client_close)(jack_client_t*) = nullptr;
  jack_port_t* (*port_register)(jack_client_t*, const char*, const char*, unsigned long, unsigned long) = nullptr;
  int (*set_process_callback)(jack_client_t*, int (*)(jack_nframes_t, void*), void*) = nullptr;
  void (*on_shutdown)(jack_client_t*, void (*)(void*), void*) = nullptr;
  int (*set_xrun_callback)(jack_client_t*, int (*)(void*), void*) = nullptr;
  char* (*get_client_name)(jack_client_t*) = nullptr;
  jack_nframes_t (*get_buffer_size)(jack_client_t*) = nullptr;
  int (*activate)(jack_client_t*) = nullptr;
  int (*deactivate)(jack_client_t*) = nullptr;
  void* (*port_get_buffer)(jack_port_t*, jack_nframes_t) = nullptr;
  uint32_t (*midi_get_event_count)(void*) = nullptr;
  int (*midi_event_get)(jack_midi_event_t*, void*, uint32_t) = nullptr;
  int (*get_cycle_times)(const jack_client_t*, jack_nframes_t*, jack_time_t*, jack_time_t*, float*) = nullptr;
  jack_time_t (*get_time)() = nullptr;
  jack_nframes_t (*frame_time)(const jack_client_t*) = nullptr;
  jack_nframes_t (*get_sample_rate)(jack_client_t*) = nullptr;
  const char** (*get_ports)(jack_client_t*, const char*, const char*, unsigned long) = nullptr;
  void (*free_)(void*) = nullptr;
  int (*connect)(jack_client_t*, const char*, const char*) = nullptr;
  const char* (*port_name)(const jack_port_t*) = nullptr;
  int (*port_connected_to)(const jack_port_t*, const char*) = nullptr;
  void (*set_error_function)(void (*)(const char*)) = nullptr;
  void (*set_info_function)(void (*)(const char*)) = nullptr;
  int (*client_max_real_time_priority)(jack_client_t*) = nullptr;  // optional (may stay nullptr)
};

// The loaded API, or nullptr (with the reason in *why) when libjack is not installed.
const Api* load(const char** why);

}  // namespace jackabi
}  // namespace dx7live
