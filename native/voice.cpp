#include "voice.h"

#include "sine.h"
#include "tables.h"

// The voice renderer is compiled twice, for baseline SSE2 and for AVX2, and the best one for the
// CPU is picked when the module loads (GCC function multi-versioning). No FMA is enabled, so both
// versions compute bit-identical results.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(DX7_NO_CLONES)
#define DX7_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define DX7_VECTOR_CLONES
#endif

namespace dx7 {
namespace {

// (float)k for k = 0..2*kMaxBlock: gains are g0 + dg * k with k counted from the block start, read
// from here so the vector loops need no int->float conversion (same value, same rounding).
struct Ramp {
  float v[2 * kMaxBlock];
  Ramp() {
    for (int i = 0; i < 2 * kMaxBlock; ++i) v[i] = (float)i;
  }
};
const Ramp kRamp;

// A modulator over a block: out[i] = sin(phase + in) * gain, in Q24 phase units.
template <bool kHasInput>
void modulatorBlock(uint32_t ph, uint32_t inc, const int32_t* __restrict in,
                    int32_t* __restrict out, float g0, float dg, int k0, int n) {
  const float* __restrict k = kRamp.v + k0;
  for (int i = 0; i < n; ++i) {
    uint32_t p = ph;
    if (kHasInput) p += (uint32_t)in[i];
    out[i] = (int32_t)(sineQ24(p) * (g0 + dg * k[i]));
    ph += inc;
  }
}

// A carrier over a block: adds sin(phase + in) * gain to the output.
template <bool kHasInput>
void carrierBlock(uint32_t ph, uint32_t inc, const int32_t* __restrict in,
                  float* __restrict out, float g0, float dg, int k0, int n) {
  const float* __restrict k = kRamp.v + k0;
  for (int i = 0; i < n; ++i) {
    uint32_t p = ph;
    if (kHasInput) p += (uint32_t)in[i];
    out[i] += sineQ24(p) * (g0 + dg * k[i]);
    ph += inc;
  }
}

// The sample-by-sample paths (feedback, loops) read the OPS's own 4096-step sine (§10.1) from a
// table, integer all the way, so the recursion has a short dependency chain.
//
// GCC vector extensions (portable SSE2 code): used to run other operators four samples at a time
// inside the feedback operator's sample-by-sample loop, so their work fills the time the CPU
// otherwise spends waiting on the feedback recursion. Same arithmetic as sineQ24 lane by lane, so
// the results are bit-identical to the separate block loops.
// Eight lanes: one AVX2 register, or two SSE2 registers in the baseline build. These types never
// cross a non-inlined call, so GCC's note about the 32-byte vector ABI does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float v4f __attribute__((vector_size(32)));
typedef int32_t v4i __attribute__((vector_size(32)));
typedef uint32_t v4u __attribute__((vector_size(32)));
typedef float v4f_u __attribute__((vector_size(32), aligned(4)));
typedef int32_t v4i_u __attribute__((vector_size(32), aligned(4)));
constexpr int kLanes = 8;

__attribute__((always_inline)) inline v4f sine4(v4u phase) {
  const v4i x = (v4i)(phase << 8);
  const v4f u = __builtin_convertvector(x, v4f) * (1.0f / 4294967296.0f);
  const v4i ui = (v4i)u;
  const v4f b = (v4f)(ui & 0x7FFFFFFF) - 0.25f;
  const v4f z = b * b;
  const v4f c = ((-78.2097396850586f * z + 64.65995025634766f) * z - 19.73573875427246f) * z +
                0.9999932646751404f;
  return (v4f)(((v4i)c & 0x7FFFFFFF) | (ui & (int32_t)0x80000000));
}

// An operator computed alongside the feedback operator.
struct Lane {
  v4u ph;          // phases of the next kLanes samples
  v4u inc4;
  uint32_t inc;
  const int32_t* in;  // modulation input or nullptr
  float* fout;        // carrier: output to add to
  int32_t* iout;      // modulator: output buffer
  float g0, dg;
};

// kLanes samples (i..i+kLanes-1) of every fused operator.
__attribute__((always_inline)) inline void lanes4(Lane* lanes, int nl, const float* k, int i) {
  const v4f kv = *(const v4f_u*)(k + i);
  for (int l = 0; l < nl; ++l) {
    Lane& L = lanes[l];
    v4u p = L.ph;
    if (L.in) p += (v4u)(*(const v4i_u*)(L.in + i));
    const v4f s = sine4(p) * (L.g0 + L.dg * kv);
    if (L.fout)
      *(v4f_u*)(L.fout + i) = *(const v4f_u*)(L.fout + i) + s;
    else
      *(v4i_u*)(L.iout + i) = __builtin_convertvector(s, v4i);
    L.ph += L.inc4;
  }
}

// One sample (the block's tail) of every fused operator; same arithmetic as lanes4.
__attribute__((always_inline)) inline void lanes1(Lane* lanes, int nl, const float* k, int i) {
  for (int l = 0; l < nl; ++l) {
    Lane& L = lanes[l];
    uint32_t q = L.ph[0];
    if (L.in) q += (uint32_t)L.in[i];
    const float s = sineQ24(q) * (L.g0 + L.dg * k[i]);
    if (L.fout)
      L.fout[i] += s;
    else
      L.iout[i] = (int32_t)s;
    L.ph += L.inc;
  }
}

// The feedback operator (§9) over a block, with up to five independent operators fused in. Its
// output goes to y[] (phase units); only the recursion itself runs sample by sample.
__attribute__((always_inline)) inline void feedbackFused(uint32_t ph, uint32_t inc, float g0, float dg, int shift, int32_t& fb_y1,
                   int32_t& fb_y2, int32_t* __restrict y, Lane* lanes, int nl, int k0, int n) {
  const float* __restrict k = kRamp.v + k0;
  int32_t gi[kMaxBlock];
  for (int i = 0; i < n; ++i) gi[i] = (int32_t)(g0 + dg * k[i]);
  // The recursion runs on a Q32 phase (2^32 = one cycle, so the table index is a single shift) and
  // keeps the two feedback terms already scaled: f = y * 2^(8 - shift) in Q32 units, i.e.
  // (y[n-1] + y[n-2]) >> shift of §9 expressed directly in the phase's units. Wrap-around is exact.
  // (p32 + f2) does not depend on the previous sample, so only "+ f1" is on the recursion's path.
  uint32_t p32 = ph << 8;
  const uint32_t inc32 = inc << 8;
  const int fshift = 7 + shift;
  uint32_t f1 = (uint32_t)fb_y1, f2 = (uint32_t)fb_y2;
  int i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = i; j < i + kLanes; ++j) {
      const int64_t prod = (int64_t)tables::kSineQ15[((p32 + f2) + f1) >> 20] * gi[j];
      p32 += inc32;
      f2 = f1;
      f1 = (uint32_t)(prod >> fshift);
      y[j] = (int32_t)(prod >> 15);
    }
    lanes4(lanes, nl, k, i);
  }
  for (; i < n; ++i) {
    const int64_t prod = (int64_t)tables::kSineQ15[((p32 + f2) + f1) >> 20] * gi[i];
    p32 += inc32;
    f2 = f1;
    f1 = (uint32_t)(prod >> fshift);
    y[i] = (int32_t)(prod >> 15);
    lanes1(lanes, nl, k, i);
  }
  fb_y1 = (int32_t)f1;
  fb_y2 = (int32_t)f2;
}

