// dx7live._live: the live host (engine + lock-free event queue + PortAudio callback) for Python.
//
// Python opens a sounddevice stream with CALLBACK_ADDRESS as its C callback and Host.userdata()
// as its user-data pointer; from then on PortAudio calls straight into native code and the audio
// thread never touches the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "host.h"
#include "jack_client.h"

namespace py = pybind11;
using dx7live::EventKind;
using dx7live::Host;

namespace {

std::string bytesOf(const py::object& obj) {
  // accept bytes, bytearray, memoryview, numpy uint8 arrays, lists of ints
  return py::bytes(py::module_::import("builtins").attr("bytes")(obj)).cast<std::string>();
}

double stampOr(double time) { return time < 0.0 ? dx7live::hostClock() : time; }

// Owns the native JACK MIDI input so Python can close it explicitly (before the Host goes).
struct JackMidiHandle {
  std::unique_ptr<dx7live::JackClient> input;
  Host* host;
  dx7live::JackClient& get() {
    if (!input) throw std::runtime_error("the JACK MIDI input is closed");
    return *input;
  }
};

const char* kindName(EventKind k) {
  switch (k) {
    case EventKind::kMidi: return "midi";
    case EventKind::kVoice: return "voice";
    case EventKind::kFunction: return "function";
    case EventKind::kMasterTune: return "master_tune";
    case EventKind::kChannel: return "channel";
    case EventKind::kPanic: return "panic";
    case EventKind::kGain: return "gain";
  }
  return "?";
}

}  // namespace

