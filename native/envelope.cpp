#include "envelope.h"

#include "tables.h"

namespace dx7 {
namespace {

// §6.3 gate patterns per (q & 3), bit k = the k-th of 8 ticks ("01010101" etc., left = tick 0).
constexpr uint8_t kPattern[4] = {0xAA, 0xEA, 0xEE, 0xFE};

struct PatternTables {
  uint8_t cum[4][9];  // set bits among ticks [0, m)
  uint8_t sel[4][8];  // tick index of the r-th set bit
  uint8_t pop[4];
  constexpr PatternTables() : cum(), sel(), pop() {
    for (int p = 0; p < 4; ++p) {
      int c = 0;
      for (int m = 0; m < 8; ++m) {
        cum[p][m] = (uint8_t)c;
        if (kPattern[p] >> m & 1) sel[p][c++] = (uint8_t)m;
      }
      cum[p][8] = (uint8_t)c;
      pop[p] = (uint8_t)c;
    }
  }
};
constexpr PatternTables kPat;

// Number of DX7 samples in [0, n) on which an EG with rate q acts.
inline uint64_t gateCount(int q, uint64_t n) {
  int shift = (q >> 2) - 11;
  uint64_t m = shift >= 0 ? n : (n >> -shift);
  int p = q & 3;
  return (m >> 3) * kPat.pop[p] + kPat.cum[p][m & 7];
}

// Index of the k-th (0-based) acting DX7 sample.
inline uint64_t gatePosition(int q, uint64_t k) {
  int shift = (q >> 2) - 11;
  int p = q & 3;
  uint64_t m = (k / kPat.pop[p]) * 8 + kPat.sel[p][k % kPat.pop[p]];
  if (shift >= 0) return m;
  return (m << -shift) + ((uint64_t(1) << -shift) - 1);
}

// Dexed's measured hold for a segment whose start and target levels are equal (§6.5), converted
// from 44.1 kHz samples to DX7 samples.
inline uint64_t staticHoldSamples(int r) {
  uint64_t s44 = r >= 77 ? uint64_t(20 * (99 - r)) : tables::kStaticHold44k[r];
  return (s44 * 49096 + 22050) / 44100;
}

}  // namespace

void Envelope::enter(int s) {
  stage = (uint8_t)s;
  int32_t t = target[s];
  if (lev == t) {
    mode = kHold;
    uint64_t h = staticHoldSamples(static_rate[s]);
    if (s == 0 && l1_zero) h /= 20;
    hold_left = h;
    if (hold_left == 0) complete();
    return;
  }
  rising = t > lev;
  mode = kMoving;
  if (rising && lev < kAttackJump) {
    lev = t < kAttackJump ? t : kAttackJump;
    if (lev == t) complete();
  }
}

void Envelope::complete() {
  if (stage < 2) {
    enter(stage + 1);
  } else if (stage == 2) {
    mode = kSustain;  // hold at L3 while the key is down
  } else {
    mode = kDone;     // L4 forever
  }
}

void Envelope::advanceSlow(uint64_t i0, uint64_t i1) {
  // Bounded: each pass either consumes the interval or completes a stage/band (≤ ~20 passes).
  while (i0 < i1) {
    if (mode == kSustain || mode == kDone) return;
    if (mode == kHold) {
      uint64_t n = i1 - i0;
      if (hold_left > n) {
        hold_left -= n;
        return;
      }
      i0 += hold_left;
      hold_left = 0;
      complete();
      continue;
    }
    const int qq = q[stage];
    const int shift = (qq >> 2) - 11;
    const int mul = shift > 0 ? shift : 0;
    const int32_t t = target[stage];
    const uint64_t c0 = gateCount(qq, i0);
    const uint64_t avail = gateCount(qq, i1) - c0;
    if (!rising) {
      const int32_t step = 1 << mul;
      if (lev <= t) {  // already there (target moved): done
        lev = t;
        complete();
        continue;
      }
      const uint64_t need = (uint64_t)((lev - t + step - 1) / step);
      if (avail < need) {
        lev -= (int32_t)avail * step;
        return;
      }
      i0 = gatePosition(qq, c0 + need - 1) + 1;
      lev = t;
      complete();
    } else {
      if (lev >= t) {
        lev = t;
        complete();
        continue;
      }
      // §6.3 attack law: each acting sample adds (2 + ((3840 - lev) >> 8)) << shift; within one
      // 256-µstep band the step is constant, so whole bands are counted at once.
      const int32_t k = (3840 - lev) >> 8;  // arithmetic shift: -1 above 3840
      const int32_t inc = (2 + k) << mul;
      uint64_t n = (uint64_t)((t - lev + inc - 1) / inc);
      if (k >= 0) {
        const int32_t upper = 3840 - 256 * k;
        uint64_t n2 = (uint64_t)((upper - lev) / inc) + 1;
        if (n2 < n) n = n2;
      }
      if (avail < n) {
        lev += (int32_t)avail * inc;
        return;
      }
      i0 = gatePosition(qq, c0 + n - 1) + 1;
      lev += (int32_t)n * inc;
      if (lev >= t) {
        lev = t;
        complete();
      }
    }
  }
}

}  // namespace dx7
