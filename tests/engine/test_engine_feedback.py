"""Operator feedback from rendered audio (DX7-FACTS §9): the averaged two-sample feedback with gain
2^(FB-8) cycles per unit of output, measured through the sidebands it puts on a carrier."""
import math

import numpy as np
import pytest

import support.dx7_reference as ref
from support.audio_analysis import component_amplitude
from support.engine_voices import only_ops, render, set_op

SR = 48000
F_CARRIER = ref.fixed_hz(3, 0)        # OP5, fixed 1000 Hz
F_MOD = ref.fixed_hz(2, 12)           # OP6, fixed 131.8 Hz: sidebands at 1000 +- k*131.8 never overlap
MOD_OL = 85


def simulate(fb: int, frames: int, mod_gain: float) -> np.ndarray:
    """§9 / §13 in floating point: OP6 (self-feedback) -> OP5 (carrier), phases from 0.

    y6[n] = g6 sin(2pi(n f6/sr + (y6[n-1] + y6[n-2]) 2^(FB-8)))   (FB 0: no feedback)
    y5[n] = sin(2pi(n f5/sr + 2 y6[n]));  output = 0.25 y5
    """
    y1 = y2 = 0.0
    out = np.empty(frames)
    k = 2.0 ** (fb - 8) if fb else 0.0
    w6, w5 = F_MOD / SR, F_CARRIER / SR
    two_pi = 2 * math.pi
    for n in range(frames):
        y = mod_gain * math.sin(two_pi * (n * w6 + (y1 + y2) * k))
        y2, y1 = y1, y
        out[n] = 0.25 * math.sin(two_pi * (n * w5 + 2.0 * y))
    return out


# Tolerance 0.5 dB on every sideband within 40 dB of the strongest: the model is exact floating
# point; the engine's sine/exp tables differ by < 0.01 dB; the EG reaches the held level within
# milliseconds and the first 50 ms are skipped. A feedback gain off by a factor of 2 (one FB step)
# moves the outer sidebands by several dB.
@pytest.mark.parametrize("fb", [0, 1, 3, 5, 6, 7])
def test_feedback_sidebands_match_model(fb):
    v = only_ops(31, {5, 6}, feedback=fb)            # 31: OP6 -> OP5, feedback on OP6
    set_op(v, 5, mode=1, coarse=3, fine=0)
    set_op(v, 6, mode=1, coarse=2, fine=12, ol=MOD_OL)
    frames = SR // 2
    x = render(v, note=60, hold=frames / SR)[:frames]
    skip = SR // 20
    gain = 2.0 ** ((ref.operator_level(ref.default_op(ol=MOD_OL), 60, 100) - 3840) / 256)
    y = simulate(fb, frames, gain)
    comps = [F_CARRIER + k * F_MOD for k in range(-4, 5)]
    got = np.array([component_amplitude(x[skip:], SR, f) for f in comps])
    want = np.array([component_amplitude(y[skip:], SR, f) for f in comps])
    strong = want > want.max() * 0.01
    err = 20 * np.log10(got[strong] / want[strong])
    assert np.all(np.abs(err) < 0.5), \
        f"FB {fb}: sidebands (dB, engine vs §9 model) " + \
        ", ".join(f"{f:.0f} Hz {20*np.log10(g):.1f}/{20*np.log10(w):.1f}"
                  for f, g, w in zip(np.array(comps)[strong], got[strong], want[strong]))


def test_feedback_7_on_a_full_level_carrier_is_bounded_and_bright():
    # §9: FB 6-7 at full level gives a sawtooth-like spectrum, not period-2 "hunting" noise
    v = only_ops(32, {6}, feedback=7)
    x = render(v, note=45, hold=0.5)[SR // 20:]
    assert np.all(np.isfinite(x)) and np.max(np.abs(x)) < 0.3
    f0 = ref.ratio_hz(45)
    h = [component_amplitude(x, SR, k * f0) for k in range(1, 6)]
    assert h[1] > 0.05 * h[0] and h[2] > 0.02 * h[0], f"harmonics {np.round(h, 4)}: feedback too weak"
    nyq = component_amplitude(x, SR, SR / 2 - 1)
    assert nyq < 0.01 * h[0], "energy at Nyquist: feedback is hunting"


def simulate_carrier_feedback(fb: int, frames: int, f: float, gain_factor: float) -> np.ndarray:
    """A full-level carrier with self-feedback: 0.25 sin(2pi(n f/sr + (y[n-1]+y[n-2]) 2^(FB-8) g))."""
    y1 = y2 = 0.0
    out = np.empty(frames)
    k = 2.0 ** (fb - 8) * gain_factor
    w = f / SR
    for n in range(frames):
        y = math.sin(2 * math.pi * (n * w + (y1 + y2) * k))
        y2, y1 = y1, y
        out[n] = 0.25 * y
    return out


@pytest.mark.parametrize("fb", [3, 5, 7])
def test_algorithm_32_carrier_feedback_is_quarter_gain(fb):
    # §3/§9 [UNKNOWN, engine's documented choice]: Dexed's Mark I calibration - when the feedback
    # operator is a carrier (algorithm 32) the feedback gain is 1/4 (shift + 2).
    f = ref.fixed_hz(2, 30)                     # 199.5 Hz, fixed, so harmonics are known exactly
    v = only_ops(32, {6}, feedback=fb)
    set_op(v, 6, mode=1, coarse=2, fine=30)
    frames = SR // 2
    x = render(v, note=60, hold=frames / SR)[:frames]
    skip = SR // 20
    y = simulate_carrier_feedback(fb, frames, f, 0.25)
    got = np.array([component_amplitude(x[skip:], SR, k * f) for k in range(1, 8)])
    want = np.array([component_amplitude(y[skip:], SR, k * f) for k in range(1, 8)])
    strong = want > want.max() * 0.01
    err = 20 * np.log10(got[strong] / want[strong])
    assert np.all(np.abs(err) < 0.5), f"FB {fb} on an algorithm-32 carrier: harmonic errors (dB) {np.round(err, 2)}"
