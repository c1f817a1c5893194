"""The same sound at every sample rate: pitch, envelope speed and LFO rate do not depend on the
output rate (the EG model is per DX7 sample, scaled by 49096/fs; the LFO runs at the CPU tick)."""
import numpy as np
import pytest

import support.dx7_reference as ref
from support.audio_analysis import envelope_db, f0_zero_crossings, pitch_track, rising_edges, slope_between
from support.engine_voices import render, set_op, set_voice, single_carrier

RATES = [22050, 44100, 48000, 49096, 96000]


@pytest.mark.parametrize("sr", RATES)
def test_pitch(sr):
    for note in (33, 69, 96):
        got = f0_zero_crossings(render(single_carrier(), note=note, hold=0.3, sr=sr)[sr // 30:], sr)
        want = ref.ratio_hz(note)
        assert abs(ref.cents(got, want)) < 0.3, f"{sr} Hz note {note}: {got:.3f}, want {want:.3f}"


@pytest.mark.parametrize("sr", RATES)
def test_decay_slope(sr):
    v = single_carrier(ratio_coarse=2)
    set_op(v, 1, rates=(99, 55, 99, 99), levels=(99, 0, 0, 0))
    want = ref.decay_db_per_s(ref.qrate(55))
    x = render(v, note=69, hold=0.7, sr=sr)
    t, lev = envelope_db(x, sr, 0.005)
    got = -slope_between(t, lev - 20 * np.log10(0.25), -3, -45)
    assert abs(got / want - 1) < 0.02, f"{sr} Hz: {got:.2f} dB/s, model {want:.2f}"


@pytest.mark.parametrize("sr", RATES)
def test_lfo_rate(sr):
    speed = 60
    v = set_voice(single_carrier(ratio_coarse=2), lfo_speed=speed, lfo_wave=3, pmd=99, pms=4)
    x = render(v, note=69, hold=1.5, sr=sr)
    t, hz = pitch_track(x, sr)
    base = ref.ratio_hz(69, coarse=2)
    edges = rising_edges(t, 1200 * np.log2(hz / base))
    got = 1 / np.polyfit(np.arange(edges.size), edges, 1)[0]
    want = ref.lfo_hz(speed)
    assert abs(got / want - 1) < 0.0025, f"{sr} Hz: LFO {got:.4f} Hz, want {want:.4f}"
