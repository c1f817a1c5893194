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

void renderItem(Synth& s, const BatchJob& job, size_t i) {
  const uint64_t seed = job.seeds ? job.seeds[i] : (uint64_t)i;
  const int64_t T = job.total_frames;
  float* out = job.audio + i * (size_t)T;
  s.reset(seed);
  s.loadVoice(job.voices + i * 155, 155);
  const int note = std::clamp(job.notes[i], 0, 127);
  const int vel = std::clamp(job.velocities[i], 1, 127);
  s.noteOn(note, vel, 0);
  const int64_t hold = std::max<int64_t>(0, job.hold_frames[i]);
  int64_t pos = 0;
  bool off_sent = false;
  // The note-off is queued once its frame falls within the next render call (or is now).
  auto queueOff = [&](int64_t horizon) {
    if (!off_sent && hold < T && hold >= pos && hold <= horizon) {
      s.noteOff(note, (int)(hold - pos));
      off_sent = true;
    }
  };
  auto renderTo = [&](int64_t end) {
    while (pos < end) {
      const int64_t chunk = std::min<int64_t>(end - pos, 1 << 20);
      queueOff(pos + chunk - 1);
      s.render(out + pos, (int)chunk);
      pos += chunk;
    }
  };
  if (job.annotate) {
    const int64_t F = annotationFrames(T, job.sample_rate, job.frame_rate);
    float* ph = job.pitch_hz + i * (size_t)F;
    float* amp = job.carrier_amp + i * (size_t)F;
    for (int64_t k = 0; k < F; ++k) {
      int64_t t = (int64_t)std::ceil((double)k * job.sample_rate / job.frame_rate);
      t = std::min(t, T);
      renderTo(t);
      queueOff(pos);  // a note-off at exactly this frame comes before the probe
      double p = 0, a = 0;
      s.probe(&p, &a);
      ph[k] = (float)p;
      amp[k] = (float)a;
    }
  }
  renderTo(T);
}

}  // namespace

void renderBatch(const BatchJob& job) {
  if (job.n == 0) return;
  int threads = job.threads > 0 ? job.threads : (int)std::thread::hardware_concurrency();
  if (threads < 1) threads = 1;
  threads = (int)std::min<size_t>((size_t)threads, job.n);
  std::atomic<size_t> next{0};
  auto worker = [&]() {
    Synth s(job.sample_rate, 1);  // one note per item: a single voice renders identically
    for (size_t i = next++; i < job.n; i = next++) renderItem(s, job, i);
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
