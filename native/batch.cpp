#include "batch.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <thread>
#include <vector>

#include "synth.h"

namespace dx7 {

int64_t annotationFrames(int64_t total_frames, double sample_rate, double frame_rate) {
  return (int64_t)std::ceil((double)total_frames * frame_rate / sample_rate);
}

namespace {

// probe_at: the annotation frames (the same for every item), or empty.
void renderItem(Synth& s, const BatchJob& job, size_t i, const std::vector<uint64_t>& probe_at) {
  const uint64_t seed = job.seeds ? job.seeds[i] : (uint64_t)i;
  const int64_t T = job.total_frames;
  float* out = job.audio + i * (size_t)T;
  s.reset(seed);
  s.loadVoice(job.voices + i * 155, 155);
  const int note = std::clamp(job.notes[i], 0, 127);
  const int vel = std::clamp(job.velocities[i], 1, 127);
  s.noteOn(note, vel, 0);
  const int64_t hold = std::max<int64_t>(0, job.hold_frames[i]);
  const size_t F = probe_at.size();
  Synth::Probes probes{probe_at.data(), F};
  if (F) {
    probes.pitch_hz = job.pitch_hz + i * F;
    probes.carrier_amp = job.carrier_amp + i * F;
  }
  int64_t pos = 0;
  bool off_sent = false;
  while (pos < T) {
    const int64_t chunk = std::min<int64_t>(T - pos, 1 << 20);
    // The note-off is queued once its frame falls within this render call.
    if (!off_sent && hold < T && hold < pos + chunk) {
      s.noteOff(note, (int)(hold - pos));
      off_sent = true;
    }
    s.render(out + pos, (int)chunk, probes);
    pos += chunk;
  }
  // Probes at the very end (t == T) see the state after the last frame.
  for (size_t k = probes.next; k < F; ++k) {
    double p = 0, a = 0;
    s.probe(&p, &a);
    probes.pitch_hz[k] = (float)p;
    probes.carrier_amp[k] = (float)a;
  }
}

}  // namespace

void renderBatch(const BatchJob& job) {
  if (job.n == 0) return;
  int threads = job.threads > 0 ? job.threads : (int)std::thread::hardware_concurrency();
  if (threads < 1) threads = 1;
  threads = (int)std::min<size_t>((size_t)threads, job.n);
  // Annotation frame k is taken at sample ceil(k * sample_rate / frame_rate), at most T.
  std::vector<uint64_t> probe_at;
  if (job.annotate) {
    const int64_t F = annotationFrames(job.total_frames, job.sample_rate, job.frame_rate);
    probe_at.resize((size_t)F);
    for (int64_t k = 0; k < F; ++k) {
      const int64_t t = (int64_t)std::ceil((double)k * job.sample_rate / job.frame_rate);
      probe_at[(size_t)k] = (uint64_t)std::min(t, job.total_frames);
    }
  }
  std::atomic<size_t> next{0};
  auto worker = [&]() {
    Synth s(job.sample_rate, 1);  // one note per item: a single voice renders identically
    for (size_t i = next++; i < job.n; i = next++) renderItem(s, job, i, probe_at);
  };
  if (threads == 1) {
    worker();
    return;
  }
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
  for (auto& th : pool) th.join();
}

}  // namespace dx7
