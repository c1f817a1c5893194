#include "voice.h"

#include "sine.h"
#include "tables.h"

namespace dx7 {
namespace {

// A modulator over a block: out[i] = sin(phase + in) * gain, in Q24 phase units.
template <bool kHasInput>
void modulatorBlock(uint32_t ph, uint32_t inc, const int32_t* __restrict in,
                    int32_t* __restrict out, float g0, float dg, int k0, int n) {
  for (int i = 0; i < n; ++i) {
    uint32_t p = ph + inc * (uint32_t)i;
    if (kHasInput) p += (uint32_t)in[i];
    const float g = g0 + dg * (float)(k0 + i);
    out[i] = (int32_t)(sineQ24(p) * g);
  }
}

// A carrier over a block: adds sin(phase + in) * gain to the output.
template <bool kHasInput>
void carrierBlock(uint32_t ph, uint32_t inc, const int32_t* __restrict in,
                  float* __restrict out, float g0, float dg, int k0, int n) {
  for (int i = 0; i < n; ++i) {
    uint32_t p = ph + inc * (uint32_t)i;
    if (kHasInput) p += (uint32_t)in[i];
    const float g = g0 + dg * (float)(k0 + i);
    out[i] += sineQ24(p) * g;
  }
}

// Table sine for the sample-by-sample paths: the OPS's own 4096-step resolution (§10.1); integer
// all the way so the feedback recursion has a short dependency chain.
inline int32_t opsOutput(uint32_t p, float g) {
  const int64_t s = tables::kSineQ15[(p >> 12) & 4095];
  return (int32_t)((s * (int64_t)g) >> 15);
}

}  // namespace

void Voice::render(const RenderContext& ctx, float* out, int k0, int n) {
  const Algorithm& alg = *ctx.alg;
  const uint8_t needed_ops = needed;
  uint8_t written = 0;  // operators whose obuf holds this block's output
  if (audible) {
    for (int o = 5; o >= 0; --o) {
      if (!((needed_ops >> o) & 1)) continue;
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
        // §9: phase offset = (y[n-1] + y[n-2]) >> shift; one sample at a time.
        int32_t y1 = fb_y1, y2 = fb_y2;
        const uint32_t ph = phase[o], in_c = inc[o];
        const float gg0 = g0[o], gdg = dg[o];
        if (carrier) {
          const float cs = ctx.carrier_scale * (1.0f / 33554432.0f);
          for (int i = 0; i < n; ++i) {
            const uint32_t p = ph + in_c * (uint32_t)i + (uint32_t)((y1 + y2) >> ctx.fb_shift);
            const int32_t y = opsOutput(p, gg0 + gdg * (float)(k0 + i));
            y2 = y1;
            y1 = y;
            out[i] += (float)y * cs;
          }
        } else {
          int32_t* dst = ctx.obuf[o];
          for (int i = 0; i < n; ++i) {
            const uint32_t p = ph + in_c * (uint32_t)i + (uint32_t)((y1 + y2) >> ctx.fb_shift);
            const int32_t y = opsOutput(p, gg0 + gdg * (float)(k0 + i));
            y2 = y1;
            y1 = y;
            dst[i] = y;
          }
          written |= (uint8_t)(1 << o);
        }
        fb_y1 = y1;
        fb_y2 = y2;
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
