"""LFO from rendered audio: rate, vibrato depth per PMS/PMD, delay, amplitude modulation per AMD/AMS
(DX7-FACTS §8.1-8.6)."""
import math

import numpy as np
import pytest

import dx7_reference as ref
from audio_analysis import envelope_db, f0_zero_crossings, pitch_track, rising_edges, rms
from engine_voices import render, set_voice, single_carrier, synth

SR = 48000
NOTE = 81
SQUARE = 3


def lfo_voice(speed, pmd=0, amd=0, pms=0, ams=0, wave=SQUARE, delay=0, coarse=1):
    v = single_carrier(ratio_coarse=coarse, ams=ams)
    return set_voice(v, lfo_speed=speed, pmd=pmd, amd=amd, pms=pms, lfo_wave=wave, lfo_delay=delay,
                     lfo_sync=1)


def square_transitions(t, hz, base):
    """Times where a square-wave vibrato switches from its low to its high half."""
    return rising_edges(t, 1200 * np.log2(np.asarray(hz) / base))


# LFO rate tolerance 0.25 %: the fact sheet's effective tick (372.27 Hz) and the nominal one
# (375.26 Hz) are 0.8 % apart, so this tells them apart; rounding the tick to whole samples at
# 48 kHz moves it by < 0.05 %; the rising-edge regression over many cycles is good to < 0.1 %.
# (A tick rounded to two 64-sample blocks, 375 Hz at 48 kHz, fails - as it should.)
@pytest.mark.parametrize("speed", [20, 35, 50, 70, 90, 99])
def test_lfo_rate(speed):
    want = ref.lfo_hz(speed)
    dur = min(3.0, max(1.0, 12 / want))
    x = render(lfo_voice(speed, pmd=99, pms=4, coarse=2), note=NOTE, hold=dur)
    t, hz = pitch_track(x, SR)
    edges = square_transitions(t, hz, ref.ratio_hz(NOTE, coarse=2))
    assert edges.size >= 4, f"speed {speed}: only {edges.size} LFO cycles seen"
    period = np.polyfit(np.arange(edges.size), edges, 1)[0]
    got = 1 / period
    assert abs(got / want - 1) < 0.0025, \
        f"LFO speed {speed}: {got:.4f} Hz, A9 formula at the 372.27 Hz tick gives {want:.4f} Hz"


def plateau_pitches(x, speed, base):
    """Mean f0 (zero-crossing fit) over the middle half of each square-wave half period."""
    t, hz = pitch_track(x, SR)
    half = 0.5 / ref.lfo_hz(speed)
    edges = np.sort(np.concatenate([square_transitions(t, hz, base),
                                    square_transitions(t, base ** 2 / hz, base)]))
    highs, lows = [], []
    for a, b in zip(edges[:-1], edges[1:]):
        if b - a < 0.8 * half:
            continue
        seg = x[int((a + 0.25 * (b - a)) * SR):int((b - 0.25 * (b - a)) * SR)]
        f = f0_zero_crossings(seg, SR)
        (highs if f > base else lows).append(f)
    return highs, lows


@pytest.mark.parametrize("pms", [1, 2, 3, 4, 5, 6, 7])
@pytest.mark.parametrize("pmd", [99, 50])
def test_vibrato_depth(pms, pmd):
    # §8.5: square LFO: s = +127 on the high half, -128 on the low half
    speed = 12
    base = ref.ratio_hz(NOTE)
    x = render(lfo_voice(speed, pmd=pmd, pms=pms), note=NOTE, hold=1.6)
    highs, lows = plateau_pitches(x, speed, base)
    assert highs and lows, f"no vibrato plateaus found (PMS {pms}, PMD {pmd})"
    for s, seen in ((127, highs), (-128, lows)):
        want = ref.pitch_mod_cents(ref.pitch_mod_units(s, pmd, pms))
        # tolerance: the EGS pitch quantum (1.17 cent) or 0.5 % of the depth - the sheet's own
        # depth figures take P = 255 where fade * PMD8 >> 8 gives 254 (0.4 %)
        tol = max(1.2, 0.005 * abs(want))
        for f in seen:
            got = ref.cents(f, base)
            assert abs(got - want) < tol, \
                f"PMS {pms} PMD {pmd} LFO {s:+d}: {got:+.2f} cent, §8.5 gives {want:+.2f} cent"


