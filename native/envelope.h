// Operator envelope generator: the EGS bit-level model of §6.3, clocked at 49 096 Hz.
//
// The level `lev` is in 12-bit µsteps (higher = louder, 256 per 6.02 dB). Instead of stepping every
// DX7 sample, advance() counts how many of the DX7 samples in [i0, i1) the rate gate lets act
// (closed-form from the gate pattern), so a whole output block costs O(1) for decays and O(bands)
// for attacks, and the result is exactly what per-sample stepping gives, for any output rate.
// Sample indices are a global DX7 sample counter, so the gate phase is shared by all operators as
// in the single EGS chip.
#pragma once
#include <cstdint>

namespace dx7 {

constexpr double kEgsRate = 49096.0;  // §0.3 hardware sample rate
constexpr int kLevelFloor = 16;       // §5.4 T(L) floor
constexpr int kAttackJump = 1716;     // §6.3 attack start jump

struct Envelope {
  enum Mode : uint8_t { kMoving, kHold, kSustain, kDone };

  int32_t lev = kLevelFloor;   // current level, µsteps
  int32_t target[4] = {kLevelFloor, kLevelFloor, kLevelFloor, kLevelFloor};  // T(L1..L4), §5.4
  uint8_t q[4] = {0, 0, 0, 0};           // effective rates 0..63 incl. keyboard rate scaling (§6.4)
  uint8_t static_rate[4] = {0, 0, 0, 0}; // min(99, R + rate-scaling delta), for static holds (§6.5)
  bool l1_zero = false;                  // L1 == 0: stage-0 static hold is 1/20 as long (§6.5)
  uint8_t stage = 3;
  Mode mode = kDone;
  bool rising = false;
  uint64_t hold_left = 0;  // DX7 samples left in a static hold

  // Key-on: stage 0 from the current level (§6.6: the EGS does not reset the level).
  void keyOn() { enter(0); }
  // Key-off: stage 3 (toward L4) from the current level, direction re-evaluated (§6.2).
  void keyOff() {
    if (stage < 3 || mode == kSustain) enter(3);
  }
  // Restart the release (stage 3) from the current level, whatever the stage (patch reset).
  void release() { enter(3); }
  // Cut to silence at once (all sound off / reset).
  void silence() {
    lev = kLevelFloor;
    for (auto& t : target) t = kLevelFloor;
    stage = 3;
    mode = kDone;
  }
  bool atRest() const { return mode == kDone; }
  // Released, below `silent` and never to rise above it again.
  bool finished(int32_t silent) const { return stage == 3 && lev < silent && target[3] < silent; }

  // Advance over the global DX7 sample indices [i0, i1).
  void advance(uint64_t i0, uint64_t i1) {
    if (mode == kMoving || mode == kHold) advanceSlow(i0, i1);
  }

 private:
  void advanceSlow(uint64_t i0, uint64_t i1);
  void enter(int s);
  void complete();
};

}  // namespace dx7