// Algorithms 4/6 (§3): OP6 -> OP5 (-> OP4) with the last one's output fed back into OP6, one
// sample at a time, independent operators fused in as above. kOps = 3 (algorithm 4) or 2 (6).
// y[] gets the loop carrier's output (phase units); fb_y1/fb_y2 hold its last two outputs.
template <int kOps>
__attribute__((always_inline)) inline void loopFused(const uint32_t* phase, const uint32_t* inc, const float* g0, const float* dg,
               int shift, int32_t& fb_y1, int32_t& fb_y2, int32_t* __restrict y, Lane* lanes,
               int nl, int k0, int n) {
  const float* __restrict k = kRamp.v + k0;
  int32_t gi[kOps][kMaxBlock];
  for (int c = 0; c < kOps; ++c)
    for (int i = 0; i < n; ++i) gi[c][i] = (int32_t)(g0[5 - c] + dg[5 - c] * k[i]);
  uint32_t p6 = phase[5], p5 = phase[4], p4 = phase[3];
  const uint32_t i6 = inc[5], i5 = inc[4], i4 = inc[3];
  int32_t y1 = fb_y1, y2 = fb_y2;
  int i = 0;
  auto step = [&](int j) __attribute__((always_inline)) {
    int32_t x = (y1 + y2) >> shift;
    x = (int32_t)(((int64_t)tables::kSineQ15[((p6 + (uint32_t)x) >> 12) & 4095] * gi[0][j]) >> 15);
    p6 += i6;
    x = (int32_t)(((int64_t)tables::kSineQ15[((p5 + (uint32_t)x) >> 12) & 4095] * gi[1][j]) >> 15);
    p5 += i5;
    if (kOps == 3) {
      x = (int32_t)(((int64_t)tables::kSineQ15[((p4 + (uint32_t)x) >> 12) & 4095] * gi[kOps - 1][j]) >> 15);
      p4 += i4;
    }
    y2 = y1;
    y1 = x;
    y[j] = x;
  };
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = i; j < i + kLanes; ++j) step(j);
    lanes4(lanes, nl, k, i);
  }
  for (; i < n; ++i) {
    step(i);
    lanes1(lanes, nl, k, i);
  }
  fb_y1 = y1;
  fb_y2 = y2;
}

}  // namespace

