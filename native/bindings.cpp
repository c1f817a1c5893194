// pybind11 module dx7live._engine: a thin layer over dx7::Synth and dx7::renderBatch.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstring>
#include <stdexcept>
#include <string>

#include "batch.h"
#include "synth.h"

namespace py = pybind11;

namespace {

const char* kEngineVersion = "1.0.0";

std::string bytesOf(const py::buffer& b, const char* what) {
  py::buffer_info info = b.request();
  if (info.itemsize != 1) throw py::value_error(std::string(what) + ": expected bytes (itemsize 1)");
  if (info.ndim != 1 || (info.ndim == 1 && info.strides[0] != 1 && info.shape[0] > 1))
    throw py::value_error(std::string(what) + ": expected a contiguous 1-D byte buffer");
  return std::string(static_cast<const char*>(info.ptr), (size_t)info.size);
}

int checkOffset(long long offset) {
  if (offset < 0 || offset > 0x7FFFFFFF) throw py::value_error("offset must be between 0 and 2**31-1 frames");
  return (int)offset;
}

}  // namespace

PYBIND11_MODULE(_engine, m) {
  m.doc() = "Native DX7 (Mark I) engine. Use dx7live.Synth for the validated Python API.";
  m.attr("ENGINE_VERSION") = kEngineVersion;
  m.attr("MAX_POLYPHONY") = dx7::kMaxPolyphony;

  py::class_<dx7::Synth>(m, "Synth")
      .def(py::init([](double sample_rate, int polyphony) {
             try {
               return new dx7::Synth(sample_rate, polyphony);
             } catch (const std::invalid_argument& e) {
               throw py::value_error(e.what());
             }
           }),
           py::arg("sample_rate"), py::arg("polyphony") = 16)
      .def("load_voice",
           [](dx7::Synth& s, const py::buffer& data) {
             std::string d = bytesOf(data, "load_voice");
             if (d.size() != 155 && d.size() != 156)
               throw py::value_error("load_voice: expected 155 or 156 VCED bytes, got " + std::to_string(d.size()));
             s.loadVoice(reinterpret_cast<const uint8_t*>(d.data()), d.size());
           },
           py::arg("vced"))
      .def("voice_data",
           [](const dx7::Synth& s) {
             return py::bytes(reinterpret_cast<const char*>(s.patch().vced), 156);
           },
           "The loaded voice as 156 clamped VCED bytes (155 parameters + operator on/off).")
      .def("set_function", &dx7::Synth::setFunction, py::arg("param"), py::arg("value"))
      .def("function", &dx7::Synth::function, py::arg("param"))
      .def("set_master_tune", &dx7::Synth::setMasterTune, py::arg("units"))
      .def_property_readonly("master_tune", &dx7::Synth::masterTune)
      .def("set_channel", &dx7::Synth::setChannel, py::arg("channel"))
      .def_property_readonly("channel", &dx7::Synth::channel)
      .def("note_on",
           [](dx7::Synth& s, int note, int velocity, long long offset) { s.noteOn(note, velocity, checkOffset(offset)); },
           py::arg("note"), py::arg("velocity"), py::arg("offset") = 0)
      .def("note_off", [](dx7::Synth& s, int note, long long offset) { s.noteOff(note, checkOffset(offset)); },
           py::arg("note"), py::arg("offset") = 0)
      .def("control_change",
           [](dx7::Synth& s, int cc, int value, long long offset) { s.controlChange(cc, value, checkOffset(offset)); },
           py::arg("cc"), py::arg("value"), py::arg("offset") = 0)
      .def("pitch_bend", [](dx7::Synth& s, int v, long long offset) { s.pitchBend(v, checkOffset(offset)); },
           py::arg("value"), py::arg("offset") = 0)
      .def("channel_pressure",
           [](dx7::Synth& s, int v, long long offset) { s.channelPressure(v, checkOffset(offset)); },
           py::arg("value"), py::arg("offset") = 0)
      .def("sysex",
           [](dx7::Synth& s, const py::buffer& data, long long offset) {
             std::string d = bytesOf(data, "sysex");
             s.sysex(reinterpret_cast<const uint8_t*>(d.data()), d.size(), checkOffset(offset));
           },
           py::arg("data"), py::arg("offset") = 0)
      .def("midi",
           [](dx7::Synth& s, const py::buffer& data, long long offset) {
             std::string d = bytesOf(data, "midi");
             s.midi(reinterpret_cast<const uint8_t*>(d.data()), d.size(), checkOffset(offset));
           },
           py::arg("message"), py::arg("offset") = 0)
      .def("render",
           [](dx7::Synth& s, long long frames) {
             if (frames < 0 || frames > (1LL << 31) - 1) throw py::value_error("frames must be between 0 and 2**31-1");
             py::array_t<float> out((py::ssize_t)frames);
             float* p = out.mutable_data();
             {
               py::gil_scoped_release release;
               s.render(p, (int)frames);
             }
             return out;
           },
           py::arg("frames"))
      .def("render_into",
           [](dx7::Synth& s, py::array_t<float, py::array::c_style> out) {
             if (out.ndim() != 1) throw py::value_error("render_into: out must be a 1-D float32 array");
             if (!out.writeable()) throw py::value_error("render_into: out must be writable");
             float* p = out.mutable_data();
             const long long n = out.shape(0);
             {
               py::gil_scoped_release release;
               s.render(p, (int)n);
             }
           },
           py::arg("out").noconvert())
      .def("reset", &dx7::Synth::reset, py::arg("seed") = 0)
      .def("active_voices", &dx7::Synth::activeVoices)
      .def("probe",
           [](dx7::Synth& s) {
             double p = 0, a = 0;
             s.probe(&p, &a);
             return py::make_tuple(p, a);
           },
           "(pitch_hz, carrier_amp) of the latest note's voice at the next frame.")
      .def_property_readonly("sample_rate", &dx7::Synth::sampleRate)
      .def_property_readonly("polyphony", &dx7::Synth::polyphony)
      .def_property_readonly("frames_rendered", &dx7::Synth::framesRendered)
      .def_property_readonly("dropped_events", &dx7::Synth::droppedEvents)
      .def_property_readonly("ignored_notes", &dx7::Synth::ignoredNotes)
      .def_property_readonly("stale_ticks", &dx7::Synth::staleTicks);

  m.def(
      "render_batch",
      [](py::array_t<uint8_t, py::array::c_style | py::array::forcecast> voices,
         py::array_t<int32_t, py::array::c_style | py::array::forcecast> notes,
         py::array_t<int32_t, py::array::c_style | py::array::forcecast> velocities,
         py::array_t<int64_t, py::array::c_style | py::array::forcecast> hold_frames, long long total_frames,
         double sample_rate, py::object seeds, int threads, bool annotate, double frame_rate,
         py::object out) -> py::object {
        if (voices.ndim() != 2 || voices.shape(1) != 155)
          throw py::value_error("render_batch: voices must be uint8[N, 155]");
        const py::ssize_t n = voices.shape(0);
        if (notes.ndim() != 1 || notes.shape(0) != n) throw py::value_error("render_batch: notes must be int32[N]");
        if (velocities.ndim() != 1 || velocities.shape(0) != n)
          throw py::value_error("render_batch: velocities must be int32[N]");
        if (hold_frames.ndim() != 1 || hold_frames.shape(0) != n)
          throw py::value_error("render_batch: hold_frames must be int64[N]");
        if (total_frames < 0 || total_frames > (1LL << 31) - 1)
          throw py::value_error("render_batch: total_frames must be between 0 and 2**31-1");
        if (!(sample_rate >= 8000.0 && sample_rate <= 192000.0))
          throw py::value_error("render_batch: sample_rate must be between 8000 and 192000 Hz");
        if (annotate && !(frame_rate > 0.0 && frame_rate <= sample_rate))
          throw py::value_error("render_batch: frame_rate must be > 0 and <= sample_rate");
        if (threads < 0) throw py::value_error("render_batch: threads must be >= 0");
        py::array_t<uint64_t, py::array::c_style | py::array::forcecast> seed_arr;
        const uint64_t* seed_ptr = nullptr;
        if (!seeds.is_none()) {
          seed_arr = py::array_t<uint64_t, py::array::c_style | py::array::forcecast>::ensure(seeds);
          if (!seed_arr || seed_arr.ndim() != 1 || seed_arr.shape(0) != n)
            throw py::value_error("render_batch: seeds must be uint64[N] or None");
          seed_ptr = seed_arr.data();
        }
        // `out`: the caller's float32[N, T] (e.g. a tensor in shared memory): rendered in place.
        py::array_t<float> audio;
        if (out.is_none()) {
          audio = py::array_t<float>({n, (py::ssize_t)total_frames});
        } else {
          if (!py::isinstance<py::array_t<float>>(out))
            throw py::value_error("render_batch: out must be a float32 array");
          audio = out.cast<py::array_t<float>>();
          if (audio.ndim() != 2 || audio.shape(0) != n || audio.shape(1) != (py::ssize_t)total_frames ||
              !(audio.flags() & py::array::c_style) || !audio.writeable())
            throw py::value_error("render_batch: out must be a writable C-contiguous float32[N, total_frames]");
        }
        const int64_t F = annotate ? dx7::annotationFrames(total_frames, sample_rate, frame_rate) : 0;
        py::array_t<float> pitch({n, (py::ssize_t)F}), amp({n, (py::ssize_t)F});
        dx7::BatchJob job{};
        job.voices = voices.data();
        job.notes = notes.data();
        job.velocities = velocities.data();
        job.hold_frames = hold_frames.data();
        job.seeds = seed_ptr;
        job.n = (size_t)n;
        job.total_frames = total_frames;
        job.sample_rate = sample_rate;
        job.threads = threads;
        job.annotate = annotate;
        job.frame_rate = frame_rate;
        job.audio = audio.mutable_data();
        job.pitch_hz = annotate ? pitch.mutable_data() : nullptr;
        job.carrier_amp = annotate ? amp.mutable_data() : nullptr;
        {
          py::gil_scoped_release release;
          dx7::renderBatch(job);
        }
        if (annotate) return py::make_tuple(audio, pitch, amp);
        return std::move(audio);
      },
      py::arg("voices"), py::arg("notes"), py::arg("velocities"), py::arg("hold_frames"), py::arg("total_frames"),
      py::arg("sample_rate"), py::arg("seeds") = py::none(), py::arg("threads") = 0, py::arg("annotate") = false,
      py::arg("frame_rate") = 250.0, py::arg("out") = py::none(),
      "Render N single notes, each from a reset engine; see docs/architecture.md.");
}