def test_lfo_delay_and_fade_in():
    # §8.3: delay 60 -> no vibrato for the counter's wait, then a 255-tick fade to full depth
    delay, speed = 60, 40
    wait, ramp = ref.lfo_delay_ticks(delay)
    wait_s, full_s = wait / ref.TICK_HZ, (wait + ramp) / ref.TICK_HZ
    base = ref.ratio_hz(NOTE)
    x = render(lfo_voice(speed, pmd=99, pms=6, delay=delay), note=NOTE, hold=full_s + 0.6)
    t, hz = pitch_track(x, SR)
    dev = np.abs([ref.cents(f, base) for f in hz])
    full = abs(ref.pitch_mod_cents(ref.pitch_mod_units(127, 99, 6)))
    early = dev[(t > 0.01) & (t < 0.9 * wait_s)]
    assert early.max() < 1.5, f"vibrato during the delay ({early.max():.1f} cent before {wait_s:.3f} s)"
    late = dev[t > full_s * 1.03]
    assert late.max() > 0.97 * full, f"after the fade the depth is {late.max():.1f} cent, want {full:.1f}"
    mid = dev[(t > wait_s * 1.05) & (t < wait_s + 0.4 * (full_s - wait_s))]
    assert 1.5 < mid.max() < 0.6 * full, \
        f"during the fade ({wait_s:.2f}-{full_s:.2f} s) depth {mid.max():.1f} cent of {full:.1f}"


def note_after_fade_in(v, seconds):
    """Play NOTE 0.2 s after power-on: with LFO delay 0 the fade-in runs once from power-on (the
    delay counter is never reset, §8.3), so by then the LFO is at full depth."""
    s = synth(v, SR)
    s.render(int(0.2 * SR))
    s.note_on(NOTE, 100)
    return s.render(int(seconds * SR))


def test_lfo_key_sync_phase():
    # §8.4: key sync sets the phase to 0x7FFF: a square LFO starts in its negative (low) half
    base = ref.ratio_hz(NOTE)
    x = note_after_fade_in(lfo_voice(10, pmd=99, pms=5), 0.3)
    f = f0_zero_crossings(x[int(0.01 * SR):int(0.15 * SR)], SR)
    want = ref.pitch_mod_cents(ref.pitch_mod_units(-128, 99, 5))
    assert abs(ref.cents(f, base) - want) < max(1.2, 0.005 * abs(want)), \
        f"first LFO half at {ref.cents(f, base):+.1f} cent; key sync should start low ({want:+.1f})"


def test_lfo_fades_in_once_after_power_on_with_delay_zero():
    # §8.3: delay 0 -> 14 ticks of wait and 14 of fade from power-on, then full depth for good
    base = ref.ratio_hz(NOTE)
    x = render(lfo_voice(10, pmd=99, pms=5), note=NOTE, hold=0.3)
    t, hz = pitch_track(x, SR)
    c = np.array([ref.cents(f, base) for f in hz])
    wait, ramp = ref.lfo_delay_ticks(0)
    assert np.all(np.abs(c[t < 0.9 * wait / ref.TICK_HZ]) < 1.5), "vibrato before the power-on fade-in"
    full = abs(ref.pitch_mod_cents(ref.pitch_mod_units(-128, 99, 5)))
    late = c[(t > 1.1 * (wait + ramp) / ref.TICK_HZ) & (t < 0.25)]
    assert np.all(np.abs(np.abs(late) - full) < 0.01 * full + 1.2), "no full depth after the fade-in"