DX7_VECTOR_CLONES void Voice::render(const RenderContext& ctx, float* out, int k0, int n) {
  const Algorithm& alg = *ctx.alg;
  const uint8_t needed_ops = needed;
  uint8_t written = 0;  // operators whose obuf holds this block's output
  uint8_t done = 0;     // operators already computed (fused with the feedback operator)
  // Operators below `top` that are not excluded, wait for no operator not yet computed and have at
  // most one modulation input run fused with a sample-by-sample operator (feedback or loop).
  auto selectLanes = [&](uint8_t exclude, int top, Lane* lanes) {
    int nl = 0;
    for (int c = top - 1; c >= 0 && nl < 5; --c) {
      if (!((needed_ops >> c) & 1) || ((exclude >> c) & 1)) continue;
      const uint8_t mc = alg.mods[c] & needed_ops;
      if ((mc & ~written) || (mc & (mc - 1))) continue;
      Lane& L = lanes[nl++];
      const uint32_t p0 = phase[c], ic = inc[c];
      for (int j = 0; j < kLanes; ++j) {
        L.ph[j] = p0 + (uint32_t)j * ic;
        L.inc4[j] = (uint32_t)kLanes * ic;
      }
      L.inc = ic;
      L.in = mc ? ctx.obuf[__builtin_ctz(mc)] : nullptr;
      const bool cc = (alg.carriers >> c) & 1;
      L.fout = cc ? out : nullptr;
      L.iout = cc ? nullptr : ctx.obuf[c];
      L.g0 = g0[c];
      L.dg = dg[c];
      done |= (uint8_t)(1 << c);
      if (!cc) written |= (uint8_t)(1 << c);
    }
    return nl;
  };
  if (audible && ctx.fb_on && !ctx.loop && ((needed_ops >> alg.fb_op) & 1)) {
    // The feedback operator has no other input, so it runs first, with every operator that does
    // not depend on it (and has at most one input) fused in, in top-down order.
    const int o = alg.fb_op;
    uint8_t down = 0;  // operators that depend on the feedback operator
    for (int t = o - 1; t >= 0; --t)
      if (alg.mods[t] & ((1 << o) | down)) down |= (uint8_t)(1 << t);
    Lane lanes[5];
    const int nl = selectLanes((uint8_t)(down | (1 << o)), 6, lanes);
    int32_t* y = ctx.obuf[o];
    feedbackFused(phase[o], inc[o], g0[o], dg[o], ctx.fb_shift, fb_y1, fb_y2, y, lanes, nl, k0, n);
    if ((alg.carriers >> o) & 1) {
      const float cs = ctx.carrier_scale * (1.0f / 33554432.0f);
      for (int i = 0; i < n; ++i) out[i] += (float)y[i] * cs;
    } else {
      written |= (uint8_t)(1 << o);
    }
    done |= (uint8_t)(1 << o);
  }
  if (audible) {
    for (int o = 5; o >= 0; --o) {
      if (!((needed_ops >> o) & 1) || ((done >> o) & 1)) continue;
      const bool carrier = (alg.carriers >> o) & 1;
      if (ctx.loop && ((ctx.loop_mask >> o) & 1)) {
        if (o != 5) continue;  // the whole loop is computed when its top (OP6) comes up
        Lane lanes[5];
        const int nl = selectLanes(ctx.loop_mask, 5, lanes);
        int32_t* y = ctx.obuf[alg.loop_from];
        if (alg.loop_from == 3)
          loopFused<3>(phase, inc, g0, dg, ctx.fb_shift, fb_y1, fb_y2, y, lanes, nl, k0, n);
        else
          loopFused<2>(phase, inc, g0, dg, ctx.fb_shift, fb_y1, fb_y2, y, lanes, nl, k0, n);
        const float cs = ctx.carrier_scale * (1.0f / 33554432.0f);
        for (int i = 0; i < n; ++i) out[i] += (float)y[i] * cs;
        continue;
      }
      // Modulation input: sum of this operator's modulators that produced output.
      const uint8_t m = alg.mods[o] & written;
      const int32_t* in = nullptr;
      if (m) {
        int first = __builtin_ctz(m);
        if ((m & (m - 1)) == 0) {
          in = ctx.obuf[first];
        } else {
          int32_t* s = ctx.sum;
          const int32_t* a = ctx.obuf[first];
          for (int i = 0; i < n; ++i) s[i] = a[i];
          for (int q = first + 1; q < 6; ++q) {
            if (!((m >> q) & 1)) continue;
            const int32_t* b = ctx.obuf[q];
            for (int i = 0; i < n; ++i) s[i] += b[i];
          }
          in = s;
        }
      }
      if (carrier) {
        if (in)
          carrierBlock<true>(phase[o], inc[o], in, out, g0[o], dg[o], k0, n);
        else
          carrierBlock<false>(phase[o], inc[o], nullptr, out, g0[o], dg[o], k0, n);
      } else {
        if (in)
          modulatorBlock<true>(phase[o], inc[o], in, ctx.obuf[o], g0[o], dg[o], k0, n);
        else
          modulatorBlock<false>(phase[o], inc[o], nullptr, ctx.obuf[o], g0[o], dg[o], k0, n);
        written |= (uint8_t)(1 << o);
      }
    }
  }
  // Feedback history of a silent feedback operator is cleared (it outputs nothing).
  const int fbo = ctx.loop ? alg.loop_from : alg.fb_op;
  if (fbo >= 0 && !(audible && ((needed_ops >> fbo) & 1))) fb_y1 = fb_y2 = 0;
  for (int o = 0; o < 6; ++o) phase[o] += inc[o] * (uint32_t)n;
}

}  // namespace dx7