PYBIND11_MODULE(_live, m) {
  m.doc() = "dx7live live host: a dx7::Synth behind a lock-free event queue, rendered by a native PortAudio callback";
  m.attr("CALLBACK_ADDRESS") = py::int_(reinterpret_cast<uintptr_t>(&dx7live_stream_callback));
  m.attr("HIST_BINS") = dx7live::kHistBins;
  m.def("now", &dx7live::hostClock, "Seconds on the host clock (CLOCK_MONOTONIC) that stamps events.");

  m.def("jack_available", [] {
    const char* why = nullptr;
    return dx7live::jackabi::load(&why) != nullptr;
  }, "True if libjack can be loaded (the native JACK MIDI input is possible).");

  py::class_<Host>(m, "Host")
      .def(py::init([](double sample_rate, int polyphony, int channels, size_t queue_capacity,
                       size_t record_capacity_frames, int max_block) {
             if (!(sample_rate >= 8000.0 && sample_rate <= 384000.0))
               throw py::value_error("sample_rate must be 8000..384000 Hz, got " + std::to_string(sample_rate));
             if (polyphony < 1 || polyphony > 64)
               throw py::value_error("polyphony must be 1..64, got " + std::to_string(polyphony));
             if (channels < 1 || channels > 32)
               throw py::value_error("channels must be 1..32, got " + std::to_string(channels));
             if (queue_capacity < 16 || queue_capacity > (1u << 20))
               throw py::value_error("queue_capacity must be 16..1048576");
             if (max_block < 16 || max_block > 65536) throw py::value_error("max_block must be 16..65536");
             return new Host(sample_rate, polyphony, channels, queue_capacity,
                             record_capacity_frames < 1024 ? 1024 : record_capacity_frames, max_block);
           }),
           py::arg("sample_rate"), py::arg("polyphony") = 16, py::arg("channels") = 2,
           py::arg("queue_capacity") = 4096, py::arg("record_capacity_frames") = 1 << 19,
           py::arg("max_block") = 4096)
      .def("userdata", [](Host& h) { return reinterpret_cast<uintptr_t>(&h); },
           "The user-data pointer to pass to Pa_OpenStream with CALLBACK_ADDRESS (valid while this Host lives).")
      .def_property_readonly("sample_rate", &Host::sampleRate)
      .def_property_readonly("channels", &Host::channels)
      .def("push_midi",
           [](Host& h, const py::object& msg, double time) {
             const std::string b = bytesOf(msg);
             return h.pushMidi(reinterpret_cast<const uint8_t*>(b.data()), b.size(), stampOr(time));
           },
           py::arg("message"), py::arg("time") = -1.0,
           "Queue a MIDI message (up to 160 bytes) stamped `time` on the host clock (default: now; 0 = at once). "
           "False if the queue is full.")
      .def("push_voice",
           [](Host& h, const py::object& vced, double time) {
             const std::string b = bytesOf(vced);
             if (b.size() != 155 && b.size() != 156)
               throw py::value_error("a voice is 155 or 156 VCED bytes, got " + std::to_string(b.size()));
             return h.pushVoice(reinterpret_cast<const uint8_t*>(b.data()), b.size(), stampOr(time));
           },
           py::arg("vced"), py::arg("time") = -1.0, "Queue 'load this voice into the edit buffer'.")
      .def("push_function",
           [](Host& h, int param, int value, double time) {
             return h.pushCommand(EventKind::kFunction, param, value, stampOr(time));
           },
           py::arg("param"), py::arg("value"), py::arg("time") = -1.0)
      .def("push_master_tune",
           [](Host& h, int units, double time) { return h.pushCommand(EventKind::kMasterTune, units, 0, stampOr(time)); },
           py::arg("units"), py::arg("time") = -1.0)
      .def("push_channel",
           [](Host& h, int channel, double time) { return h.pushCommand(EventKind::kChannel, channel, 0, stampOr(time)); },
           py::arg("channel"), py::arg("time") = -1.0)
      .def("push_panic", [](Host& h) { return h.pushCommand(EventKind::kPanic, 0, 0, 0.0); },
           "Sustain off, all notes off, all sound off, at once.")
      .def("_push_native",
           [](Host& h, const py::bytes& msg, double time) {
             const std::string m = msg;
             return h.pushNative(reinterpret_cast<const uint8_t*>(m.data()), m.size(), time);
           },
           py::arg("msg"), py::arg("time"),
           "Test hook: queue as the native MIDI input does (single producer: never while one is attached).")
      .def("_handed_to_python", &Host::handedToPython,
           "Test hook: count a hand-over to Python, as the native MIDI input does for program changes.")
      .def("python_done", [](Host& h, uint64_t n) { h.pythonDone(n); }, py::arg("n") = 1,
           "Count n messages handed over by the native MIDI input as handled (their pushes are queued): "
           "native events that followed them may now sound.")
      .def("push_gain",
           [](Host& h, double gain) {
             return h.pushCommand(EventKind::kGain, static_cast<int32_t>(gain * 1000.0 + 0.5), 0, 0.0);
           },
           py::arg("gain"))
      .def("set_jack_clock",
           [](Host& h, py::object input) {
             if (input.is_none())
               h.setJackClock(nullptr);
             else
               h.setJackClock(&input.cast<JackMidiHandle&>().get());
           },
           py::arg("input"),
           "Measure the audio timeline on the JACK cycle clock of this JackClient (audio on the same "
           "JACK server, blocksize = JACK period), or None for the host clock.")
      .def_property("schedule_latency", &Host::scheduleLatency, &Host::setScheduleLatency,
                    "Seconds from an event's stamp to the moment it is heard (constant-latency scheduling).")
      .def("set_recording", &Host::setRecording, py::arg("on"))
      .def("reset_timing", &Host::requestHistogramReset,
           "Ask the callback to clear the callback-time histogram, max, xrun and late-callback counts.")
      .def("read_audio",
           [](Host& h, size_t max_frames) {
             py::array_t<float> out(max_frames);
             size_t n;
             {
               py::gil_scoped_release release;
               n = h.readAudio(out.mutable_data(), max_frames);
             }
             out.resize({static_cast<py::ssize_t>(n)});
             return out;
           },
           py::arg("max_frames") = 1 << 16, "Drain recorded audio (mono float32).")
      .def("read_log",
           [](Host& h, size_t max_entries) {
             std::vector<dx7live::LogEntry> buf(max_entries);
             const size_t n = h.readLog(buf.data(), max_entries);
             py::list out;
             for (size_t i = 0; i < n; ++i) {
               const auto& e = buf[i];
               py::dict d;
               d["frame"] = e.frame;
               d["stamp"] = e.time;
               d["kind"] = kindName(e.kind);
               d["late"] = static_cast<bool>(e.late);
               d["a"] = e.a;
               d["b"] = e.b;
               d["data"] = py::bytes(reinterpret_cast<const char*>(e.data), e.size);
               out.append(d);
             }
             return out;
           },
           py::arg("max_entries") = 4096, "Drain the log of applied events (for the annotated recording).")
      .def("status",
           [](Host& h) {
             const auto& s = h.stats();
             py::dict d;
             d["callbacks"] = s.callbacks.load();
             d["frames"] = s.frames.load();
             d["xruns"] = s.xruns.load();
             d["late_callbacks"] = s.late_callbacks.load();
             d["events_applied"] = s.events_applied.load();
             d["events_late"] = s.events_late.load();
             d["events_held"] = s.events_held.load();
             d["barrier_timeouts"] = s.barrier_timeouts.load();
             d["queue_full"] = s.queue_full.load();
             d["record_dropped"] = s.record_dropped.load();
             d["max_callback_s"] = s.max_callback_ns.load() * 1e-9;
             d["last_callback_s"] = s.last_callback_ns.load() * 1e-9;
             d["active_voices"] = s.active_voices.load();
             d["block_frames"] = s.last_frames.load();
             d["load"] = s.load.load();
             d["peak"] = h.takePeak();
             d["max_lateness_s"] = s.max_lateness.load();
             d["output_latency_s"] = s.output_latency.load();
             d["jack_clock_callbacks"] = s.jack_clock_callbacks.load();
             d["last_due_frames"] = s.last_due.load();
             d["realtime"] = h.realtimeState();  // -1 no callback yet, 0 normal scheduling, 1 SCHED_FIFO
             return d;
           },
           "A snapshot of the callback's counters (peak is reset by each read).")
      .def("callback_histogram",
           [](Host& h) {
             py::array_t<uint32_t> out(dx7live::kHistBins);
             auto* p = out.mutable_data();
             for (int i = 0; i < dx7live::kHistBins; ++i) p[i] = h.stats().hist[i].load(std::memory_order_relaxed);
             return out;
           },
           "Counts of callback durations: bin b covers [lo, hi) ns with lo = (8 + b%8) << (b//8 - 3) for b >= 24.")
      .def("process",
           [](Host& h, int frames, double current_time, double dac_time, unsigned long flags, double clock) {
             if (frames < 1 || frames > 1 << 20) throw py::value_error("frames must be 1..1048576");
             py::array_t<float> out(static_cast<py::ssize_t>(frames) * h.channels());
             PaStreamCallbackTimeInfo ti{0.0, current_time, dac_time};
             {
               py::gil_scoped_release release;
               h.process(out.mutable_data(), static_cast<unsigned long>(frames), &ti, flags, clock);
             }
             out.resize({static_cast<py::ssize_t>(frames), static_cast<py::ssize_t>(h.channels())});
             return out;
           },
           py::arg("frames"), py::arg("current_time") = 0.0, py::arg("dac_time") = 0.0, py::arg("flags") = 0,
           py::arg("clock") = -1.0,
           "Run the audio callback once, as PortAudio would (for tests and offline use); returns (frames, channels). "
           "`clock` (seconds on the host clock) stands in for the time the callback reads; default: the real clock.");

  py::class_<JackMidiHandle>(m, "JackClient")
      .def(py::init([](Host& host, const std::string& client, const std::string& port, const std::string& server,
                       int audio_ports) {
             if (audio_ports < 0 || audio_ports > 8) throw py::value_error("audio_ports must be 0..8");
             auto* h = new JackMidiHandle{nullptr, &host};
             try {
               h->input = std::make_unique<dx7live::JackClient>(&host, client, port, server, audio_ports);
             } catch (...) {
               delete h;
               throw;
             }
             return h;
           }),
           py::arg("host"), py::arg("client_name") = "dx7live-midi", py::arg("port_name") = "in",
           py::arg("server_name") = "", py::arg("audio_ports") = 0, py::keep_alive<1, 2>(),
           "A native JACK client. With a MIDI port (port_name non-empty): notes and controllers go straight "
           "to `host`'s queue from JACK's thread, program change / bank select / sysex wait in a ring for "
           "read(). With audio_ports > 0: renders `host` (1 channel) into out_0.. in JACK's thread once "
           "activate() is called.")
      .def("activate", [](JackMidiHandle& h) { h.get().activate(); })
      .def_property_readonly("client_name", [](JackMidiHandle& h) { return h.get().clientName(); })
      .def_property_readonly("buffer_size", [](JackMidiHandle& h) { return h.get().bufferSize(); })
      .def_property_readonly("sample_rate", [](JackMidiHandle& h) { return h.get().sampleRate(); })
      .def_property_readonly("xruns", [](JackMidiHandle& h) { return h.get().xruns(); })
      .def_property_readonly("has_midi", [](JackMidiHandle& h) { return h.get().hasMidi(); })
      .def("connect_ports",
           [](JackMidiHandle& h, const std::string& a, const std::string& b) { return h.get().connectPorts(a, b); },
           py::arg("source"), py::arg("destination"))
      .def("playback_ports", [](JackMidiHandle& h) { return h.get().playbackPorts(); })
      .def_property_readonly("port_name", [](JackMidiHandle& h) { return h.get().portName(); })
      .def("sources", [](JackMidiHandle& h) { return h.get().sources(); }, "MIDI output ports on the server.")
      .def("connect_from", [](JackMidiHandle& h, const std::string& src) { return h.get().connectFrom(src); },
           py::arg("source"))
      .def("is_connected_to", [](JackMidiHandle& h, const std::string& src) { return h.get().isConnectedTo(src); },
           py::arg("source"))
      .def("read",
           [](JackMidiHandle& h, size_t max_messages) {
             std::vector<std::pair<std::string, double>> got;
             h.get().readForPython(&got, max_messages);
             py::list out;
             for (auto& m : got) out.append(py::make_tuple(py::bytes(m.first), m.second));
             return out;
           },
           py::arg("max_messages") = 256, "Messages for the Instrument: [(bytes, time on the host clock)].")
      .def("recalibrate", [](JackMidiHandle& h) { h.get().recalibrate(); })
      .def_property_readonly("shut_down", [](JackMidiHandle& h) { return !h.input || h.input->shutDown(); })
      .def_property_readonly("messages", [](JackMidiHandle& h) { return h.get().messages(); })
      .def_property_readonly("dropped", [](JackMidiHandle& h) { return h.get().dropped(); })
      .def_property_readonly("last_time", [](JackMidiHandle& h) { return h.get().lastTime(); })
      .def_property_readonly("last_message",
                             [](JackMidiHandle& h) {
                               const uint32_t v = h.get().lastMessage();
                               py::list out;
                               for (uint32_t i = 0; i < (v >> 24); ++i) out.append((v >> (8 * i)) & 0xFF);
                               return out;
                             })
      .def("close",
           [](JackMidiHandle& h) {
             h.host->setJackClock(nullptr);
             h.input.reset();
           },
           "Leave the JACK graph (after the audio stream using its clock has stopped).");
}
