#include "voice.h"

#include "sine.h"
#include "tables.h"

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

// Table sine for the sample-by-sample paths: the OPS's own 4096-step resolution (§10.1); integer
// all the way so the feedback recursion has a short dependency chain.
inline int32_t opsOutput(uint32_t p, float g) {
  const int64_t s = tables::kSineQ15[(p >> 12) & 4095];
  return (int32_t)((s * (int64_t)g) >> 15);
}

// GCC vector extensions (portable SSE2 code): used to run other operators four samples at a time
// inside the feedback operator's sample-by-sample loop, so their work fills the time the CPU
// otherwise spends waiting on the feedback recursion. Same arithmetic as sineQ24 lane by lane, so
// the results are bit-identical to the separate block loops.
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
typedef uint32_t v4u __attribute__((vector_size(16)));
typedef float v4f_u __attribute__((vector_size(16), aligned(4)));
typedef int32_t v4i_u __attribute__((vector_size(16), aligned(4)));

inline v4f sine4(v4u phase) {
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
  v4u ph;          // phases of the next four samples
  v4u inc4;
  uint32_t inc;
  const int32_t* in;  // modulation input or nullptr
  float* fout;        // carrier: output to add to
  int32_t* iout;      // modulator: output buffer
  float g0, dg;
};

// The feedback operator (§9) over a block, with up to five independent operators fused in. Its
// output goes to y[] (phase units); only the recursion itself runs sample by sample.
void feedbackFused(uint32_t ph, uint32_t inc, float g0, float dg, int shift, int32_t& fb_y1,
                   int32_t& fb_y2, int32_t* __restrict y, Lane* lanes, int nl, int k0, int n) {
  const float* __restrict k = kRamp.v + k0;
  int32_t gi[kMaxBlock];
  for (int i = 0; i < n; ++i) gi[i] = (int32_t)(g0 + dg * k[i]);
  int32_t y1 = fb_y1, y2 = fb_y2;
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    for (int j = i; j < i + 4; ++j) {
      const uint32_t p = ph + (uint32_t)((y1 + y2) >> shift);
      ph += inc;
      const int32_t v = (int32_t)(((int64_t)tables::kSineQ15[(p >> 12) & 4095] * gi[j]) >> 15);
      y2 = y1;
      y1 = v;
      y[j] = v;
    }
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
  for (; i < n; ++i) {
    const uint32_t p = ph + (uint32_t)((y1 + y2) >> shift);
    ph += inc;
    const int32_t v = (int32_t)(((int64_t)tables::kSineQ15[(p >> 12) & 4095] * gi[i]) >> 15);
    y2 = y1;
    y1 = v;
    y[i] = v;
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
  fb_y1 = y1;
  fb_y2 = y2;
}

}  // namespace

void Voice::render(const RenderContext& ctx, float* out, int k0, int n) {
  const Algorithm& alg = *ctx.alg;
  const uint8_t needed_ops = needed;
  uint8_t written = 0;  // operators whose obuf holds this block's output
  uint8_t done = 0;     // operators already computed (fused with the feedback operator)
  if (audible) {
    for (int o = 5; o >= 0; --o) {
      if (!((needed_ops >> o) & 1) || ((done >> o) & 1)) continue;
      const bool carrier = (alg.carriers >> o) & 1;
      if (ctx.loop && ((ctx.loop_mask >> o) & 1)) {
        if (o != 5) continue;  // the whole loop is computed when its top (OP6) comes up
        // §3 algorithms 4/6: OP6 -> OP5 (-> OP4), last one's averaged output back into OP6.
        const int last = alg.loop_from;
        const float cs = ctx.carrier_scale * (1.0f / 33554432.0f);
        int32_t y1 = fb_y1, y2 = fb_y2;
        for (int i = 0; i < n; ++i) {
          const float kf = (float)(k0 + i);
          int32_t x = (y1 + y2) >> ctx.fb_shift;
          for (int c = 5; c >= last; --c) {
            const uint32_t p = phase[c] + inc[c] * (uint32_t)i + (uint32_t)x;
            x = opsOutput(p, g0[c] + dg[c] * kf);
          }
          y2 = y1;
          y1 = x;
          out[i] += (float)x * cs;
        }
        fb_y1 = y1;
        fb_y2 = y2;
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
      if (o == alg.fb_op && ctx.fb_on) {
        // Operators that neither depend on the feedback operator nor wait for an operator not yet
        // computed, with at most one modulation input, run fused with it.
        uint8_t down = 0;
        for (int t = o - 1; t >= 0; --t)
          if (alg.mods[t] & ((1 << o) | down)) down |= (uint8_t)(1 << t);
        Lane lanes[5];
        int nl = 0;
        for (int c = o - 1; c >= 0 && nl < 5; --c) {
          if (!((needed_ops >> c) & 1) || ((down >> c) & 1)) continue;
          const uint8_t mc = alg.mods[c] & needed_ops;
          if (mc & ~written) continue;
          if (mc & (mc - 1)) continue;
          Lane& L = lanes[nl++];
          const uint32_t p0 = phase[c], ic = inc[c];
          L.ph = v4u{p0, p0 + ic, p0 + 2 * ic, p0 + 3 * ic};
          L.inc4 = v4u{4 * ic, 4 * ic, 4 * ic, 4 * ic};
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
        int32_t* y = ctx.obuf[o];
        feedbackFused(phase[o], inc[o], g0[o], dg[o], ctx.fb_shift, fb_y1, fb_y2, y, lanes, nl, k0, n);
        if (carrier) {
          const float cs = ctx.carrier_scale * (1.0f / 33554432.0f);
          for (int i = 0; i < n; ++i) out[i] += (float)y[i] * cs;
        } else {
          written |= (uint8_t)(1 << o);
        }
        continue;
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