@pytest.mark.parametrize("wave,first_sign", [(0, +1), (1, +1), (2, -1)])
def test_waveform_start_after_key_sync(wave, first_sign):
    # §8.4 key sync (phase 0x7FFF): triangle starts at its top, saw down at +127, saw up at -128.
    base = ref.ratio_hz(NOTE)
    x = note_after_fade_in(lfo_voice(15, pmd=99, pms=5, wave=wave), 0.05)
    f = f0_zero_crossings(x[int(0.002 * SR):int(0.02 * SR)], SR)
    c = ref.cents(f, base)
    assert c * first_sign > 200, f"wave {wave}: starts at {c:+.1f} cent, expected sign {first_sign:+d}"


def level_plateaus(x, speed):
    """RMS level (dB) over the middle half of each square-wave half period, split high/low."""
    half = 0.5 / ref.lfo_hz(speed)
    t, lev = envelope_db(x, SR, 0.002)
    top = lev.max()
    loud = lev > top - 0.05 - 0.5 * (top - np.percentile(lev, 5))
    segs_hi, segs_lo = [], []
    change = np.nonzero(loud[1:] != loud[:-1])[0]
    bounds = np.concatenate([[0], change + 1, [lev.size]])
    for a, b in zip(bounds[:-1], bounds[1:]):
        if (b - a) * 0.002 < 0.8 * half:
            continue
        m = lev[a + (b - a) // 4:b - (b - a) // 4]
        (segs_hi if loud[a] else segs_lo).append(float(np.mean(m)))
    return segs_hi, segs_lo


@pytest.mark.parametrize("amd", [99, 90, 80, 50, 20])
@pytest.mark.parametrize("ams", [1, 2, 3])
def test_amplitude_modulation_depth(amd, ams):
    # §8.6: AM is unipolar, deepest at the LFO's negative peak; AMS scales it by {0,66,109,255}/255
    # (the fact sheet's recommendation for the [UNKNOWN] EGS rule). Tolerance 0.15 dB: the AM
    # register is exact; one µstep is 0.024 dB; the plateau RMS is exact to < 0.02 dB.
    speed = 12
    x = render(lfo_voice(speed, amd=amd, ams=ams, coarse=4), note=NOTE, hold=1.6)
    hi, lo = level_plateaus(x, speed)
    want = ref.am_attenuation_db(-128, amd, ams)
    assert hi and lo, f"no AM plateaus found (AMD {amd}, AMS {ams})"
    full = 20 * math.log10(0.25)
    for h in hi:
        assert abs(h - full) < 0.15, f"AM high half at {h - full:.2f} dB, want 0 (unipolar AM)"
    for lv in lo:
        assert abs((full - lv) - want) < 0.15, \
            f"AMD {amd} AMS {ams}: {full - lv:.2f} dB deep, §8.6 gives {want:.2f} dB"


def test_ams_zero_is_immune_to_am():
    x = render(lfo_voice(30, amd=99, ams=0, coarse=4), note=NOTE, hold=0.8)
    t, lev = envelope_db(x[int(0.02 * SR):], SR, 0.005)
    assert lev.max() - lev.min() < 0.1, f"AMS 0 operator level varies by {lev.max() - lev.min():.2f} dB"


def test_triangle_vibrato_is_symmetric_ramp():
    # triangle: pitch moves linearly between the two extremes
    speed = 15
    base = ref.ratio_hz(NOTE)
    x = render(lfo_voice(speed, pmd=99, pms=5, wave=0), note=NOTE, hold=1.2)
    t, hz = pitch_track(x, SR)
    c = np.array([ref.cents(f, base) for f in hz])
    hi = ref.pitch_mod_cents(ref.pitch_mod_units(127, 99, 5))
    lo = ref.pitch_mod_cents(ref.pitch_mod_units(-128, 99, 5))
    assert abs(c.max() - hi) < 0.05 * hi + 3, f"triangle peak {c.max():.1f} cent, want {hi:.1f}"
    assert abs(c.min() - lo) < 0.05 * abs(lo) + 3, f"triangle trough {c.min():.1f} cent, want {lo:.1f}"
    # fraction of time spent in the middle third equals a third for a triangle (a square gives 0)
    mid = np.mean(np.abs(c) < hi / 3)
    assert 0.25 < mid < 0.42, f"triangle spends {mid:.2f} of the time in the middle third"
