// Offline batch rendering (docs/architecture.md, render_batch): many single notes, each from a fully
// reset engine, spread over C++ threads. Each item's result is independent of the thread count.
#pragma once
#include <cstddef>
#include <cstdint>

namespace dx7 {

struct BatchJob {
  const uint8_t* voices;     // [n][155]
  const int32_t* notes;      // [n]
  const int32_t* velocities; // [n]
  const int64_t* hold_frames;// [n]
  const uint64_t* seeds;     // [n] or nullptr (seed = item index)
  size_t n;
  int64_t total_frames;
  double sample_rate;
  int threads;               // 0 = hardware concurrency
  bool annotate;
  double frame_rate;
  float* audio;              // [n][total_frames]
  float* pitch_hz;           // [n][frames] when annotate
  float* carrier_amp;        // [n][frames] when annotate
};

// Number of annotation frames: ceil(T * frame_rate / sample_rate).
int64_t annotationFrames(int64_t total_frames, double sample_rate, double frame_rate);
void renderBatch(const BatchJob& job);

}  // namespace dx7
