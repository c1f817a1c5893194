"""LFO from rendered audio: rate, vibrato depth per PMS/PMD, delay, amplitude modulation per AMD/AMS
(DX7-FACTS §8.1-8.6)."""
import math

import numpy as np
import pytest

import support.dx7_reference as ref
from support.audio_analysis import envelope_db, f0_zero_crossings, pitch_track, rising_edges, rms
from support.engine_voices import render, set_op, set_voice, single_carrier, synth

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


def test_lfo_delay_restarts_on_every_key_on_in_poly():
    # §8.3: in poly mode every key-on restarts the delay (delay != 0) of the one global LFO, so
    # a held note's vibrato stops when another key goes down.
    delay = 60
    wait, ramp = ref.lfo_delay_ticks(delay)
    v = lfo_voice(40, pmd=99, pms=6, delay=delay)
    set_op(v, 1, rates=(99, 99, 99, 99))
    s = synth(v, SR)
    s.note_on(NOTE, 100)
    s.render(int(((wait + ramp) / ref.TICK_HZ + 0.3) * SR))
    base = ref.ratio_hz(NOTE)
    full = s.render(SR // 4)
    t, hz = pitch_track(full, SR)
    dev = np.abs([ref.cents(f, base) for f in hz])
    assert dev.max() > 100, "no vibrato before the second key"
    s.note_on(NOTE + 12, 100)
    s.note_off(NOTE + 12, 48)                      # a short blip: its rate-99 release is over in ms
    x = s.render(int(0.8 * wait / ref.TICK_HZ * SR))
    t, hz = pitch_track(x[SR // 50:], SR)
    dev = np.abs([ref.cents(f, base) for f in hz])
    assert dev.max() < 1.5, f"vibrato ({dev.max():.1f} cent) during the delay restarted by a key-on"


def test_sample_and_hold_sequence():
    # §8.4 wave 5: a new value on each LFO cycle, r = (r * 179 + 0x11) & 0xFF, output int8(r)
    speed = 25
    x = note_after_fade_in(lfo_voice(speed, pmd=99, pms=7, wave=5), 2.4)
    base = ref.ratio_hz(NOTE)
    t, hz = pitch_track(x, SR)
    c = np.array([ref.cents(f, base) for f in hz])
    # plateaus: runs where the pitch stays within 3 cent
    period = 1 / ref.lfo_hz(speed)
    breaks = np.nonzero(np.abs(np.diff(c)) > 3)[0] + 1
    bounds = np.concatenate([[0], breaks, [c.size]])
    values = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        if t[b - 1] - t[a] > 0.6 * period:
            values.append(float(np.median(c[a:b])))
    assert len(values) >= 6, f"only {len(values)} S&H steps found"
    table = {s: ref.pitch_mod_cents(ref.pitch_mod_units(s, 99, 7)) for s in range(-128, 128)}
    cands = [{s & 0xFF for s, cc in table.items() if abs(cc - v) < 3} for v in values]
    assert all(cands), f"S&H levels {np.round(values, 1)} do not match any LFO output value"
    for n in range(len(cands) - 1):
        assert any(((r * 179 + 0x11) & 0xFF) in cands[n + 1] for r in cands[n]), \
            f"S&H step {n}: {values[n]:+.1f} -> {values[n + 1]:+.1f} cent does not follow " \
            f"r' = (179 r + 17) mod 256"


def test_am_is_deepest_at_the_lfo_negative_peak():
    # §8.6: u = 127 - s: no attenuation at the LFO's positive peak, most at its negative peak
    # (Dexed #124 had it inverted). Key sync starts a square LFO in its negative half, so the first
    # half period after key-on is the quiet one.
    speed = 12
    x = note_after_fade_in(lfo_voice(speed, amd=99, ams=3, coarse=4), 0.6)
    half = 0.5 / ref.lfo_hz(speed)
    first = rms(x[int(0.2 * half * SR):int(0.8 * half * SR)])
    second = rms(x[int(1.2 * half * SR):int(1.8 * half * SR)])
    want = ref.am_attenuation_db(-128, 99, 3)
    got = 20 * math.log10(second / first)
    assert abs(got - want) < 0.3, \
        f"second half {got:+.1f} dB over the first; the first (negative LFO) half should be {want:.1f} dB down"
